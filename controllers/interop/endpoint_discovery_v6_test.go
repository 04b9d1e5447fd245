package interop

import (
	"testing"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
	"github.com/clientreg/clientreg/hack/interop/openidclient"
)

// openid-client 6, whose discovery() is strict (https only, the issuer must
// match, a malformed document is refused), accepts every discovery document
// the embedded endpoint serves, and registers where it says: a stateless
// server that names its authorization server, in both storage modes, and a
// dynamic server whose endpoints come from node-oidc-provider's metadata.
// (A server whose authorization server is unknown serves no document:
// TestEndpointWithOpenIDClient.)
func TestEndpointDocumentsPassOpenIDClient6(t *testing.T) {
	e := startEndpoint(t)
	p := oidcprovider.Start(t, oidcprovider.Options{})
	ns := newNamespace(t)
	named := func(storage oauthv1alpha1.RegistrationStorage) serverMod {
		return func(s *oauthv1alpha1.AuthorizationServer) {
			s.Spec.RegistrationEndpoint.Storage = storage
			s.Spec.Stateless.AuthorizationServer = &oauthv1alpha1.StatelessAuthorizationServer{
				AuthorizationEndpoint: "https://idp.example/authorize", TokenEndpoint: "https://idp.example/token"}
		}
	}
	dyn := dynamicServer(ns, "dynamic", p, func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.RegistrationEndpoint = &oauthv1alpha1.RegistrationEndpoint{Open: true}
	})
	for _, srv := range []*oauthv1alpha1.AuthorizationServer{
		endpointServer(ns, "stateful", named(oauthv1alpha1.StorageStateful)),
		endpointServer(ns, "stateless", named(oauthv1alpha1.StorageStateless)),
		dyn,
	} {
		t.Run(srv.Name, func(t *testing.T) {
			create(t, srv)
			issuer := waitEndpointIssuer(t, srv)
			res := openidclient.RegisterV6(t, issuer, [][]byte{e.caPEM}, "", map[string]any{
				"redirect_uris": []string{"https://app.example/cb"}, "client_name": "openid-client 6",
				"grant_types": []string{"client_credentials"}, "response_types": []string{},
			}, false, "")
			if !res.OK {
				t.Fatalf("openid-client 6 refused: %+v", res)
			}
			if res.Discovered.Issuer != issuer || res.Discovered.RegistrationEndpoint != issuer+"/register" || res.Discovered.TokenEndpoint == "" {
				t.Fatalf("discovered %+v", res.Discovered)
			}
			if res.ClientID() == "" {
				t.Fatal("no client_id registered")
			}
		})
	}
}
