package openidclient

import (
	"net/http"
	"strings"
	"testing"

	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
)

func TestPinnedVersion6(t *testing.T) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, "../package.json", &pkg)
	if got, want := pkg.Dependencies["openid-client-6"], "npm:openid-client@"+PinnedVersion6; got != want {
		t.Errorf("package.json pins openid-client-6 %q, want exactly %q", got, want)
	}
	var lock struct {
		Packages map[string]struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"packages"`
	}
	readJSON(t, "../package-lock.json", &lock)
	if got := lock.Packages["node_modules/openid-client-6"]; got.Name != "openid-client" || got.Version != PinnedVersion6 {
		t.Errorf("package-lock.json has openid-client-6 = %+v, want openid-client %s", got, PinnedVersion6)
	}
}

// TestV6DiscoverRegisterToken runs openid-client 6 against node-oidc-provider
// itself (its own registration): discovery, registration, a token with the
// registered credentials; a server whose certificate is not from the given
// CA is refused.
func TestV6DiscoverRegisterToken(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{})
	md := map[string]any{"grant_types": []string{"client_credentials"}, "response_types": []string{}, "token_endpoint_auth_method": "client_secret_basic"}
	r := RegisterV6(t, p.URL, [][]byte{p.CAPEM}, "", md, true, "")
	if !r.OK {
		t.Fatalf("openid-client 6: %s at %s (%d %s)", r.Error, r.Step, r.Status, r.OAuthError)
	}
	if r.Discovered.Issuer != p.URL || r.Discovered.RegistrationEndpoint != p.URL+"/reg" || r.Token == nil || !strings.EqualFold(r.Token.TokenType, "bearer") {
		t.Fatalf("unexpected result: discovered %+v, token %+v", r.Discovered, r.Token)
	}
	if r.ClientID() == "" || r.ClientSecret() == "" {
		t.Fatal("no client_id or client_secret registered")
	}
	if st, body, err := p.ClientCredentialsToken(t.Context(), r.ClientID(), r.ClientSecret()); err != nil || st != http.StatusOK {
		t.Fatalf("token with the registered credentials: %d %s %v", st, body, err)
	}

	// Only the given CA is trusted.
	other := oidcprovider.Start(t, oidcprovider.Options{})
	if r := RegisterV6(t, p.URL, [][]byte{other.CAPEM}, "", md, false, ""); r.OK || r.Step != "discovery" || r.Code == "" {
		t.Fatal("a server with an untrusted certificate was accepted")
	}
}
