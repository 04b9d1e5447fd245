package stateless

import (
	"context"
	"fmt"
	"time"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/registrar/dcr"
)

// discoveryTimeout bounds one discovery of the authorization server.
const discoveryTimeout = 10 * time.Second

// userAgent identifies the operator to authorization servers.
const userAgent = "clientreg (+https://github.com/clientreg/clientreg)"

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
	newRegistrar := b.NewRegistrar
	if newRegistrar == nil {
		newRegistrar = func(c dcr.Config) (dcr.Registrar, error) { return dcr.NewClient(c) }
	}
	reg, err := newRegistrar(dcr.Config{CABundle: as.CABundle, Timeout: discoveryTimeout, UserAgent: userAgent})
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
	return out, nil
}
