package legacy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg/internal/httprec"
)

// TestAssociateJSON registers with a JSON client_associate body.
func TestAssociateJSON(t *testing.T) {
	e := newEnv(t, false)
	r := e.json(t, "/open", map[string]any{
		"type":             "client_associate",
		"redirect_uris":    []string{redirect, "https://client.example.org/cb2"},
		"application_name": "JSON App",
	})
	a := mustOK(t, r)
	if a.secret == "" || a.secret != e.storedSecret(t, "/open", a.id) {
		t.Errorf("client_secret %q is not the stored secret", a.secret)
	}
	if a.expiresIn != 0 {
		t.Errorf("expires_in = %v, want 0 (never)", a.expiresIn)
	}
	md := e.stored(t, "/open", a.id)
	if got := toJSON(t, md["redirect_uris"]); got != `["https://client.example.org/cb","https://client.example.org/cb2"]` {
		t.Errorf("redirect_uris = %s", got)
	}
	if md["client_name"] != "JSON App" {
		t.Errorf("client_name = %v", md["client_name"])
	}
	if e.fake.Len() != 1 {
		t.Errorf("%d registrations stored, want 1", e.fake.Len())
	}
}

// TestAssociateForm registers with a form body and comma- and
// space-separated lists.
func TestAssociateForm(t *testing.T) {
	e := newEnv(t, false)
	r := e.form(t, "/open", url.Values{
		"type":         {"client_associate"},
		"redirect_uri": {"https://client.example.org/a,https://client.example.org/b https://client.example.org/c"},
		"contact":      {"ops@example.org,dev@example.org"},
	})
	a := mustOK(t, r)
	md := e.stored(t, "/open", a.id)
	if got := toJSON(t, md["redirect_uris"]); got != `["https://client.example.org/a","https://client.example.org/b","https://client.example.org/c"]` {
		t.Errorf("redirect_uris = %s", got)
	}
	if got := toJSON(t, md["contacts"]); got != `["ops@example.org","dev@example.org"]` {
		t.Errorf("contacts = %s", got)
	}
	if md["token_endpoint_auth_method"] != "client_secret_basic" || md["grant_types"] == nil {
		t.Errorf("final defaults not applied: %v", md)
	}
}

// TestJSONArrayIsVerbatim: a JSON array is not split, so a redirect URI
// with a comma can be registered; the same URI in a form is split.
func TestJSONArrayIsVerbatim(t *testing.T) {
	e := newEnv(t, false)
	const withComma = "https://client.example.org/cb?a=1,2"
	a := mustOK(t, e.json(t, "/open", map[string]any{"type": "client_associate", "redirect_uri": []string{withComma}}))
	if got := toJSON(t, e.stored(t, "/open", a.id)["redirect_uris"]); got != `["`+withComma+`"]` {
		t.Errorf("redirect_uris = %s", got)
	}
	// In a form the comma splits: "2" is not an absolute URI.
	r := e.form(t, "/open", url.Values{"type": {"client_associate"}, "redirect_uri": {withComma}})
	checkErr(t, r, http.StatusBadRequest, CodeInvalidConfigurationParameter)
	if d := r.Str(t, "error_description"); !strings.HasPrefix(d, "redirect_uri[1]") {
		t.Errorf("error_description = %q, want the second element", d)
	}
}

// mappingCase is one row of the mapping table test.
type mappingCase struct {
	param  string
	form   string         // form value
	json   any            // JSON value
	member string         // metadata member
	want   string         // stored value, as JSON
	extra  map[string]any // more parameters (string values)
}

var mappingCases = []mappingCase{
	{"redirect_uri", "https://client.example.org/a,https://client.example.org/b", "https://client.example.org/a https://client.example.org/b", "redirect_uris", `["https://client.example.org/a","https://client.example.org/b"]`, nil},
	{"redirect_url", "https://client.example.org/a https://client.example.org/b", "https://client.example.org/a,https://client.example.org/b", "redirect_uris", `["https://client.example.org/a","https://client.example.org/b"]`, nil},
	{"redirect_uris", "https://client.example.org/a", []string{"https://client.example.org/a"}, "redirect_uris", `["https://client.example.org/a"]`, nil},
	{"application_name", "Old Name", "Old Name", "client_name", `"Old Name"`, nil},
	{"client_name", "New Name", "New Name", "client_name", `"New Name"`, nil},
	{"application_type", "native", "native", "application_type", `"native"`, nil},
	{"contact", "a@example.org,b@example.org", "a@example.org b@example.org", "contacts", `["a@example.org","b@example.org"]`, nil},
	{"contacts", "c@example.org", []string{"c@example.org"}, "contacts", `["c@example.org"]`, nil},
	{"logo_url", "https://client.example.org/logo.png", "https://client.example.org/logo.png", "logo_uri", `"https://client.example.org/logo.png"`, nil},
	{"logo_uri", "https://client.example.org/l.png", "https://client.example.org/l.png", "logo_uri", `"https://client.example.org/l.png"`, nil},
	{"policy_url", "https://client.example.org/policy", "https://client.example.org/policy", "policy_uri", `"https://client.example.org/policy"`, nil},
	{"policy_uri", "https://client.example.org/p", "https://client.example.org/p", "policy_uri", `"https://client.example.org/p"`, nil},
	{"tos_url", "https://client.example.org/tos", "https://client.example.org/tos", "tos_uri", `"https://client.example.org/tos"`, nil},
	{"tos_uri", "https://client.example.org/t", "https://client.example.org/t", "tos_uri", `"https://client.example.org/t"`, nil},
	{"jwk_url", "https://client.example.org/jwks.json", "https://client.example.org/jwks.json", "jwks_uri", `"https://client.example.org/jwks.json"`, nil},
	{"jwks_uri", "https://client.example.org/k.json", "https://client.example.org/k.json", "jwks_uri", `"https://client.example.org/k.json"`, nil},
	{"sector_identifier", sectorURI, sectorURI, "sector_identifier_uri", `"` + sectorURI + `"`, nil},
	{"sector_identifier_url", sectorURI, sectorURI, "sector_identifier_uri", `"` + sectorURI + `"`, nil},
	{"sector_identifier_uri", sectorURI, sectorURI, "sector_identifier_uri", `"` + sectorURI + `"`, nil},
	{"token_endpoint_auth_type", "client_secret_post", "client_secret_post", "token_endpoint_auth_method", `"client_secret_post"`, nil},
	{"token_endpoint_auth_method", "client_secret_post", "client_secret_post", "token_endpoint_auth_method", `"client_secret_post"`, nil},
	{"subject_type", "pairwise", "pairwise", "subject_type", `"pairwise"`, nil},
	{"id_token_signed_response_alg", "ES256", "ES256", "id_token_signed_response_alg", `"ES256"`, nil},
	{"id_token_encrypted_response_alg", "RSA-OAEP", "RSA-OAEP", "id_token_encrypted_response_alg", `"RSA-OAEP"`, map[string]any{"jwk_url": "https://client.example.org/jwks.json"}},
	{"id_token_encrypted_response_enc", "A256GCM", "A256GCM", "id_token_encrypted_response_enc", `"A256GCM"`, map[string]any{"jwk_url": "https://client.example.org/jwks.json", "id_token_encrypted_response_alg": "RSA-OAEP"}},
	{"userinfo_signed_response_alg", "RS256", "RS256", "userinfo_signed_response_alg", `"RS256"`, nil},
	{"userinfo_encrypted_response_alg", "RSA-OAEP", "RSA-OAEP", "userinfo_encrypted_response_alg", `"RSA-OAEP"`, map[string]any{"jwk_url": "https://client.example.org/jwks.json"}},
	{"userinfo_encrypted_response_enc", "A256GCM", "A256GCM", "userinfo_encrypted_response_enc", `"A256GCM"`, map[string]any{"jwk_url": "https://client.example.org/jwks.json", "userinfo_encrypted_response_alg": "RSA-OAEP"}},
	{"request_object_signing_alg", "RS256", "RS256", "request_object_signing_alg", `"RS256"`, nil},
	{"default_max_age", "3600", 3600, "default_max_age", `3600`, nil},
	{"require_auth_time", "true", true, "require_auth_time", `true`, nil},
	{"default_acr", "urn:acr:1 urn:acr:2", "urn:acr:1,urn:acr:2", "default_acr_values", `["urn:acr:1","urn:acr:2"]`, nil},
	{"default_acr_values", "urn:acr:3", []string{"urn:acr:3"}, "default_acr_values", `["urn:acr:3"]`, nil},
}

// TestMappingTable registers one client per row of the mapping table, as a
// form and as JSON, and checks the stored metadata member. Every parameter
// name of the table must have a row.
func TestMappingTable(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range mappingCases {
		covered[c.param] = true
	}
	for _, f := range fields {
		for _, n := range f.names {
			if !covered[n] {
				t.Errorf("mapping table parameter %s has no test case", n)
			}
		}
	}
	e := newEnv(t, false)
	for _, c := range mappingCases {
		for _, variant := range []string{"form", "json"} {
			t.Run(c.param+"/"+variant, func(t *testing.T) {
				params := map[string]any{"type": "client_associate"}
				if !strings.HasPrefix(c.member, "redirect_uris") {
					params["redirect_uri"] = redirect
				}
				for k, v := range c.extra {
					params[k] = v
				}
				var r *resp
				if variant == "form" {
					params[c.param] = c.form
					vals := url.Values{}
					for k, v := range params {
						vals.Set(k, v.(string))
					}
					r = e.form(t, "/oidc", vals)
				} else {
					params[c.param] = c.json
					r = e.json(t, "/oidc", params)
				}
				a := mustOK(t, r)
				md := e.stored(t, "/oidc", a.id)
				if got := toJSON(t, md[c.member]); got != c.want {
					t.Errorf("%s = %s, want %s", c.member, got, c.want)
				}
				if c.param != c.member {
					if _, ok := md[c.param]; ok {
						t.Errorf("draft name %s kept in the stored metadata", c.param)
					}
				}
				if a.secret != e.storedSecret(t, "/oidc", a.id) {
					t.Errorf("response client_secret differs from the stored one")
				}
			})
		}
	}
}

// TestIgnoredParameters: JavaScript origins, x509 URLs and unknown
// parameters are not stored.
func TestIgnoredParameters(t *testing.T) {
	e := newEnv(t, false)
	ignored := []string{"js_origin_uri", "js_origin_uris", "js_origin_url", "js_origin_urls", "javascript_origin_uris",
		"x509_url", "x509_encryption_url", "jwk_encryption_url", "x_unknown"}
	vals := url.Values{"type": {"client_associate"}, "redirect_uri": {redirect}}
	for _, n := range ignored {
		vals.Set(n, "https://client.example.org")
	}
	a := mustOK(t, e.form(t, "/open", vals))
	md := e.stored(t, "/open", a.id)
	var keys []string
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"grant_types", "redirect_uris", "response_types", "token_endpoint_auth_method"}
	if !slices.Equal(keys, want) {
		t.Errorf("stored members %v, want %v", keys, want)
	}
}

// TestExpiresIn checks expires_in for expiring, never-expiring, stateless and
// secret-less registrations.
func TestExpiresIn(t *testing.T) {
	e := newEnv(t, false)
	e.fake.SecretLifetime = time.Hour
	a := mustOK(t, e.form(t, "/open", url.Values{"type": {"client_associate"}, "redirect_uri": {redirect}}))
	if a.expiresIn != 3600 {
		t.Errorf("expires_in = %v, want 3600", a.expiresIn)
	}
	a = mustOK(t, e.form(t, "/sl", url.Values{"type": {"client_associate"}, "redirect_uri": {redirect}}))
	if a.expiresIn != 86400 || a.secret == "" {
		t.Errorf("stateless expires_in = %v (secret %t), want 86400", a.expiresIn, a.secret != "")
	}
	if e.fake.Len() != 1 {
		t.Errorf("stateless registration was stored")
	}
	r := e.form(t, "/open", url.Values{"type": {"client_associate"}, "redirect_uri": {redirect}, "token_endpoint_auth_type": {"none"}})
	a = mustOK(t, r)
	if a.secret != "" || a.expiresIn != 0 {
		t.Errorf("public client: secret %q expires_in %v", a.secret, a.expiresIn)
	}
	if got := expiresIn(-time.Second); got != 1 {
		t.Errorf("expiresIn(expired) = %d, want 1", got)
	}
	if got := expiresIn(1500 * time.Millisecond); got != 2 {
		t.Errorf("expiresIn(1.5s) = %d, want 2", got)
	}
}

// TestBadInputs checks the draft error answers; nothing is stored.
func TestBadInputs(t *testing.T) {
	e := newEnv(t, false)
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	for _, c := range []struct {
		name   string
		r      func() *resp
		status int
		code   string
		desc   string // part of error_description
	}{
		{"invalid redirect_url", func() *resp {
			return e.form(t, "/open", form("type", "client_associate", "redirect_url", "http://client.example.org/cb"))
		}, 400, CodeInvalidConfigurationParameter, "redirect_url"},
		{"redirect_url not a URI", func() *resp {
			return e.json(t, "/open", map[string]any{"type": "client_associate", "redirect_url": "not a uri"})
		}, 400, CodeInvalidConfigurationParameter, "redirect_url"},
		{"no redirect uri", func() *resp {
			return e.form(t, "/open", form("type", "client_associate"))
		}, 400, CodeInvalidConfigurationParameter, "redirect_uris"},
		{"redirect_uris not strings", func() *resp {
			return e.json(t, "/open", map[string]any{"type": "client_associate", "redirect_uris": 42})
		}, 400, CodeInvalidConfigurationParameter, "redirect_uris"},
		{"bad logo_url", func() *resp {
			return e.form(t, "/open", form("type", "client_associate", "redirect_uri", redirect, "logo_url", "javascript:alert(1)"))
		}, 400, CodeInvalidConfigurationParameter, "logo_url"},
		{"bad default_max_age", func() *resp {
			return e.form(t, "/oidc", form("type", "client_associate", "redirect_uri", redirect, "default_max_age", "soon"))
		}, 400, CodeInvalidConfigurationParameter, "default_max_age"},
		{"bad require_auth_time", func() *resp {
			return e.form(t, "/oidc", form("type", "client_associate", "redirect_uri", redirect, "require_auth_time", "yes"))
		}, 400, CodeInvalidConfigurationParameter, "require_auth_time"},
		{"unknown type", func() *resp {
			return e.form(t, "/open", form("type", "rotate_secret", "redirect_uri", redirect))
		}, 400, CodeInvalidType, "type"},
		{"missing type", func() *resp {
			return e.form(t, "/open", form("redirect_uri", redirect))
		}, 400, CodeInvalidType, "type"},
		{"empty form", func() *resp {
			return e.do(t, "/open", mediaFormT, "")
		}, 400, CodeInvalidType, "type"},
		{"repeated JSON type", func() *resp {
			return e.do(t, "/open", "application/json", `{"type":1,"type":"client_associate","redirect_uri":"`+redirect+`"}`)
		}, 400, "invalid_request", "type"},
		{"repeated parameter", func() *resp {
			return e.form(t, "/open", form("type", "client_associate", "redirect_uri", redirect, "redirect_uri", redirect))
		}, 400, "invalid_request", "redirect_uri"},
		{"two names of one member", func() *resp {
			return e.form(t, "/open", form("type", "client_associate", "redirect_uri", redirect, "redirect_uris", redirect))
		}, 400, "invalid_request", "redirect_uris"},
		{"malformed form", func() *resp {
			return e.do(t, "/open", mediaFormT, "type=client_associate&redirect_uri=%zz")
		}, 400, CodeInvalidConfigurationParameter, "form"},
		{"oversize form", func() *resp {
			return e.do(t, "/open", mediaFormT, "type=client_associate&redirect_uri="+strings.Repeat("a", 70<<10))
		}, 413, CodeInvalidConfigurationParameter, "bytes"},
		{"oversize form, no Content-Length", func() *resp {
			req := httptest.NewRequest(http.MethodPost, issuerBase+"/open/register",
				struct{ *strings.Reader }{strings.NewReader("type=client_associate&x=" + strings.Repeat("a", 70<<10))})
			req.ContentLength = -1
			req.Header.Set("Content-Type", mediaFormT)
			return httprec.Serve(e.core, req)
		}, 413, CodeInvalidConfigurationParameter, "bytes"},
		{"oversize JSON (refused by the core)", func() *resp {
			return e.do(t, "/open", "application/json", `{"type":"client_associate","x":"`+strings.Repeat("a", 70<<10)+`"}`)
		}, 413, "invalid_client_metadata", "bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.r()
			checkErr(t, r, c.status, c.code)
			if d := r.Str(t, "error_description"); !strings.Contains(d, c.desc) {
				t.Errorf("error_description %q does not mention %q", d, c.desc)
			}
		})
	}
	if e.fake.Len() != 0 {
		t.Errorf("%d registrations stored by bad requests", e.fake.Len())
	}
}

// TestInitialAccessToken: client_associate follows the initial access token
// rules, with the token in the header or an access_token parameter.
func TestInitialAccessToken(t *testing.T) {
	e := newEnv(t, false)
	vals := url.Values{"type": {"client_associate"}, "redirect_uri": {redirect}}
	r := e.form(t, "/iat", vals)
	checkErr(t, r, http.StatusUnauthorized, "invalid_request")
	if r.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
	}
	checkErr(t, e.form(t, "/iat", vals, "Authorization", "Bearer wrong-token"), http.StatusUnauthorized, "invalid_token")
	if e.fake.Len() != 0 {
		t.Fatal("registered without a valid initial access token")
	}
	mustOK(t, e.form(t, "/iat", vals, "Authorization", "Bearer "+iatToken))
	withParam := url.Values{"type": {"client_associate"}, "redirect_uri": {redirect}, "access_token": {iatToken}}
	mustOK(t, e.form(t, "/iat", withParam))
	mustOK(t, e.json(t, "/iat", map[string]any{"type": "client_associate", "redirect_uri": redirect, "access_token": iatToken}))
	checkErr(t, e.form(t, "/iat", withParam, "Authorization", "Bearer "+iatToken), http.StatusBadRequest, "invalid_request")
	withParam.Set("access_token", "wrong-token")
	checkErr(t, e.form(t, "/iat", withParam), http.StatusUnauthorized, "invalid_token")
	if e.fake.Len() != 3 {
		t.Errorf("%d registrations, want 3", e.fake.Len())
	}
	// Open servers ignore tokens.
	mustOK(t, e.form(t, "/open", withParam, "Authorization", "Bearer whatever"))
}

// TestFinalJSONNotRouted: a final-spec JSON registration, with no "type" or
// another "type", is served by the final endpoint, not the legacy handler.
func TestFinalJSONNotRouted(t *testing.T) {
	e := newEnv(t, false)
	for _, body := range []string{
		`{"redirect_uris":["` + redirect + `"]}`,
		`{"redirect_uris":["` + redirect + `"],"type":"web"}`,
	} {
		r := e.do(t, "/open", "application/json", body)
		if r.Status != http.StatusCreated {
			t.Fatalf("status %d, want 201 from the final endpoint: %s", r.Status, r.Body)
		}
		m := r.Obj(t)
		for _, member := range []string{"registration_access_token", "registration_client_uri", "client_secret_expires_at", "redirect_uris"} {
			if _, ok := m[member]; !ok {
				t.Errorf("final response lacks %s: %s", member, r.Body)
			}
		}
		if _, ok := m["expires_in"]; ok {
			t.Errorf("final registration answered in the draft format: %s", r.Body)
		}
	}
	// The same body with a legacy type is a draft registration.
	mustOK(t, e.do(t, "/open", "application/json", `{"redirect_uris":["`+redirect+`"],"type":"client_associate"}`))
}

// TestLegacyCode checks the renaming of final codes.
func TestLegacyCode(t *testing.T) {
	for final, want := range map[string]string{
		"invalid_redirect_uri":          CodeInvalidConfigurationParameter,
		"invalid_client_metadata":       CodeInvalidConfigurationParameter,
		"invalid_software_statement":    CodeInvalidConfigurationParameter,
		"unapproved_software_statement": CodeInvalidConfigurationParameter,
		"invalid_request":               "invalid_request",
		"invalid_token":                 "invalid_token",
		"access_denied":                 "access_denied",
		"temporarily_unavailable":       "temporarily_unavailable",
		CodeInvalidType:                 CodeInvalidType,
	} {
		if got := Code(final); got != want {
			t.Errorf("Code(%s) = %s, want %s", final, got, want)
		}
	}
}

// TestNoServer: the handler used outside endpoint.Handler answers 500.
func TestNoServer(t *testing.T) {
	e := newEnv(t, false)
	req := httptest.NewRequest(http.MethodPost, issuerBase+"/open/register", strings.NewReader("type=client_associate"))
	req.Header.Set("Content-Type", mediaFormT)
	r := httprec.Serve(&Handler{Core: e.core}, req)
	checkErr(t, r, http.StatusInternalServerError, "server_error")
}

// The final endpoint's rate limit (REG-37) covers client_associate: over it,
// 429 temporarily_unavailable with Retry-After, and nothing is stored.
func TestAssociateRateLimited(t *testing.T) {
	e := newEnv(t, false)
	assoc := url.Values{"type": {"client_associate"}, "redirect_uri": {redirect}}
	mustOK(t, e.form(t, "/rl", assoc))
	writes := e.fake.Writes()
	r := e.form(t, "/rl", assoc)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" || r.Str(t, "error") != "temporarily_unavailable" {
		t.Fatalf("second client_associate = %d, Retry-After %q, %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	if e.fake.Writes() != writes {
		t.Fatal("a rate-limited client_associate stored something")
	}
	e.clock.Advance(time.Second)
	mustOK(t, e.form(t, "/rl", assoc))
}
