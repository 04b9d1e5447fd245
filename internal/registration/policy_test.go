package registration

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// issuingBackend is a dynamic-like backend that issues its clients' keys, so
// backend.ClientPolicy sets ServerIssuesKeys for it.
type issuingBackend struct{ backend.Backend }

func (issuingBackend) IssuesClientKeys() bool { return true }

func (issuingBackend) ConfigureEndpoint(context.Context, oauthv1alpha1.ServerObject, *endpoint.Server) error {
	return nil
}

// TestEndpointPolicyIsTheClientPolicy: the endpoint validates and defaults
// with the one per-server derivation (backend.ClientPolicy of the manager's
// policy), narrowed to the server's registration policy, and the store
// defaults what it reads back with the same policy. It used to build its own
// policy (OIDC and the narrowed lists only, the manager's policy and the
// backend's part dropped) and the store another one (client_secret_basic
// whatever the server allows).
func TestEndpointPolicyIsTheClientPolicy(t *testing.T) {
	ctx := context.Background()
	as := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "idp", UID: "uid-idp"},
		Spec: oauthv1alpha1.AuthorizationServerSpec{
			DynamicRegistration: &oauthv1alpha1.DynamicRegistration{IssuerURL: "https://idp.example"},
			RegistrationEndpoint: &oauthv1alpha1.RegistrationEndpoint{Storage: oauthv1alpha1.StorageStateful, Open: true,
				Policy: &oauthv1alpha1.RegistrationPolicy{AllowedAuthMethods: []string{metadata.AuthClientSecretPost, metadata.AuthNone}}},
		},
	}
	oc := &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "reg-1", Labels: serverLabels(as)},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:    oauthv1alpha1.ServerReference{Name: "idp"},
			SecretName:   "reg-1",
			RedirectURIs: []oauthv1alpha1.RedirectURI{"https://app.example/cb"},
		},
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "reg-1"},
		Data: map[string][]byte{oc.SecretKeyNames().ClientID: []byte("client-1")}}
	c := fake.NewClientBuilder().WithScheme(testutil.Scheme()).WithObjects(as, oc, sec).Build()
	res := &Resolver{Client: c, APIReader: c, BaseURL: "https://reg.example",
		Backends: new(backend.Registry).MustRegister(oauthv1alpha1.MemberDynamicRegistration, issuingBackend{}),
		Policy:   metadata.Policy{AllowPrivateFetchTargets: true, AllowLocalhostName: true}}
	srv, err := res.Lookup(ctx, ServerPath(as))
	if err != nil {
		t.Fatal(err)
	}
	p := srv.MetadataPolicy()
	if !p.AllowPrivateFetchTargets || !p.AllowLocalhostName {
		t.Errorf("the manager's policy is lost at the endpoint: %+v", p)
	}
	if !p.ServerIssuesKeys {
		t.Error("the backend's part of the client policy (ServerIssuesKeys) is lost at the endpoint")
	}
	if !p.OIDC || !slices.Equal(p.SupportedAuthMethods, []string{metadata.AuthClientSecretPost, metadata.AuthNone}) {
		t.Errorf("the endpoint's own narrowing is lost: OIDC %v, auth methods %v", p.OIDC, p.SupportedAuthMethods)
	}

	store := &Store{Client: c, APIReader: c, Resolver: res}
	reg, err := store.Get(ctx, srv, "reg-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.Metadata.TokenEndpointAuthMethod; got != metadata.AuthClientSecretPost {
		t.Errorf("read back token_endpoint_auth_method = %q, want the server's default %q", got, metadata.AuthClientSecretPost)
	}
	if got := reg.Metadata.ApplicationType; got != metadata.ApplicationTypeWeb {
		t.Errorf("read back application_type = %q, want the OIDC default %q", got, metadata.ApplicationTypeWeb)
	}
}
