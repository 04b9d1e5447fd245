package dynamic

// The server half of the dynamic backend: a server is Ready when its
// registration endpoint answers.

import (
	"context"

	"k8s.io/apimachinery/pkg/types"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// ReconcileServer resolves the server's endpoints (discovery, cached and
// refreshed on failure) and is Ready only when the registration endpoint
// answers. It looks again every resync interval.
func (b *Backend) ReconcileServer(ctx context.Context, obj oauthv1alpha1.ServerObject) (backend.ServerResult, error) {
	spec, st := obj.GetSpec().DynamicRegistration, obj.GetStatus()
	st.Issuer = string(spec.IssuerURL)
	info, err := b.Probe(ctx, obj)
	if err != nil {
		return backend.ServerResult{}, backend.WithReason(err, oauthv1alpha1.ReasonServerUnavailable)
	}
	st.RegistrationEndpoint, st.TokenEndpoint, st.AuthorizationEndpoint = info.RegistrationEndpoint, info.TokenEndpoint, info.AuthorizationEndpoint
	return backend.ServerResult{
		Ready:        "registration endpoint " + info.RegistrationEndpoint + " answers",
		RequeueAfter: spec.EffectiveResyncInterval(),
	}, nil
}

// ForgetServer drops the cached clients of a deleted server.
func (b *Backend) ForgetServer(uid types.UID) { b.Forget(uid) }

// ServerSecrets names the initial access token and software statement Secrets.
func (b *Backend) ServerSecrets(obj oauthv1alpha1.ServerObject, clusterNS string) []backend.ServerSecret {
	d := obj.GetSpec().DynamicRegistration
	var out []backend.ServerSecret
	for _, s := range []struct {
		what string
		ref  *oauthv1alpha1.SecretKeySelector
	}{{"initial access token", d.InitialAccessToken}, {"software statement", d.SoftwareStatement}} {
		if s.ref != nil {
			ns := oauthv1alpha1.ReferencedNamespace(obj, s.ref.Namespace, clusterNS)
			out = append(out, backend.ServerSecret{Description: s.what + " Secret " + ns + "/" + s.ref.Name, NamespacedName: types.NamespacedName{Namespace: ns, Name: s.ref.Name}})
		}
	}
	return out
}

// Keeps reports whether stored names a registration at a remote server: its
// registration client URI, token and CA bundle delete it, whatever the
// server object says now (gone, or made again with another backend).
func (b *Backend) Keeps(stored *backend.Credentials) bool {
	return stored != nil && stored.RegistrationClientURI != ""
}

// CheckIssue cannot tell without registering: only the server decides.
func (b *Backend) CheckIssue(context.Context, oauthv1alpha1.ServerObject, *metadata.Metadata) error {
	return nil
}

// ConfigureEndpoint adds nothing: the endpoint of a dynamic server stores
// registrations (Stateful) and points clients at the upstream server's
// endpoints from status.
func (b *Backend) ConfigureEndpoint(context.Context, oauthv1alpha1.ServerObject, *endpoint.Server) error {
	return nil
}
