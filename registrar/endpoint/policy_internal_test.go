package endpoint

import (
	"slices"
	"testing"

	"github.com/clientreg/clientreg/registrar/metadata"
)

// TestMetadataPolicyNarrowsTheClientPolicy: the endpoint registers only what
// both the server's client policy and its registration policy allow; it
// never widens the client policy (which its lists used to replace), keeps
// the client policy's other settings, and publishes the same lists in
// discovery.
func TestMetadataPolicyNarrowsTheClientPolicy(t *testing.T) {
	srv := &Server{
		OIDC: true,
		ClientPolicy: metadata.Policy{
			SupportedGrantTypes:      []string{metadata.GrantAuthorizationCode, metadata.GrantClientCredentials, metadata.GrantRefreshToken},
			SupportedAuthMethods:     []string{metadata.AuthPrivateKeyJWT, metadata.AuthClientSecretBasic},
			SupportedResponseTypes:   []string{"code"},
			AllowPrivateFetchTargets: true,
		},
		Policy: Policy{
			AllowedGrantTypes:  []string{metadata.GrantClientCredentials, metadata.GrantImplicit, metadata.GrantAuthorizationCode},
			AllowedAuthMethods: []string{metadata.AuthClientSecretBasic, metadata.AuthNone},
		},
	}
	p := srv.MetadataPolicy()
	if want := []string{metadata.GrantClientCredentials, metadata.GrantAuthorizationCode}; !slices.Equal(p.SupportedGrantTypes, want) {
		t.Errorf("grant types %v, want %v (implicit and refresh_token are each allowed by one policy only)", p.SupportedGrantTypes, want)
	}
	if want := []string{metadata.AuthClientSecretBasic}; !slices.Equal(p.SupportedAuthMethods, want) {
		t.Errorf("auth methods %v, want %v", p.SupportedAuthMethods, want)
	}
	if want := []string{"code"}; !slices.Equal(p.SupportedResponseTypes, want) {
		t.Errorf("response types %v, want %v", p.SupportedResponseTypes, want)
	}
	if !p.OIDC || !p.AllowPrivateFetchTargets {
		t.Errorf("OIDC %v, AllowPrivateFetchTargets %v: want both kept", p.OIDC, p.AllowPrivateFetchTargets)
	}
	c := capabilitiesOf(srv)
	if !slices.Equal(c.grantTypes, p.SupportedGrantTypes) || !slices.Equal(c.authMethods, p.SupportedAuthMethods) || !slices.Equal(c.responseTypes, p.SupportedResponseTypes) {
		t.Errorf("discovery publishes %v %v %v, registration enforces %v %v %v",
			c.grantTypes, c.authMethods, c.responseTypes, p.SupportedGrantTypes, p.SupportedAuthMethods, p.SupportedResponseTypes)
	}

	// Nil lists in the client policy are no limit: the registration policy
	// alone decides, as before.
	srv.ClientPolicy = metadata.Policy{}
	p = srv.MetadataPolicy()
	if want := []string{metadata.GrantClientCredentials, metadata.GrantImplicit, metadata.GrantAuthorizationCode}; !slices.Equal(p.SupportedGrantTypes, want) {
		t.Errorf("without client policy lists: grant types %v, want %v", p.SupportedGrantTypes, want)
	}
}
