package cimd

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/registrar/metadata"
)

func TestBaseAndClientIDURLRules(t *testing.T) {
	for _, tc := range []struct {
		url     string
		base    string // "" = valid base URL, else a substring of the error
		asID    string // "" = valid client id
		comment string
	}{
		{url: "https://clients.example.com/oauth", asID: ""},
		{url: "https://clients.example.com", asID: "path component"},
		{url: "https://clients.example.com/", asID: "path component"},
		{url: "https://clients.example.com:8443/a/b"},
		{url: "http://clients.example.com/a", base: "https scheme", asID: "https scheme"},
		{url: "https://127.0.0.1/a", base: "not an IP", asID: "not an IP"},
		{url: "https://[::1]/a", base: "not an IP", asID: "not an IP"},
		{url: "https://clients.example.com/a#frag", base: "fragment", asID: "fragment"},
		{url: "https://user@clients.example.com/a", base: "user info", asID: "user info"},
		{url: "https://clients.example.com/a/../b", base: "dot", asID: "dot"},
		{url: "https://clients.example.com/a/%2E/b", base: "dot", asID: "dot"},
		{url: "https://clients.example.com/a?x=1", base: "query"},
		{url: "https://Clients.example.com/a", base: "lower-case", asID: "lower-case"},
		{url: "https://clients.example.com:443/a", base: "default port", asID: "default port"},
		{url: "https://clients.example.com/a b", base: "spaces", asID: "spaces"},
		{url: "/relative", base: "https scheme", asID: "https scheme"},
	} {
		check := func(what string, err error, want string) {
			t.Helper()
			switch {
			case want == "" && err != nil:
				t.Errorf("%s %q: unexpected error %v", what, tc.url, err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("%s %q: error %v, want one containing %q", what, tc.url, err, want)
			}
		}
		check("base URL", ValidateBaseURL(tc.url), tc.base)
		check("client id", ValidateClientIDURL(tc.url), tc.asID)
	}
	if got := ClientIDURL("https://c.example/docs/", "team-a", "billing"); got != "https://c.example/docs/team-a/billing" {
		t.Errorf("ClientIDURL = %q", got)
	}
	if err := ValidateClientIDURL(ClientIDURL("https://c.example", "ns", "name")); err != nil {
		t.Errorf("a client id under a valid base URL fails: %v", err)
	}
}

func TestKeysRoundTripInEveryForm(t *testing.T) {
	for _, alg := range Algorithms() {
		t.Run(alg, func(t *testing.T) {
			k, err := GenerateKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			jwkJSON, err := k.PrivateJWK()
			if err != nil {
				t.Fatal(err)
			}
			var members map[string]any
			if err := json.Unmarshal(jwkJSON, &members); err != nil {
				t.Fatal(err)
			}
			if members["kid"] != k.ID || members["alg"] != alg || members["use"] != "sig" || members["d"] == nil {
				t.Errorf("private JWK lacks kid/alg/use/d: %v", keysOf(members))
			}
			back, err := ParseKey(jwkJSON)
			if err != nil {
				t.Fatal(err)
			}
			if back.ID != k.ID || back.Alg != alg {
				t.Errorf("ParseKey = %s/%s, want %s/%s", back.ID, back.Alg, k.ID, alg)
			}
			pemBytes, err := k.PrivatePEM()
			if err != nil || !strings.HasPrefix(string(pemBytes), "-----BEGIN PRIVATE KEY-----") {
				t.Errorf("PrivatePEM = %.30q, %v", pemBytes, err)
			}
			set, err := PublicJWKS(k.PublicJWK())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(set), `"d"`) || strings.Contains(string(set), `"p"`) {
				t.Errorf("the public JWK Set holds private members: %s", set)
			}
			// A signature by the private key verifies with the published key.
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: k.Signer()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			jws, err := signer.Sign([]byte("payload"))
			if err != nil {
				t.Fatal(err)
			}
			var pub jose.JSONWebKeySet
			if err := json.Unmarshal(set, &pub); err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify(pub.Keys[0].Key); err != nil {
				t.Errorf("a signature by the key does not verify with the published key: %v", err)
			}
		})
	}
	if _, err := GenerateKey("HS256"); err == nil {
		t.Error("GenerateKey accepted HS256")
	}
	k, _ := GenerateKey(AlgES256)
	pub, _ := json.Marshal(k.PublicJWK())
	if _, err := ParseKey(pub); err == nil {
		t.Error("ParseKey accepted a public key")
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestBuildFollowsTheDraft(t *testing.T) {
	const id = "https://clients.example.com/ns/app"
	k, err := GenerateKey(AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	doc, jwks, err := Build(Input{ClientID: id, Metadata: &metadata.Metadata{GrantTypes: []string{"client_credentials"}, ClientName: "App"}, Keys: []jose.JSONWebKey{k.PublicJWK()}})
	if err != nil {
		t.Fatal(err)
	}
	if jwks != nil {
		t.Errorf("inline keys also produced a JWK Set document")
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatal(err)
	}
	if string(got["client_id"]) != `"`+id+`"` || string(got["token_endpoint_auth_method"]) != `"private_key_jwt"` || got["jwks"] == nil {
		t.Errorf("document = %s", doc)
	}
	if !strings.HasPrefix(string(doc), `{"client_id":`) {
		t.Errorf("document does not start with client_id: %s", doc)
	}
	again, _, _ := Build(Input{ClientID: id, Metadata: &metadata.Metadata{ClientName: "App", GrantTypes: []string{"client_credentials"}}, Keys: []jose.JSONWebKey{k.PublicJWK()}})
	if string(again) != string(doc) {
		t.Error("equal inputs gave different documents (ETags would differ between replicas)")
	}

	doc, jwks, err = Build(Input{ClientID: id, Metadata: &metadata.Metadata{}, Keys: []jose.JSONWebKey{k.PublicJWK()}, JWKSURI: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), `"jwks_uri":"`+id+`/jwks"`) || strings.Contains(string(doc), `"jwks":`) || !strings.Contains(string(jwks), k.ID) {
		t.Errorf("jwks_uri mode: document %s, JWK Set %s", doc, jwks)
	}

	public, _, err := Build(Input{ClientID: id, Metadata: &metadata.Metadata{TokenEndpointAuthMethod: "none", RedirectURIs: []string{"https://app.example/cb"}}})
	if err != nil || strings.Contains(string(public), "jwks") {
		t.Errorf("public client: %s, %v", public, err)
	}

	refusals := []struct {
		name   string
		in     Input
		member string
	}{
		{"client_secret_basic", Input{ClientID: id, Metadata: &metadata.Metadata{TokenEndpointAuthMethod: "client_secret_basic"}}, "token_endpoint_auth_method"},
		{"client_secret_post", Input{ClientID: id, Metadata: &metadata.Metadata{TokenEndpointAuthMethod: "client_secret_post"}}, "token_endpoint_auth_method"},
		{"client_secret_jwt", Input{ClientID: id, Metadata: &metadata.Metadata{TokenEndpointAuthMethod: "client_secret_jwt"}}, "token_endpoint_auth_method"},
		{"HS256 signing", Input{ClientID: id, Metadata: &metadata.Metadata{TokenEndpointAuthMethod: "none", IDTokenSignedResponseAlg: "HS256"}}, "id_token_signed_response_alg"},
		{"client_secret member", Input{ClientID: id, Metadata: &metadata.Metadata{TokenEndpointAuthMethod: "none", Extra: map[string]json.RawMessage{"client_secret": json.RawMessage(`"x"`)}}}, "client_secret"},
		{"http logo", Input{ClientID: id, Metadata: &metadata.Metadata{TokenEndpointAuthMethod: "none", LogoURI: "http://app.example/logo.png"}}, "logo_uri"},
		{"http localized logo", Input{ClientID: id, Metadata: &metadata.Metadata{TokenEndpointAuthMethod: "none", Localized: map[string]string{"logo_uri#en": "http://app.example/logo.png"}}}, "logo_uri#en"},
		{"foreign jwks_uri", Input{ClientID: id, Metadata: &metadata.Metadata{JWKSURI: "https://elsewhere.example/jwks"}}, "jwks_uri"},
		{"private_key_jwt without keys", Input{ClientID: id, Metadata: &metadata.Metadata{}}, "jwks"},
		{"http client id", Input{ClientID: "http://clients.example.com/ns/app", Metadata: &metadata.Metadata{TokenEndpointAuthMethod: "none"}}, "client_id"},
		{"IP client id", Input{ClientID: "https://10.0.0.1/ns/app", Metadata: &metadata.Metadata{TokenEndpointAuthMethod: "none"}}, "client_id"},
		{"oversized", Input{ClientID: id, Metadata: &metadata.Metadata{TokenEndpointAuthMethod: "none", Contacts: manyContacts(200)}}, ""},
	}
	for _, tc := range refusals {
		_, _, err := Build(tc.in)
		var r *RefusedError
		if !errors.As(err, &r) || r.Member != tc.member {
			t.Errorf("%s: error %v, want a refusal of member %q", tc.name, err, tc.member)
		}
	}
}

func manyContacts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "someone-with-a-long-address@example.com"
	}
	return out
}

type countingObserver map[string]int

func (c countingObserver) Served(server string, status int) {
	c[server+" "+http.StatusText(status)]++
}

func TestDocumentsServeCacheableJSON(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	obs := countingObserver{}
	d := &Documents{Observer: obs, Now: func() time.Time { return now }}
	d.SetServer("s1", ServerSettings{BaseURL: "https://clients.example.com/docs", MaxAge: 90 * time.Second, RatePerSecond: 1, Burst: 4})
	body := []byte(`{"client_id":"https://clients.example.com/docs/ns/app"}`)
	d.Set("https://clients.example.com/docs/ns/app", Entry{Server: "s1", Body: body})

	do := func(method, host, path string, hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "https://"+host+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, req)
		return rec
	}
	r := do("GET", "clients.example.com", "/docs/ns/app", nil)
	etag := r.Header().Get("ETag")
	if r.Code != 200 || r.Body.String() != string(body) || r.Header().Get("Content-Type") != "application/json" ||
		r.Header().Get("Cache-Control") != "public, max-age=90" || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("GET = %d %v %q", r.Code, r.Header(), r.Body.String())
	}
	if r := do("GET", "CLIENTS.example.com:443", "/docs/ns/app", map[string]string{"If-None-Match": `W/` + etag}); r.Code != 304 || r.Body.Len() != 0 || r.Header().Get("ETag") != etag {
		t.Errorf("conditional GET = %d %q", r.Code, r.Body.String())
	}
	if r := do("HEAD", "clients.example.com", "/docs/ns/app", nil); r.Code != 200 || r.Body.Len() != 0 || r.Header().Get("Content-Length") != "55" {
		t.Errorf("HEAD = %d, body %d bytes, length %s", r.Code, r.Body.Len(), r.Header().Get("Content-Length"))
	}
	if r := do("GET", "clients.example.com", "/docs/ns/other", nil); r.Code != 404 {
		t.Errorf("unknown document = %d", r.Code)
	}
	// The bucket (burst 4) is empty now; one second refills one token.
	if r := do("GET", "clients.example.com", "/docs/ns/app", nil); r.Code != 429 || r.Header().Get("Retry-After") == "" {
		t.Errorf("over the rate = %d", r.Code)
	}
	now = now.Add(time.Second)
	if r := do("GET", "clients.example.com", "/docs/ns/app", nil); r.Code != 200 {
		t.Errorf("after a refill = %d", r.Code)
	}
	d.Delete("https://clients.example.com/docs/ns/app")
	now = now.Add(time.Minute)
	if r := do("GET", "clients.example.com", "/docs/ns/app", nil); r.Code != 404 {
		t.Errorf("deleted document = %d", r.Code)
	}
	if r := do("POST", "clients.example.com", "/docs/ns/app", nil); r.Code != 405 {
		t.Errorf("POST = %d", r.Code)
	}
	want := map[string]int{"s1 OK": 3, "s1 Not Modified": 1, "s1 Not Found": 2, "s1 Too Many Requests": 1}
	for k, v := range want {
		if obs[k] != v {
			t.Errorf("observed %s = %d, want %d (all: %v)", k, obs[k], v, obs)
		}
	}
	if d.Match("other.example.com", "/docs/ns/app") || !d.Match("clients.example.com", "/docs/ns/gone") {
		t.Error("Match claims the wrong requests")
	}
}
