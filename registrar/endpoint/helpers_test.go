package endpoint_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/internal/httprec"
	"github.com/clientreg/clientreg/internal/josetest"
	"github.com/clientreg/clientreg/internal/testclock"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/stateless"
)

// Fixture bodies of docs/requirements.md (Conventions).
const (
	bodyV = `{"redirect_uris":["https://client.example.org/cb"]}`
	bodyP = `{"redirect_uris":["https://client.example.org/cb"],"token_endpoint_auth_method":"none"}`
	bodyN = `{"application_type":"native","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`
)

// iatToken is the initial access token of the /iat server.
const iatToken = "iat-0123456789abcdefghijklmnopqrstuvwxyz"

// publisherIssuer is the trusted software statement issuer of /stmt.
const publisherIssuer = "https://publisher.example"

// ecJWK returns a fresh EC P-256 private JWK with kid.
func ecJWK(t testing.TB, kid string) jose.JSONWebKey {
	t.Helper()
	return jose.JSONWebKey{Key: josetest.P256Key(t), KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}
}

// publicJWKJSON is the public JWK of k as JSON.
func publicJWKJSON(t testing.TB, k jose.JSONWebKey) string {
	t.Helper()
	b, err := json.Marshal(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bodyK is fixture K: V with private_key_jwt and one EC P-256 public JWK.
func bodyK(t testing.TB) string {
	return `{"redirect_uris":["https://client.example.org/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[` +
		publicJWKJSON(t, ecJWK(t, "client-key")) + `]}}`
}

// keySet returns a key set with an active ES256 signing key and, when enc is
// set, an active encryption key.
func keySet(t testing.TB, now time.Time, enc bool) *stateless.KeySet {
	t.Helper()
	ks := &stateless.KeySet{}
	if _, err := ks.Ensure(stateless.UseSignature, "", now, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if enc {
		if _, err := ks.Ensure(stateless.UseEncryption, "", now, 24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	return ks
}

// env is a Handler with one server of each kind, a FakeStore and a fake clock.
type env struct {
	h         *endpoint.Handler
	store     *endpoint.FakeStore
	clock     *testclock.Clock
	servers   map[string]*endpoint.Server
	publisher jose.JSONWebKey // private key of publisherIssuer
	sectors   map[string][]string
}

const issuerBase = "https://as.example"

func newEnv(t testing.TB) *env {
	t.Helper()
	clk := testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	e := &env{
		store:     &endpoint.FakeStore{Clock: clk},
		clock:     clk,
		servers:   map[string]*endpoint.Server{},
		publisher: ecJWK(t, "pub-1"),
		sectors:   map[string][]string{},
	}
	add := func(s *endpoint.Server) {
		if s.Issuer == "" {
			s.Issuer = issuerBase + s.Path
		}
		// The authorization server the clients registered here use.
		if s.AuthorizationEndpoint == "" && s.TokenEndpoint == "" && s.Path != "/noas" && s.Path != "/tokenonly" {
			s.AuthorizationEndpoint, s.TokenEndpoint = "https://as.example"+s.Path+"/authorize", "https://as.example"+s.Path+"/token"
		}
		e.servers[s.Path] = s
	}
	// Servers whose authorization server's endpoints are unknown, or only
	// its token endpoint.
	add(&endpoint.Server{Path: "/noas", Open: true, OIDC: true})
	add(&endpoint.Server{Path: "/tokenonly", Open: true, TokenEndpoint: "https://as.example/tokenonly/token"})
	add(&endpoint.Server{Path: "/oauth", Open: true})
	add(&endpoint.Server{Path: "/oidc", Open: true, OIDC: true})
	add(&endpoint.Server{Path: "/iat", InitialAccessTokenHashes: [][32]byte{sha256.Sum256([]byte("another-token-that-is-long-enough-000")), sha256.Sum256([]byte(iatToken))}})
	add(&endpoint.Server{Path: "/stmt", Open: true, SoftwareStatementIssuers: map[string]jose.JSONWebKeySet{
		publisherIssuer: {Keys: []jose.JSONWebKey{e.publisher.Public()}},
	}})
	add(&endpoint.Server{Path: "/pol", Open: true, Policy: endpoint.Policy{
		AllowedRedirectHosts: []string{"client.example.org", "*.apps.example", "127.0.0.1", "app.example.com"},
		AllowedGrantTypes:    []string{"authorization_code", "refresh_token"},
		AllowedAuthMethods:   []string{"client_secret_basic", "private_key_jwt", "none"},
	}})
	add(&endpoint.Server{Path: "/quota", Open: true, Policy: endpoint.Policy{MaxClients: 1}})
	add(&endpoint.Server{Path: "/rl", Open: true, Policy: endpoint.Policy{RateLimit: endpoint.RateLimit{PerMinute: 60, Burst: 3}}})
	add(&endpoint.Server{Path: "/rlslow", Open: true, Policy: endpoint.Policy{RateLimit: endpoint.RateLimit{PerMinute: 1}}})
	add(&endpoint.Server{Path: "/rliat", Policy: endpoint.Policy{RateLimit: endpoint.RateLimit{PerMinute: 60, Burst: 1}},
		InitialAccessTokenHashes: [][32]byte{sha256.Sum256([]byte(iatToken))}})
	add(&endpoint.Server{Path: "/si", Open: true, Policy: endpoint.Policy{SingleInstanceSoftwareIDs: []string{"S"}}})
	add(&endpoint.Server{Path: "/rot", Open: true, RotateOnRead: true, RotateOnUpdate: true})
	add(&endpoint.Server{Path: "/sl", Open: true, Storage: endpoint.StorageStateless,
		Keys: keySet(t, clk.Now(), false), ClientIDLifetime: 24 * time.Hour})
	add(&endpoint.Server{Path: "/slrl", Open: true, Storage: endpoint.StorageStateless,
		Keys: keySet(t, clk.Now(), false), ClientIDLifetime: 24 * time.Hour, Policy: endpoint.Policy{RateLimit: endpoint.RateLimit{PerMinute: 60, Burst: 2}}})
	add(&endpoint.Server{Path: "/slsi", Open: true, Storage: endpoint.StorageStateless,
		Keys: keySet(t, clk.Now(), false), ClientIDLifetime: 24 * time.Hour, Policy: endpoint.Policy{SingleInstanceSoftwareIDs: []string{"S"}}})
	add(&endpoint.Server{Path: "/slas", Open: true, Storage: endpoint.StorageStateless,
		Keys: keySet(t, clk.Now(), false), ClientIDLifetime: 24 * time.Hour,
		ClientIDIssuer: "https://as.example", ClientIDAudience: "https://as.example/token"})
	add(&endpoint.Server{Path: "/sle", Open: true, Storage: endpoint.StorageStateless, Encrypt: true, OIDC: true,
		Keys: keySet(t, clk.Now(), true), ClientIDLifetime: 24 * time.Hour})
	add(&endpoint.Server{Path: "/namespaces/apps/idp", Open: true, OIDC: true,
		AuthorizationEndpoint: "https://idp.example/authorize", TokenEndpoint: "https://idp.example/token"})
	list := make([]*endpoint.Server, 0, len(e.servers))
	for _, s := range e.servers {
		list = append(list, s)
	}
	e.h = &endpoint.Handler{
		Resolver: endpoint.NewStaticResolver(list...),
		Store:    e.store,
		Clock:    clk,
		SectorIdentifierFetcher: func(_ context.Context, uri string) ([]string, error) {
			if doc, ok := e.sectors[uri]; ok {
				return doc, nil
			}
			return nil, errors.New("not found")
		},
		Log: func(msg string, kv ...any) { t.Logf("log: %s %v", msg, kv) },
	}
	return e
}

// resp is a recorded answer.
type resp = httprec.Answer

// request is one request to the handler.
type request struct {
	method, path, body string
	contentType        string // "" = application/json for bodies
	noContentType      bool
	auth               []string // Authorization header values
	header             map[string]string
}

func (e *env) do(t testing.TB, rq request) *resp {
	t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	req := httptest.NewRequest(rq.method, "https://as.example"+rq.path, body)
	if !rq.noContentType && (rq.body != "" || rq.contentType != "") {
		ct := rq.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	for _, a := range rq.auth {
		req.Header.Add("Authorization", a)
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	return httprec.Serve(e.h, req)
}

// post registers body at server path p.
func (e *env) post(t testing.TB, p, body string, auth ...string) *resp {
	t.Helper()
	return e.do(t, request{method: http.MethodPost, path: p + "/register", body: body, auth: auth})
}

// registered is a successful registration.
type registered struct {
	r      *resp
	m      map[string]any
	id     string
	secret string
	rat    string
	rcu    string
	path   string // the request path of rcu
}

func (e *env) mustRegister(t testing.TB, p, body string, auth ...string) *registered {
	t.Helper()
	r := e.post(t, p, body, auth...)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST %s/register = %d %s, want 201", p, r.Status, r.Body)
	}
	m := r.Obj(t)
	reg := &registered{r: r, m: m}
	reg.id, _ = m["client_id"].(string)
	reg.secret, _ = m["client_secret"].(string)
	reg.rat, _ = m["registration_access_token"].(string)
	reg.rcu, _ = m["registration_client_uri"].(string)
	reg.path = strings.TrimPrefix(reg.rcu, issuerBase)
	if reg.id == "" || reg.rat == "" || !strings.HasPrefix(reg.rcu, issuerBase+p+"/register/") {
		t.Fatalf("registration response lacks credentials: %s", r.Body)
	}
	return reg
}

func bearer(tok string) []string { return []string{"Bearer " + tok} }

// get reads a registration at its configuration endpoint.
func (e *env) get(t testing.TB, path, tok string) *resp {
	t.Helper()
	return e.do(t, request{method: http.MethodGet, path: path, auth: bearer(tok)})
}

// put updates a registration.
func (e *env) put(t testing.TB, path, tok, body string) *resp {
	t.Helper()
	return e.do(t, request{method: http.MethodPut, path: path, auth: bearer(tok), body: body})
}

// jsonWith returns body (a JSON object) with members set (nil deletes).
func jsonWith(t testing.TB, body string, members map[string]any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(josetest.With(m, members))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// segmentJSON base64url-decodes a compact serialization segment as JSON.
func segmentJSON(t testing.TB, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("segment is not base64url: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("segment is not JSON: %v", err)
	}
	return m
}

// mustDecodeSegment is the JSON of a compact serialization segment,
// decoded and encoded again.
func mustDecodeSegment(t testing.TB, seg string) []byte {
	t.Helper()
	m := segmentJSON(t, seg)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signStatement signs claims as a compact JWS with key (ES256).
func signStatement(t testing.TB, key jose.JSONWebKey, claims map[string]any, extraHeaders map[jose.HeaderKey]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", key.KeyID)
	for k, v := range extraHeaders {
		opts = opts.WithHeader(k, v)
	}
	alg := jose.ES256
	if _, ok := key.Key.([]byte); ok {
		alg = jose.HS256
	}
	return josetest.SignJSON(t, jose.SigningKey{Algorithm: alg, Key: key.Key}, opts, claims)
}

// unsignedJWT is an alg "none" JWT with claims.
func unsignedJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(payload) + "."
}

// credentialMembers must never appear in an error body (ERR-06).
var credentialMembers = []string{"client_id", "client_secret", "registration_access_token", "registration_client_uri"}

// checkErrorAnswer asserts the invariants of every error answer: JSON body
// with the code, ASCII description, no-store, no credentials.
func checkErrorAnswer(t testing.TB, r *resp, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status = %d, want %d (body %s)", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if p := r.Header.Get("Pragma"); p != "no-cache" {
		t.Errorf("Pragma = %q, want no-cache", p)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("error body is not a JSON object: %q", r.Body)
	}
	if got, _ := m["error"].(string); got != code {
		t.Errorf("error = %q, want %q (body %s)", got, code, r.Body)
	}
	if d, ok := m["error_description"].(string); ok && !asciiDescription(d) {
		t.Errorf("error_description %q has characters outside RFC 6749 §5.2", d)
	}
	for _, k := range credentialMembers {
		if _, ok := m[k]; ok {
			t.Errorf("error body carries %s", k)
		}
	}
}

// asciiDescription matches ^[\x20\x21\x23-\x5B\x5D-\x7E]*$ (ERR-03).
func asciiDescription(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }
