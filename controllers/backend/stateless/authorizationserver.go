package stateless

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/registrar/dcr"
)

// discoveryTimeout bounds one discovery of the authorization server.
const discoveryTimeout = 10 * time.Second

// AuthorizationServerEndpoints are the endpoints of the authorization server
// that accepts a stateless server's client ids.
type AuthorizationServerEndpoints struct {
	Authorization, Token string
	// Discovered is true when any of them came from the issuer's metadata.
	Discovered bool
}

// AuthorizationServer returns the endpoints of the authorization server named
// by spec.stateless.authorizationServer: those the spec gives, the others
// from the metadata of spec.stateless.issuer (OpenID Connect Discovery, then
// RFC 8414, with the spec's caBundle). It returns nil, nil when the spec names
// none. A discovery failure is a TransientError with ReasonDiscoveryFailed.
func (b *Backend) AuthorizationServer(ctx context.Context, server oauthv1alpha1.ServerObject) (*AuthorizationServerEndpoints, error) {
	st := server.GetSpec().Stateless
	if st == nil || st.AuthorizationServer == nil {
		return nil, nil
	}
	as := st.AuthorizationServer
	out := &AuthorizationServerEndpoints{Authorization: string(as.AuthorizationEndpoint), Token: string(as.TokenEndpoint)}
	if out.Authorization != "" && out.Token != "" {
		return out, nil
	}
	now := time.Now()
	if b.Clock != nil {
		now = b.Clock.Now()
	}
	b.mu.Lock()
	cached, ok := b.discovered[server.GetUID()]
	b.mu.Unlock()
	if ok && cached.generation == server.GetGeneration() && now.Before(cached.at.Add(discoveryTTL)) {
		return cached.endpoints, nil
	}
	reg, err := backend.NewRegistrar(b.NewRegistrar, dcr.Config{CABundle: as.CABundle, Timeout: discoveryTimeout, UserAgent: backend.UserAgent})
	if err != nil {
		return nil, backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "spec.stateless.authorizationServer.caBundle: %v", err)
	}
	md, err := reg.Discover(ctx, st.Issuer)
	if err != nil {
		return nil, backend.Transient(oauthv1alpha1.ReasonDiscoveryFailed, fmt.Errorf("discovering the authorization server %s: %w", st.Issuer, err))
	}
	if out.Authorization == "" {
		out.Authorization = md.AuthorizationEndpoint
	}
	if out.Token == "" {
		out.Token = md.TokenEndpoint
	}
	out.Discovered = true
	b.mu.Lock()
	if b.discovered == nil {
		b.discovered = map[types.UID]discovery{}
	}
	b.discovered[server.GetUID()] = discovery{generation: server.GetGeneration(), at: now, endpoints: out}
	b.mu.Unlock()
	return out, nil
}

// discoveryTTL is how long discovered endpoints are used before the
// issuer's metadata is read again (the server reconciler looks hourly).
const discoveryTTL = 55 * time.Minute

// discovery is the cached result for one generation of a server.
type discovery struct {
	generation int64
	at         time.Time
	endpoints  *AuthorizationServerEndpoints
}
