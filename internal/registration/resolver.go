// Package registration is the Kubernetes side of the embedded registration
// endpoint (package registrar/endpoint): a Resolver that turns server
// objects with spec.registrationEndpoint into endpoint configurations, and a
// Store that keeps Stateful registrations as OAuthClient objects, so that
// kubectl, GitOps and the reconciler all see them.
package registration

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// Path prefixes of the two server kinds under the endpoint's base URL.
const (
	ClusterPrefix    = "/clusters/"
	NamespacedPrefix = "/namespaces/"
)

// ServerPath returns the path of a server's endpoint under the base URL.
func ServerPath(s oauthv1alpha1.ServerObject) string {
	if s.ServerKind() == oauthv1alpha1.KindClusterAuthorizationServer {
		return ClusterPrefix + s.GetName()
	}
	return NamespacedPrefix + s.GetNamespace() + "/" + s.GetName()
}

// Resolver resolves request paths to enabled servers. Configurations are
// cached briefly, so a request does not read Secrets every time.
type Resolver struct {
	// Client reads server objects and key Secrets (the manager's cache).
	Client client.Reader
	// APIReader reads the initial access token Secrets (the user's, uncached).
	APIReader client.Reader
	// BaseURL is the endpoint's external URL, without a trailing slash.
	BaseURL                  string
	ClusterResourceNamespace string
	Clock                    clock.PassiveClock
	// TTL bounds how long a resolved configuration is reused (default 5s).
	TTL time.Duration
	// Backends give the endpoint what it needs from a server's backend
	// (ConfigureEndpoint), and check a registration before it is stored.
	Backends *backend.Registry
	// Policy is the manager's metadata policy; each server's clients are
	// validated with backend.ClientPolicy of it, here as in the reconciler
	// and the webhook.
	Policy metadata.Policy

	mu    sync.Mutex
	cache map[string]cachedServer
}

type cachedServer struct {
	server  *endpoint.Server
	version string
	expires time.Time
}

var _ endpoint.Resolver = (*Resolver)(nil)

// parsePath finds the server object a path names.
func parsePath(path string) (kind oauthv1alpha1.ServerKind, ns, name string, ok bool) {
	path = strings.TrimPrefix(path, "/.well-known/oauth-authorization-server")
	switch {
	case strings.HasPrefix(path, ClusterPrefix):
		parts := strings.SplitN(strings.TrimPrefix(path, ClusterPrefix), "/", 2)
		return oauthv1alpha1.KindClusterAuthorizationServer, "", parts[0], parts[0] != ""
	case strings.HasPrefix(path, NamespacedPrefix):
		parts := strings.SplitN(strings.TrimPrefix(path, NamespacedPrefix), "/", 3)
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return "", "", "", false
		}
		return oauthv1alpha1.KindAuthorizationServer, parts[0], parts[1], true
	}
	return "", "", "", false
}

// object reads the server object a path names.
func (r *Resolver) object(ctx context.Context, kind oauthv1alpha1.ServerKind, ns, name string) (oauthv1alpha1.ServerObject, error) {
	obj, key := oauthv1alpha1.ServerFor(oauthv1alpha1.ServerReference{Kind: kind, Name: name}, ns)
	if err := r.Client.Get(ctx, key, obj.(client.Object)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, endpoint.ErrNoServer
		}
		return nil, fmt.Errorf("reading %s %s: %w", kind, name, err)
	}
	if obj.GetSpec().RegistrationEndpoint == nil || !obj.GetDeletionTimestamp().IsZero() {
		return nil, endpoint.ErrNoServer
	}
	return obj, nil
}

// Lookup returns the endpoint configuration of the server a path names.
func (r *Resolver) Lookup(ctx context.Context, path string) (*endpoint.Server, error) {
	kind, ns, name, ok := parsePath(path)
	if !ok {
		return nil, endpoint.ErrNoServer
	}
	obj, err := r.object(ctx, kind, ns, name)
	if err != nil {
		return nil, err
	}
	now := r.now()
	key := string(kind) + "/" + ns + "/" + name
	// The resourceVersion, not the generation: what is built depends on the
	// status too (the authorization server's endpoints).
	version := string(obj.GetUID()) + "/" + obj.GetResourceVersion()
	r.mu.Lock()
	if c, ok := r.cache[key]; ok && c.version == version && now.Before(c.expires) {
		r.mu.Unlock()
		return c.server, nil
	}
	r.mu.Unlock()
	srv, err := r.build(ctx, obj)
	if err != nil {
		return nil, err
	}
	ttl := r.TTL
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	r.mu.Lock()
	if r.cache == nil {
		r.cache = map[string]cachedServer{}
	}
	r.cache[key] = cachedServer{server: srv, version: version, expires: now.Add(ttl)}
	r.mu.Unlock()
	return srv, nil
}

func (r *Resolver) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

// errMisconfigured marks a server whose endpoint cannot be served as configured.
var errMisconfigured = backend.ErrEndpointMisconfigured

// build turns a server object into an endpoint configuration.
func (r *Resolver) build(ctx context.Context, obj oauthv1alpha1.ServerObject) (*endpoint.Server, error) {
	spec := obj.GetSpec()
	re := spec.RegistrationEndpoint
	path := ServerPath(obj)
	srv := &endpoint.Server{
		Path:           path,
		Issuer:         r.BaseURL + path,
		Storage:        endpoint.Storage(re.Storage),
		Open:           re.Open,
		OIDC:           true,
		RotateOnRead:   re.RotateRegistrationAccessToken == "OnRead" || re.RotateRegistrationAccessToken == "OnReadAndUpdate",
		RotateOnUpdate: re.RotateRegistrationAccessToken == "OnUpdate" || re.RotateRegistrationAccessToken == "OnReadAndUpdate",
	}
	if srv.Storage == "" {
		srv.Storage = endpoint.Storage(oauthv1alpha1.StorageStateful)
	}
	if p := re.Policy; p != nil {
		srv.Policy = endpoint.Policy{AllowedRedirectHosts: p.AllowedRedirectHosts, AllowedGrantTypes: p.AllowedGrantTypes, AllowedAuthMethods: p.AllowedAuthMethods,
			MaxClients: int(p.MaxClients), SingleInstanceSoftwareIDs: p.SingleInstanceSoftwareIDs}
		if rl := p.RateLimit; rl != nil {
			srv.Policy.RateLimit = endpoint.RateLimit{PerMinute: int(rl.RegistrationsPerMinute), Burst: int(rl.Burst)}
		}
	}
	if len(re.SoftwareStatementIssuers) > 0 {
		srv.SoftwareStatementIssuers = map[string]jose.JSONWebKeySet{}
		for _, iss := range re.SoftwareStatementIssuers {
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(iss.JWKS.Raw, &set); err != nil {
				return nil, fmt.Errorf("%w: softwareStatementIssuers[%s].jwks: %v", errMisconfigured, iss.Issuer, err)
			}
			srv.SoftwareStatementIssuers[iss.Issuer] = set
		}
	}
	if !re.Open && re.InitialAccessTokens != nil {
		hashes, err := r.tokenHashes(ctx, obj, re.InitialAccessTokens)
		if err != nil {
			return nil, err
		}
		srv.InitialAccessTokenHashes = hashes
	}
	be, err := r.Backends.For(obj)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMisconfigured, err)
	}
	srv.ClientPolicy = backend.ClientPolicy(be, r.Policy)
	if err := be.ConfigureEndpoint(ctx, obj, srv); err != nil {
		return nil, err
	}
	// Clients registered here get their tokens from the authorization
	// server: the upstream one of a dynamic server, the one named by
	// spec.stateless.authorizationServer of a stateless one.
	srv.AuthorizationEndpoint = obj.GetStatus().AuthorizationEndpoint
	srv.TokenEndpoint = obj.GetStatus().TokenEndpoint
	if srv.Keys == nil && srv.Storage == endpoint.StorageStateless {
		return nil, fmt.Errorf("%w: Stateless storage needs a stateless server", errMisconfigured)
	}
	if srv.Storage == endpoint.StorageStateless && len(srv.Policy.SingleInstanceSoftwareIDs) > 0 {
		// Nothing is stored, so there is nothing to compare with (SEC-08).
		return nil, fmt.Errorf("%w: policy.singleInstanceSoftwareIDs needs Stateful storage", errMisconfigured)
	}
	return srv, nil
}

// tokenHashes reads the initial access tokens Secret; every data value is a token.
func (r *Resolver) tokenHashes(ctx context.Context, obj oauthv1alpha1.ServerObject, ref *oauthv1alpha1.SecretReference) ([][32]byte, error) {
	ns := oauthv1alpha1.ReferencedNamespace(obj, ref.Namespace, r.ClusterResourceNamespace)
	if ref.Namespace != "" && ref.Namespace != ns {
		return nil, fmt.Errorf("%w: initialAccessTokens must be in the server's namespace", errMisconfigured)
	}
	sec := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, sec); err != nil {
		return nil, fmt.Errorf("reading the initial access tokens Secret %s/%s: %w", ns, ref.Name, err)
	}
	var out [][32]byte
	for _, v := range sec.Data {
		if len(v) < 32 {
			continue // too weak to accept (RFC 6749 §10.10)
		}
		out = append(out, sha256.Sum256(v))
	}
	return out, nil
}
