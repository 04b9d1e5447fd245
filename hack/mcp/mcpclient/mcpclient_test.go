package mcpclient

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
	"github.com/clientreg/clientreg/internal/cimdtest"
	"github.com/clientreg/clientreg/internal/josetest"
)

// peer is node-oidc-provider with client ID metadata documents, fetched from
// a document server for clients.test.
type peer struct {
	docs *oidcprovider.DocumentServer
	as   *oidcprovider.Provider
}

func startPeer(t *testing.T) *peer {
	t.Helper()
	oidcprovider.RequireNode(t)
	ds := oidcprovider.StartDocumentServer(t, "clients.test")
	cfg := ds.CIMD()
	cfg.CacheMin, cfg.CacheMax = time.Second, time.Minute
	return &peer{docs: ds, as: oidcprovider.Start(t, oidcprovider.Options{ClientIDMetadataDocument: cfg, DisableRegistration: true})}
}

func (p *peer) options(mode Mode, clientID string) Options {
	return Options{
		Mode:     mode,
		ClientID: clientID,
		Issuer:   p.as.URL,
		CAPEM:    p.as.CAPEM,
		RegisterResource: func(ctx context.Context, resourceURL, scope string) error {
			return p.as.AddResource(ctx, oidcprovider.Resource{URL: resourceURL, Scope: scope})
		},
		Timeout: 45 * time.Second,
	}
}

func (p *peer) setDoc(t *testing.T, path string, doc map[string]any) {
	t.Helper()
	if err := p.docs.SetJSON(path, doc, "max-age=60"); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, opts Options) *Result {
	t.Helper()
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("mcpclient: %v", err)
	}
	return res
}

// writeKeyFiles writes key as the operator's Secret holds it:
// private_key.pem (PKCS #8) and private_key.jwk (a private JWK with kid).
func writeKeyFiles(t *testing.T, key crypto.Signer, kid, alg string) (pemFile, jwkFile string) {
	t.Helper()
	dir := t.TempDir()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pemFile = filepath.Join(dir, "private_key.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	jwk, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	jwkFile = filepath.Join(dir, "private_key.jwk")
	if err := os.WriteFile(jwkFile, jwk, 0o600); err != nil {
		t.Fatal(err)
	}
	return pemFile, jwkFile
}

func m2mDocument(t *testing.T, id string, key crypto.Signer, kid, alg string) map[string]any {
	t.Helper()
	jwk, err := oidcprovider.PublicJWK(key, kid, alg)
	if err != nil {
		t.Fatal(err)
	}
	return cimdtest.M2M(id, "mcp m2m", jwk)
}

// TestPrivateKeyJWT: the SDK's PrivateKeyJwtProvider, with a client_id that
// is a document URL and the key from a file of the operator's Secret
// (private_key.pem or private_key.jwk), gets a token by client_credentials
// and calls the MCP server's tool, which sees the document's client, for
// each algorithm the operator generates (ES256, RS256, EdDSA); the client
// assertion is as the SDK builds it. The SDK imports a PEM key only for RS*,
// PS* and ES*: an EdDSA key must be given as the JWK. A key that the
// document does not hold is refused.
func TestPrivateKeyJWT(t *testing.T) {
	p := startPeer(t)
	ecKey := josetest.P256Key(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		key     crypto.Signer
		alg     string
		jwkFile bool
		refused string // the SDK's error, "" when it works
	}{
		{name: "ES256 pem", key: ecKey, alg: "ES256"},
		{name: "ES256 jwk", key: ecKey, alg: "ES256", jwkFile: true},
		{name: "RS256 pem", key: rsaKey, alg: "RS256"},
		{name: "EdDSA jwk", key: edKey, alg: "EdDSA", jwkFile: true},
		{name: "EdDSA pem", key: edKey, alg: "EdDSA", refused: "Unsupported algorithm EdDSA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/clients/" + strings.ReplaceAll(tc.name, " ", "-")
			id := p.docs.URL(path)
			p.setDoc(t, path, m2mDocument(t, id, tc.key, "k1", tc.alg))
			pemFile, jwkFile := writeKeyFiles(t, tc.key, "k1", tc.alg)
			opts := p.options(ModePrivateKeyJWT, id)
			opts.KeyFile, opts.Alg = pemFile, tc.alg
			if tc.jwkFile {
				opts.KeyFile = jwkFile
			}
			res := run(t, opts)
			if tc.refused != "" {
				if res.OK || !strings.Contains(res.Error, tc.refused) {
					t.Fatalf("ok %v, error %q; want the SDK to refuse: %s", res.OK, res.Error, tc.refused)
				}
				return
			}
			if !res.OK {
				t.Fatalf("MCP client failed: %s\nstderr:\n%s\nprovider:\n%s", res.Error, res.Stderr, p.as.Stderr())
			}
			if res.WhoAmI.ClientID != id || res.WhoAmI.Sub != id || res.WhoAmI.Scope != "mcp" || res.WhoAmI.Aud != res.ResourceURL {
				t.Fatalf("whoami %+v, resource %s", res.WhoAmI, res.ResourceURL)
			}
			if res.Unauthorized == 0 {
				t.Fatalf("the MCP server never refused a request without a token: %+v", res)
			}
			if len(res.TokenRequests) != 1 {
				t.Fatalf("token requests %+v", res.TokenRequests)
			}
			tr := res.TokenRequests[0]
			if tr.Status != 200 || tr.Form["grant_type"] != "client_credentials" || tr.Form["resource"] != res.ResourceURL ||
				tr.Form["scope"] != "mcp" || tr.Form["client_assertion_type"] != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" ||
				tr.Form["client_id"] != "" || tr.BasicAuth {
				t.Fatalf("token request %+v", tr)
			}
			a := tr.Assertion
			if a == nil || a.Header["alg"] != tc.alg || a.Header["typ"] != "JWT" || a.Header["kid"] != nil ||
				a.Claims["iss"] != id || a.Claims["sub"] != id || a.Claims["aud"] != p.as.URL || a.Claims["jti"] == nil || a.Claims["exp"] == nil {
				t.Fatalf("client assertion %+v", a)
			}
		})
	}

	t.Run("wrong key", func(t *testing.T) {
		const path = "/clients/wrong-key"
		id := p.docs.URL(path)
		p.setDoc(t, path, m2mDocument(t, id, ecKey, "k1", "ES256"))
		other, _ := writeKeyFiles(t, josetest.P256Key(t), "k1", "ES256")
		opts := p.options(ModePrivateKeyJWT, id)
		opts.KeyFile, opts.Alg = other, "ES256"
		res := run(t, opts)
		if res.OK || !strings.Contains(res.Error, "InvalidClientError") {
			t.Fatalf("a key the document does not hold: ok %v, error %q", res.OK, res.Error)
		}
		if res.Authorized != 0 {
			t.Fatalf("the MCP server let %d requests through", res.Authorized)
		}
	})
}

// TestPublicClient: an OAuthClientProvider with clientMetadataUrl = the
// document URL goes through the authorization code flow (PKCE, none) with
// the provider's headless login, and calls the tool as user-1; a redirect
// URI that the document does not list is refused.
func TestPublicClient(t *testing.T) {
	p := startPeer(t)
	const path = "/clients/mcp-app"
	id := p.docs.URL(path)
	p.setDoc(t, path, cimdtest.Public(id, "mcp app", "https://app.test/cb"))

	res := run(t, p.options(ModePublic, id))
	if !res.OK {
		t.Fatalf("MCP client failed: %s\nstderr:\n%s\nprovider:\n%s", res.Error, res.Stderr, p.as.Stderr())
	}
	if res.WhoAmI.ClientID != id || res.WhoAmI.Sub != "user-1" || res.WhoAmI.Scope != "mcp" || res.WhoAmI.Aud != res.ResourceURL {
		t.Fatalf("whoami %+v, resource %s", res.WhoAmI, res.ResourceURL)
	}
	if len(res.TokenRequests) != 1 {
		t.Fatalf("token requests %+v", res.TokenRequests)
	}
	tr := res.TokenRequests[0]
	if tr.Status != 200 || tr.Form["grant_type"] != "authorization_code" || tr.Form["client_id"] != id ||
		tr.Form["code_verifier"] == "" || tr.Form["resource"] != res.ResourceURL || tr.Assertion != nil || tr.BasicAuth {
		t.Fatalf("token request %+v", tr)
	}

	opts := p.options(ModePublic, id)
	opts.RedirectURI = "https://other.test/cb"
	res = run(t, opts)
	if res.OK || !strings.Contains(res.Error, "invalid_redirect_uri") {
		t.Fatalf("an unlisted redirect URI: ok %v, error %q", res.OK, res.Error)
	}
}
