package oidcprovider

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/clientreg/clientreg/internal/cimdtest"
	"github.com/clientreg/clientreg/internal/josetest"
)

const testResource = "http://127.0.0.1:9/mcp"

// startCIMD starts a document server for clients.test and a provider that
// fetches documents from it (cache 1s..60s) with testResource (scope mcp).
func startCIMD(t *testing.T) (*DocumentServer, *Provider) {
	t.Helper()
	ds := StartDocumentServer(t, "clients.test")
	cfg := ds.CIMD()
	cfg.CacheMin, cfg.CacheMax = time.Second, time.Minute
	cfg.Resources = []Resource{{URL: testResource, Scope: "mcp"}}
	p := Start(t, Options{ClientIDMetadataDocument: cfg, DisableRegistration: true})
	return ds, p
}

// m2mDocument is a private_key_jwt client_credentials client's document.
func m2mDocument(t *testing.T, id string, key crypto.Signer, kid string) map[string]any {
	t.Helper()
	jwk, err := PublicJWK(key, kid, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	return cimdtest.M2M(id, "m2m", jwk)
}

func setJSON(t *testing.T, ds *DocumentServer, path string, doc any, cacheControl string) {
	t.Helper()
	if err := ds.SetJSON(path, doc, cacheControl); err != nil {
		t.Fatal(err)
	}
}

func accessToken(t *testing.T, body []byte) string {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token answer without access_token: %s", body)
	}
	return tok.AccessToken
}

// TestCIMDClientCredentialsWithPrivateKeyJWT: a client_id that is an https
// URL is fetched from the document server (through the hostname mapping and
// the test CA); a client assertion signed with the document's key gets a JWT
// access token for the resource; the document is cached for its max-age
// (2s), so a key rotated in the document is refused until then and accepted
// after; a wrong key is invalid_client.
func TestCIMDClientCredentialsWithPrivateKeyJWT(t *testing.T) {
	ds, p := startCIMD(t)
	ctx := context.Background()

	var disc map[string]any
	if r := do(t, p, http.MethodGet, p.URL+"/.well-known/openid-configuration", "", nil); r.status != http.StatusOK || json.Unmarshal(r.body, &disc) != nil {
		t.Fatalf("discovery: %d %s", r.status, r.body)
	}
	if disc["client_id_metadata_document_supported"] != true {
		t.Fatalf("discovery: client_id_metadata_document_supported %v", disc["client_id_metadata_document_supported"])
	}
	methods, _ := disc["token_endpoint_auth_methods_supported"].([]any)
	if !slices.Contains(methods, any("private_key_jwt")) || !slices.Contains(methods, any("none")) {
		t.Fatalf("discovery: token_endpoint_auth_methods_supported %v", methods)
	}

	const path = "/clients/m2m"
	id := ds.URL(path)
	key := josetest.P256Key(t)
	setJSON(t, ds, path, m2mDocument(t, id, key, "k1"), "max-age=2")

	start := time.Now()
	st, body, err := p.TokenWithPrivateKeyJWT(ctx, id, key, "k1", "ES256", "mcp", testResource)
	if err != nil || st != http.StatusOK {
		t.Fatalf("token: %d %s %v\n%s", st, body, err, p.Stderr())
	}
	claims, err := p.VerifyAccessToken(ctx, accessToken(t, body), testResource)
	if err != nil {
		t.Fatal(err)
	}
	if claims["client_id"] != id || claims["sub"] != id || claims["scope"] != "mcp" {
		t.Fatalf("access token claims %v", claims)
	}
	// No kid in the assertion: the document's keys are tried.
	if st, body, err := p.TokenWithPrivateKeyJWT(ctx, id, key, "", "ES256", "mcp", testResource); err != nil || st != http.StatusOK {
		t.Fatalf("token without kid: %d %s %v", st, body, err)
	}
	if st, body, _ := p.TokenWithPrivateKeyJWT(ctx, id, josetest.P256Key(t), "k1", "ES256", "mcp", testResource); st != http.StatusUnauthorized || oauthErr(body) != "invalid_client" {
		t.Fatalf("wrong key: %d %s", st, body)
	}
	if st, body, _ := p.TokenWithPrivateKeyJWT(ctx, id, key, "k1", "ES256", "mcp", "http://127.0.0.1:9/other"); st != http.StatusBadRequest || oauthErr(body) != "invalid_target" {
		t.Fatalf("unknown resource: %d %s", st, body)
	}
	if n := ds.Hits(path); n != 1 {
		t.Fatalf("document fetched %d times within its max-age, want 1", n)
	}
	if n := p.CIMDFetches(t)[id]; n != 1 {
		t.Fatalf("provider counts %d fetches, want 1", n)
	}

	// Rotate the key in the document: the cached copy still holds the
	// old one until max-age has passed.
	next := josetest.P256Key(t)
	setJSON(t, ds, path, m2mDocument(t, id, next, "k2"), "max-age=2")
	if st, body, _ := p.TokenWithPrivateKeyJWT(ctx, id, next, "k2", "ES256", "mcp", testResource); st != http.StatusUnauthorized {
		t.Fatalf("rotated key within the cached copy's max-age: %d %s", st, body)
	}
	time.Sleep(time.Until(start.Add(2200 * time.Millisecond)))
	if st, body, err := p.TokenWithPrivateKeyJWT(ctx, id, next, "k2", "ES256", "mcp", testResource); err != nil || st != http.StatusOK {
		t.Fatalf("rotated key after max-age: %d %s %v", st, body, err)
	}
	if st, body, _ := p.TokenWithPrivateKeyJWT(ctx, id, key, "k1", "ES256", "mcp", testResource); st != http.StatusUnauthorized {
		t.Fatalf("old key after the document dropped it: %d %s", st, body)
	}
	if n := ds.Hits(path); n != 2 {
		t.Fatalf("document fetched %d times, want 2", n)
	}
}

// TestCIMDPublicClientAuthorizationCode: a public client (none) identified
// by its document gets a code through the headless login (PKCE required)
// and exchanges it for a JWT access token for the resource; a redirect_uri
// that its document does not list is refused.
func TestCIMDPublicClientAuthorizationCode(t *testing.T) {
	ds, p := startCIMD(t)
	ctx := context.Background()
	const path = "/clients/app"
	id := ds.URL(path)
	setJSON(t, ds, path, cimdtest.Public(id, "app", "https://app.test/cb"), "max-age=60")

	st, body, err := p.AuthorizationCodePKCE(ctx, id, "https://app.test/cb", "openid mcp", testResource)
	if err != nil || st != http.StatusOK {
		t.Fatalf("code flow: %d %s %v\n%s", st, body, err, p.Stderr())
	}
	claims, err := p.VerifyAccessToken(ctx, accessToken(t, body), testResource)
	if err != nil {
		t.Fatal(err)
	}
	if claims["client_id"] != id || claims["sub"] != "user-1" || claims["scope"] != "mcp" {
		t.Fatalf("access token claims %v", claims)
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.IDToken == "" {
		t.Fatalf("no id_token for scope openid: %s", body)
	}

	// Without a resource: an opaque access token and an ID token.
	if st, body, err := p.AuthorizationCodePKCE(ctx, id, "https://app.test/cb", "", ""); err != nil || st != http.StatusOK {
		t.Fatalf("code flow without resource: %d %s %v", st, body, err)
	}

	var fe *FlowError
	_, _, err = p.AuthorizationCodePKCE(ctx, id, "https://evil.test/cb", "openid", "")
	if !errors.As(err, &fe) || fe.Code != "invalid_redirect_uri" {
		t.Fatalf("unlisted redirect_uri: %v", err)
	}
	if n := ds.Hits(path); n != 1 {
		t.Fatalf("document fetched %d times, want 1 (max-age 60)", n)
	}
}

// TestCIMDRefusals: documents the provider must refuse, at the token
// endpoint and at the authorization endpoint.
func TestCIMDRefusals(t *testing.T) {
	ds, p := startCIMD(t)
	ctx := context.Background()
	key := josetest.P256Key(t)

	good := ds.URL("/clients/good")
	setJSON(t, ds, "/clients/good", m2mDocument(t, good, key, "k1"), "")

	mismatch := ds.URL("/clients/mismatch")
	setJSON(t, ds, "/clients/mismatch", m2mDocument(t, good, key, "k1"), "")

	secret := ds.URL("/clients/secret")
	doc := m2mDocument(t, secret, key, "k1")
	doc["token_endpoint_auth_method"] = "client_secret_basic"
	setJSON(t, ds, "/clients/secret", doc, "")

	moved := ds.URL("/clients/moved")
	ds.Set("/clients/moved", Document{Status: http.StatusFound, Header: http.Header{"Location": {good}}})

	missing := ds.URL("/clients/missing")

	for _, tc := range []struct {
		name, id, code string
		status         int
	}{
		{"client_id mismatch", mismatch, "invalid_client_metadata", http.StatusBadRequest},
		{"shared-secret auth method", secret, "invalid_client_metadata", http.StatusBadRequest},
		// A failed fetch is invalid_client with status 400 (a failed
		// authentication is 401).
		{"redirect not followed", moved, "invalid_client", http.StatusBadRequest},
		{"404", missing, "invalid_client", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, err := p.TokenWithPrivateKeyJWT(ctx, tc.id, key, "k1", "ES256", "mcp", testResource)
			if err != nil || st != tc.status || oauthErr(body) != tc.code {
				t.Fatalf("token: %d %s %v, want %d %s", st, body, err, tc.status, tc.code)
			}
			var fe *FlowError
			_, _, err = p.AuthorizationCodePKCE(ctx, tc.id, "https://app.test/cb", "openid", "")
			if !errors.As(err, &fe) || fe.Step != "authorization" || fe.Code != tc.code {
				t.Fatalf("authorization: %v, want %s", err, tc.code)
			}
		})
	}
	if n := ds.Hits("/clients/good"); n != 0 {
		t.Fatalf("the redirect target was fetched %d times", n)
	}
	// The same key under a document that names it is accepted.
	if st, body, err := p.TokenWithPrivateKeyJWT(ctx, good, key, "k1", "ES256", "mcp", testResource); err != nil || st != http.StatusOK {
		t.Fatalf("good document: %d %s %v", st, body, err)
	}
}

func oauthErr(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error
}

// TestCIMDJWKSURI: a document may publish its keys at a jwks_uri (https,
// fetched through the same hostname mapping). node-oidc-provider 9.13.3
// builds a new client from the cached document for every request, and with
// it a new key store: the jwks_uri is fetched again on every client
// authentication, whatever its Cache-Control, while the document itself is
// fetched once per max-age.
func TestCIMDJWKSURI(t *testing.T) {
	ds, p := startCIMD(t)
	ctx := context.Background()
	const path, jwksPath = "/clients/m2m-uri", "/clients/m2m-uri/jwks.json"
	id := ds.URL(path)
	key := josetest.P256Key(t)
	doc := m2mDocument(t, id, key, "k1")
	jwks := doc["jwks"]
	delete(doc, "jwks")
	doc["jwks_uri"] = ds.URL(jwksPath)
	setJSON(t, ds, path, doc, "max-age=60")
	setJSON(t, ds, jwksPath, jwks, "max-age=60")

	for i := range 3 {
		if st, body, err := p.TokenWithPrivateKeyJWT(ctx, id, key, "k1", "ES256", "mcp", testResource); err != nil || st != http.StatusOK {
			t.Fatalf("token %d: %d %s %v\n%s", i, st, body, err, p.Stderr())
		}
	}
	if n := ds.Hits(path); n != 1 {
		t.Fatalf("document fetched %d times, want 1", n)
	}
	if n := ds.Hits(jwksPath); n != 3 {
		t.Fatalf("jwks_uri fetched %d times for 3 token requests, want 3 (one per client authentication)", n)
	}
	if f := p.CIMDFetches(t); f[id] != 1 || f[ds.URL(jwksPath)] != 3 {
		t.Fatalf("provider fetch counts %v", f)
	}
	if st, body, _ := p.TokenWithPrivateKeyJWT(ctx, id, josetest.P256Key(t), "k1", "ES256", "mcp", testResource); st != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d %s", st, body)
	}
}

// TestCIMDLoopbackHostnames: client ids on https://127.0.0.1:<port>/ and
// https://localhost:<port>/ (an operator endpoint with the repository's
// test certificate) are fetched once CIMD.Hosts names them, although
// oidc-provider's own fetch refuses loopback addresses.
func TestCIMDLoopbackHostnames(t *testing.T) {
	ip := StartDocumentServer(t, "127.0.0.1")
	local := StartDocumentServer(t, "localhost")
	cfg := &CIMD{
		Hosts:     map[string]string{"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1"},
		CAPEM:     append(append([]byte{}, ip.CAPEM...), local.CAPEM...),
		Resources: []Resource{{URL: testResource, Scope: "mcp"}},
	}
	p := Start(t, Options{ClientIDMetadataDocument: cfg, DisableRegistration: true})
	key := josetest.P256Key(t)
	for _, ds := range []*DocumentServer{ip, local} {
		id := ds.URL("/clients/m2m")
		setJSON(t, ds, "/clients/m2m", m2mDocument(t, id, key, "k1"), "")
		if st, body, err := p.TokenWithPrivateKeyJWT(context.Background(), id, key, "k1", "ES256", "mcp", testResource); err != nil || st != http.StatusOK {
			t.Fatalf("%s: token: %d %s %v\n%s", id, st, body, err, p.Stderr())
		}
	}
}
