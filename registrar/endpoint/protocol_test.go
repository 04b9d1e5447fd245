package endpoint_test

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg/registrar/endpoint"
)

// Tests named after the requirement they check (docs/requirements.md), with its test
// bodies. Bad-input cases are in TestBadInputs.

func TestREG01(t *testing.T) {
	e := newEnv(t)
	r := e.post(t, "/oauth", bodyV)
	if r.Status != http.StatusCreated || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("POST V = %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	if id := r.Str(t, "client_id"); id == "" {
		t.Fatal("no string client_id")
	}
}

func TestREG02(t *testing.T) {
	e := newEnv(t)
	checkErrorAnswer(t, e.post(t, "/oauth", `["x"]`), http.StatusBadRequest, "invalid_client_metadata")
	r := e.do(t, request{method: http.MethodPost, path: "/oauth/register", contentType: "application/x-www-form-urlencoded",
		body: "redirect_uris=https%3A%2F%2Fclient.example.org%2Fcb"})
	if r.Status != http.StatusBadRequest && r.Status != http.StatusUnsupportedMediaType {
		t.Fatalf("form body = %d, want 400 or 415", r.Status)
	}
	if e.store.Len() != 0 {
		t.Fatal("a client was created")
	}
	// application/json with a UTF-8 charset is accepted.
	r = e.do(t, request{method: http.MethodPost, path: "/oauth/register", contentType: "application/json; charset=UTF-8", body: bodyV})
	if r.Status != http.StatusCreated {
		t.Fatalf("charset=UTF-8 = %d %s", r.Status, r.Body)
	}
}

func TestREG03(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, request{method: http.MethodGet, path: "/oauth/register"})
	if r.Status != http.StatusMethodNotAllowed || !strings.Contains(r.Header.Get("Allow"), "POST") {
		t.Fatalf("GET {reg} = %d Allow %q", r.Status, r.Header.Get("Allow"))
	}
}

func TestREG04(t *testing.T) {
	e := newEnv(t)
	reg := e.mustRegister(t, "/oauth", jsonWith(t, bodyV, map[string]any{"x_unknown": 123, "foo": map[string]any{"a": 1}, "type": "client_associate"}))
	for _, k := range []string{"x_unknown", "foo", "type"} {
		if _, ok := reg.m[k]; ok {
			t.Errorf("response has %s", k)
		}
	}
}

func TestREG05(t *testing.T) {
	e := newEnv(t)
	checkErrorAnswer(t, e.post(t, "/oauth", `{"Redirect_URIs":["https://client.example.org/cb"]}`), http.StatusBadRequest, "invalid_redirect_uri")
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"grant_types": []string{"Authorization_Code"}})), http.StatusBadRequest, "invalid_client_metadata")
}

func TestREG06(t *testing.T) {
	e := newEnv(t)
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"grant_types": "authorization_code"})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oauth", `{"redirect_uris":"https://client.example.org/cb"}`), 400, "invalid_redirect_uri")
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"jwks": "abc"})), 400, "invalid_client_metadata")
}

func TestREG07(t *testing.T) {
	e := newEnv(t)
	checkErrorAnswer(t, e.post(t, "/oauth", `{}`), 400, "invalid_redirect_uri")
	reg := e.mustRegister(t, "/oauth", `{"grant_types":["client_credentials"],"response_types":[]}`)
	if _, ok := reg.m["redirect_uris"]; ok {
		t.Error("redirect_uris in a client_credentials registration")
	}
}

func TestREG08to11(t *testing.T) {
	e := newEnv(t)
	checkErrorAnswer(t, e.post(t, "/oauth", `{"redirect_uris":["/cb"]}`), 400, "invalid_redirect_uri")
	checkErrorAnswer(t, e.post(t, "/oauth", `{"redirect_uris":["https://client.example.org/cb#x"]}`), 400, "invalid_redirect_uri")
	checkErrorAnswer(t, e.post(t, "/oauth", `{"redirect_uris":["http://client.example.org/cb"]}`), 400, "invalid_redirect_uri")
	checkErrorAnswer(t, e.post(t, "/oauth", `{"redirect_uris":["javascript:alert(1)"]}`), 400, "invalid_redirect_uri")
	checkErrorAnswer(t, e.post(t, "/oauth", `{"redirect_uris":["https://*.example.org/cb"]}`), 400, "invalid_redirect_uri")
	e.mustRegister(t, "/oauth", bodyN)
	checkErrorAnswer(t, e.post(t, "/oauth", `{"application_type":"native","redirect_uris":["myapp:/cb"],"token_endpoint_auth_method":"none"}`), 400, "invalid_redirect_uri")
	e.mustRegister(t, "/oauth", `{"application_type":"native","redirect_uris":["com.example.app:/cb"],"token_endpoint_auth_method":"none"}`)
	// REG-11: stored verbatim, echoed byte-identical.
	reg := e.mustRegister(t, "/oauth", `{"redirect_uris":["https://client.example.org/cb?a=1&b=2"]}`)
	if !strings.Contains(string(reg.r.Body), `"redirect_uris":["https://client.example.org/cb?a=1&b=2"]`) {
		t.Errorf("redirect URI not echoed byte-identical: %s", reg.r.Body)
	}
}

func TestREG12and13(t *testing.T) {
	e := newEnv(t)
	checkErrorAnswer(t, e.post(t, "/oidc", `{"application_type":"web","grant_types":["implicit"],"response_types":["id_token"],"redirect_uris":["https://localhost/cb"]}`), 400, "invalid_redirect_uri")
	checkErrorAnswer(t, e.post(t, "/oidc", `{"application_type":"native","redirect_uris":["http://client.example.org/cb"]}`), 400, "invalid_redirect_uri")
	checkErrorAnswer(t, e.post(t, "/oidc", jsonWith(t, bodyV, map[string]any{"application_type": "desktop"})), 400, "invalid_client_metadata")
	reg := e.mustRegister(t, "/oidc", bodyV)
	if reg.m["application_type"] != "web" {
		t.Errorf("application_type = %v, want the default web", reg.m["application_type"])
	}
	e.mustRegister(t, "/oidc", bodyN)
	checkErrorAnswer(t, e.post(t, "/oidc", jsonWith(t, bodyN, map[string]any{"redirect_uris": []string{"http://localhost/cb"}})), 400, "invalid_redirect_uri")
}

func TestREG14to16(t *testing.T) {
	e := newEnv(t)
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"jwks_uri": "https://client.example.org/jwks", "jwks": map[string]any{"keys": []any{}}})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"jwks": map[string]any{"foo": 1}})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"jwks_uri": "http://client.example.org/jwks"})), 400, "invalid_client_metadata")
	k := bodyK(t)
	e.mustRegister(t, "/oauth", k)
	withD := strings.Replace(k, `"kty"`, `"d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI","kty"`, 1)
	checkErrorAnswer(t, e.post(t, "/oauth", withD), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"jwks": map[string]any{"keys": []any{map[string]any{"kty": "oct", "k": "AAAA"}}}})), 400, "invalid_client_metadata")
}

func TestREG17(t *testing.T) {
	e := newEnv(t)
	reg := e.mustRegister(t, "/oauth", bodyV)
	if !reflect.DeepEqual(reg.m["grant_types"], []any{"authorization_code"}) ||
		!reflect.DeepEqual(reg.m["response_types"], []any{"code"}) ||
		reg.m["token_endpoint_auth_method"] != "client_secret_basic" {
		t.Errorf("defaults not returned: %s", reg.r.Body)
	}
	if reg.secret == "" {
		t.Error("no client_secret for client_secret_basic")
	}
	if _, ok := reg.m["client_secret_expires_at"].(float64); !ok {
		t.Error("no numeric client_secret_expires_at")
	}
}

func TestREG18to22(t *testing.T) {
	e := newEnv(t)
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"grant_types": []string{"authorization_code"}, "response_types": []string{"token"}})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"grant_types": []string{"implicit"}, "response_types": []string{"code"}})), 400, "invalid_client_metadata")
	// REG-19: consistent defaults.
	reg := e.mustRegister(t, "/oauth", `{"grant_types":["client_credentials"]}`)
	if rt, ok := reg.m["response_types"]; ok && !reflect.DeepEqual(rt, []any{}) {
		t.Errorf("response_types = %v, want absent or []", rt)
	}
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"grant_types": []string{"authorization_code", "urn:example:unsupported"}})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"token_endpoint_auth_method": "bogus"})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"token_endpoint_auth_method": "private_key_jwt"})), 400, "invalid_client_metadata")
}

func TestREG23to31(t *testing.T) {
	e := newEnv(t)
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"scope": []string{"read"}})), 400, "invalid_client_metadata")
	reg := e.mustRegister(t, "/oauth", jsonWith(t, bodyV, map[string]any{"scope": "read write"}))
	if reg.m["scope"] != "read write" {
		t.Errorf("scope = %v", reg.m["scope"])
	}
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"logo_uri": "javascript:alert(1)"})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"client_uri": "not a url"})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"contacts": "dev@example.org"})), 400, "invalid_client_metadata")
	reg = e.mustRegister(t, "/oauth", jsonWith(t, bodyV, map[string]any{"contacts": []string{"dev@example.org"}}))
	if !reflect.DeepEqual(reg.m["contacts"], []any{"dev@example.org"}) {
		t.Errorf("contacts = %v", reg.m["contacts"])
	}
	// REG-27: byte-identical.
	reg = e.mustRegister(t, "/oauth", `{"redirect_uris":["https://client.example.org/cb"],"software_id":"4NRB1-0XZABZI9E6-5SM3R","software_version":"2.1"}`)
	if !strings.Contains(string(reg.r.Body), `"software_id":"4NRB1-0XZABZI9E6-5SM3R"`) || !strings.Contains(string(reg.r.Body), `"software_version":"2.1"`) {
		t.Errorf("software_id/version not echoed: %s", reg.r.Body)
	}
	// REG-28, REG-30.
	reg = e.mustRegister(t, "/oauth", `{"redirect_uris":["https://client.example.org/cb"],"client_name":"My Client","client_name#en":"My Client","client_name#ja-Jpan-JP":"クライアント名"}`)
	for k, v := range map[string]string{"client_name": "My Client", "client_name#en": "My Client", "client_name#ja-Jpan-JP": "クライアント名"} {
		if reg.m[k] != v {
			t.Errorf("%s = %v, want %q", k, reg.m[k], v)
		}
	}
	reg = e.mustRegister(t, "/oauth", jsonWith(t, bodyV, map[string]any{"client_name": "Ünïcødé ✓"}))
	if reg.m["client_name"] != "Ünïcødé ✓" {
		t.Errorf("client_name = %v", reg.m["client_name"])
	}
	// REG-31: a tag on a non-human-readable member is an unknown member.
	reg = e.mustRegister(t, "/oauth", jsonWith(t, bodyV, map[string]any{"redirect_uris#en": []string{"https://evil.example/cb"}}))
	if _, ok := reg.m["redirect_uris#en"]; ok || strings.Contains(string(reg.r.Body), "evil.example") {
		t.Errorf("redirect_uris#en kept: %s", reg.r.Body)
	}
}

func TestREG32andRSP08(t *testing.T) {
	e := newEnv(t)
	stmt := signStatement(t, e.publisher, map[string]any{"iss": publisherIssuer, "software_id": "S1", "client_name": "Stmt",
		"exp": e.clock.Now().Add(time.Hour).Unix(), "iat": e.clock.Now().Unix()}, nil)
	reg := e.mustRegister(t, "/stmt", jsonWith(t, bodyV, map[string]any{"client_name": "Json", "software_statement": stmt}))
	if reg.m["client_name"] != "Stmt" {
		t.Errorf("client_name = %v, want the statement's", reg.m["client_name"])
	}
	if reg.m["software_statement"] != stmt {
		t.Error("software_statement not echoed verbatim")
	}
	if reg.m["software_id"] != "S1" {
		t.Errorf("software_id = %v, want S1 top-level", reg.m["software_id"])
	}
	for _, k := range []string{"iss", "exp", "iat"} {
		if _, ok := reg.m[k]; ok {
			t.Errorf("JWT claim %s leaked into the metadata", k)
		}
	}
	// The stored registration carries the statement too.
	for _, r := range e.store.Registrations(e.servers["/stmt"]) {
		if r.SoftwareStatement != stmt || r.Metadata.ClientName != "Stmt" {
			t.Errorf("stored statement/metadata wrong")
		}
	}
	// A statement without kid verifies with any of the issuer's keys.
	noKid := e.publisher
	noKid.KeyID = ""
	e.mustRegister(t, "/stmt", jsonWith(t, bodyV, map[string]any{"software_statement": signStatement(t, noKid, map[string]any{"iss": publisherIssuer}, nil)}))
}

func TestREG35(t *testing.T) {
	e := newEnv(t)
	reg := e.mustRegister(t, "/oauth", jsonWith(t, bodyV, map[string]any{"software_statement": "a.b.c", "client_name": "Json"}))
	if _, ok := reg.m["software_statement"]; ok {
		t.Error("an unsupported statement was echoed as if used")
	}
	if reg.m["client_name"] != "Json" {
		t.Errorf("client_name = %v", reg.m["client_name"])
	}
}

func TestREG36(t *testing.T) {
	e := newEnv(t)
	r := e.post(t, "/iat", bodyV)
	checkErrorAnswer(t, r, http.StatusUnauthorized, "invalid_request")
	if r.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
	}
	r = e.post(t, "/iat", bodyV, "Bearer garbage")
	checkErrorAnswer(t, r, http.StatusUnauthorized, "invalid_token")
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
	}
	e.mustRegister(t, "/iat", bodyV, "Bearer "+iatToken)
	e.mustRegister(t, "/iat", bodyV, "bearer "+iatToken) // the scheme is case-insensitive
}

func TestREG38(t *testing.T) {
	e := newEnv(t)
	reg := e.mustRegister(t, "/oauth", jsonWith(t, bodyV, map[string]any{"client_id": "alice", "client_secret": "mine",
		"registration_access_token": "mine", "client_id_issued_at": 1, "client_secret_expires_at": 5}))
	if reg.id == "alice" || reg.secret == "mine" || reg.rat == "mine" || reg.m["client_secret_expires_at"] == 5.0 || reg.m["client_id_issued_at"] == 1.0 {
		t.Errorf("client-chosen credentials used: %s", reg.r.Body)
	}
}

func TestREG39(t *testing.T) {
	e := newEnv(t)
	e.sectors["https://client.example.org/sector.json"] = []string{"https://other.example/cb"}
	e.sectors["https://client.example.org/good.json"] = []string{"https://client.example.org/cb", "https://other.example/cb"}
	checkErrorAnswer(t, e.post(t, "/oidc", jsonWith(t, bodyV, map[string]any{"sector_identifier_uri": "https://client.example.org/sector.json"})), 400, "invalid_redirect_uri")
	checkErrorAnswer(t, e.post(t, "/oidc", jsonWith(t, bodyV, map[string]any{"sector_identifier_uri": "http://client.example.org/sector.json"})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oidc", jsonWith(t, bodyV, map[string]any{"sector_identifier_uri": "https://client.example.org/absent.json"})), 400, "invalid_client_metadata")
	e.mustRegister(t, "/oidc", `{"redirect_uris":["https://client.example.org/cb","https://other.example/cb"],"subject_type":"pairwise","sector_identifier_uri":"https://client.example.org/good.json"}`)
}

func TestREG40to44(t *testing.T) {
	e := newEnv(t)
	checkErrorAnswer(t, e.post(t, "/oidc", jsonWith(t, bodyV, map[string]any{"subject_type": "secret"})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oidc", `{"redirect_uris":["https://client.example.org/cb"],"grant_types":["implicit"],"response_types":["id_token"],"id_token_signed_response_alg":"none"}`), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oidc", jsonWith(t, bodyV, map[string]any{"id_token_encrypted_response_enc": "A128CBC-HS256"})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oidc", jsonWith(t, bodyV, map[string]any{"token_endpoint_auth_signing_alg": "none"})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oidc", jsonWith(t, bodyV, map[string]any{"default_max_age": "3600"})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oidc", jsonWith(t, bodyV, map[string]any{"require_auth_time": "yes"})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oidc", jsonWith(t, bodyV, map[string]any{"initiate_login_uri": "http://client.example.org/login"})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oidc", jsonWith(t, bodyP, map[string]any{"post_logout_redirect_uris": []string{"http://client.example.org/bye"}})), 400, "invalid_client_metadata")
	// The OIDC response types work with the implicit grant.
	e.mustRegister(t, "/oidc", `{"redirect_uris":["https://client.example.org/cb"],"grant_types":["authorization_code","implicit"],"response_types":["code id_token"]}`)
}

func TestREG45(t *testing.T) {
	e := newEnv(t)
	uris := make([]string, 500)
	for i := range uris {
		uris[i] = "https://client.example.org/cb/" + strings.Repeat("a", i%5) + string(rune('a'+i%26)) + "/" + strings.Repeat("0", i/26)
	}
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"redirect_uris": uris})), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"client_name": strings.Repeat("n", 1<<20)})), http.StatusRequestEntityTooLarge, "invalid_client_metadata")
	// A declared Content-Length over the limit is refused before reading.
	e.h.MaxBodyBytes = 100
	checkErrorAnswer(t, e.post(t, "/oauth", jsonWith(t, bodyV, map[string]any{"client_name": strings.Repeat("n", 200)})), http.StatusRequestEntityTooLarge, "invalid_client_metadata")
	if e.store.Len() != 0 {
		t.Fatal("something was stored")
	}
}

func TestRSP01to07(t *testing.T) {
	e := newEnv(t)
	a := e.mustRegister(t, "/oauth", bodyV)
	b := e.mustRegister(t, "/oauth", bodyV)
	if a.id == b.id || a.secret == b.secret || a.rat == b.rat {
		t.Error("two registrations share a credential (RSP-02, RSP-03)")
	}
	p := e.mustRegister(t, "/oauth", bodyP)
	if _, ok := p.m["client_secret"]; ok {
		t.Error("a public client got a secret (RSP-03)")
	}
	if _, ok := p.m["client_secret_expires_at"]; ok {
		t.Error("client_secret_expires_at without a secret")
	}
	if v, ok := a.m["client_secret_expires_at"].(float64); !ok || v != 0 {
		t.Errorf("client_secret_expires_at = %v, want the number 0 (RSP-04)", a.m["client_secret_expires_at"])
	}
	iat, ok := a.m["client_id_issued_at"].(float64)
	if !ok || math.Abs(iat-float64(e.clock.Now().Unix())) > 300 {
		t.Errorf("client_id_issued_at = %v (RSP-05)", a.m["client_id_issued_at"])
	}
	r := e.mustRegister(t, "/oauth", jsonWith(t, bodyV, map[string]any{"client_name": "Example", "scope": "read"}))
	for _, k := range []string{"redirect_uris", "client_name", "scope", "grant_types", "response_types", "token_endpoint_auth_method"} {
		if _, ok := r.m[k]; !ok {
			t.Errorf("response lacks %s (RSP-06)", k)
		}
	}
	two := e.mustRegister(t, "/oidc", jsonWith(t, bodyV, map[string]any{"redirect_uris": []string{"https://client.example.org/a", "https://client.example.org/b"}}))
	if !reflect.DeepEqual(two.m["redirect_uris"], []any{"https://client.example.org/a", "https://client.example.org/b"}) {
		t.Errorf("redirect_uris = %v (RSP-07)", two.m["redirect_uris"])
	}
	// A store with expiring secrets reports the expiry.
	e.store.SecretLifetime = time.Hour
	x := e.mustRegister(t, "/oauth", bodyV)
	if v, _ := x.m["client_secret_expires_at"].(float64); int64(v) != e.clock.Now().Add(time.Hour).Unix() {
		t.Errorf("client_secret_expires_at = %v, want now+1h", x.m["client_secret_expires_at"])
	}
}

func TestRSP09to11(t *testing.T) {
	e := newEnv(t)
	k := e.mustRegister(t, "/oauth", bodyK(t))
	if _, ok := k.m["jwks"]; !ok {
		t.Error("no jwks")
	}
	if _, ok := k.m["jwks_uri"]; ok {
		t.Error("jwks_uri next to jwks (RSP-09)")
	}
	if _, ok := k.m["client_secret"]; ok {
		t.Error("private_key_jwt client got a secret")
	}
	v := e.mustRegister(t, "/oauth", bodyV)
	u, err := url.Parse(v.rcu)
	if err != nil || !u.IsAbs() || u.Scheme != "https" {
		t.Errorf("registration_client_uri = %q (RSP-10)", v.rcu)
	}
	if v.r.Header.Get("Cache-Control") != "no-store" || v.r.Header.Get("Pragma") != "no-cache" {
		t.Errorf("cache headers %q %q (RSP-11)", v.r.Header.Get("Cache-Control"), v.r.Header.Get("Pragma"))
	}
}

func TestERR01to03(t *testing.T) {
	e := newEnv(t)
	checkErrorAnswer(t, e.post(t, "/oauth", `{"redirect_uris":["https://client.example.org/cb"],"jwks_uri":"https://c.example/j","jwks":{"keys":[]}}`), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.post(t, "/oauth", `{"redirect_uris":["http://evil.example/cb"]}`), 400, "invalid_redirect_uri")
	r := e.post(t, "/oauth", `{"redirect_uris":["https://client.example.org/cb"],"client_name":"é","jwks":{"foo":1}}`)
	checkErrorAnswer(t, r, 400, "invalid_client_metadata")
	r = e.post(t, "/oauth", `{"redirect_uris":["https://client.example.org/cb"],"client_name#é\"\\":"x","client_uri":"not a url"}`)
	checkErrorAnswer(t, r, 400, "invalid_client_metadata")
}

func TestMGT01to08(t *testing.T) {
	e := newEnv(t)
	a := e.mustRegister(t, "/oauth", `{"redirect_uris":["https://client.example.org/cb"],"client_name":"A","contacts":["a@example.org"]}`)
	b := e.mustRegister(t, "/oauth", bodyV)
	r := e.do(t, request{method: http.MethodGet, path: a.path})
	checkErrorAnswer(t, r, http.StatusUnauthorized, "invalid_request") // MGT-01
	r1 := e.get(t, a.path, a.rat)                                      // MGT-03
	if r1.Status != http.StatusOK || !strings.HasPrefix(r1.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET cfg = %d %s", r1.Status, r1.Body)
	}
	m1 := r1.Obj(t)
	if m1["client_id"] != a.id || !reflect.DeepEqual(m1["redirect_uris"], a.m["redirect_uris"]) {
		t.Errorf("read returned another client: %s", r1.Body)
	}
	// MGT-04.
	if m1["registration_client_uri"] != a.rcu || m1["registration_access_token"] != a.rat || m1["client_secret"] != a.secret {
		t.Errorf("read lacks the current credentials: %s", r1.Body)
	}
	if r1.Header.Get("Cache-Control") != "no-store" {
		t.Error("read response is cacheable")
	}
	// MGT-05: idempotent.
	if r2 := e.get(t, a.path, a.rat); string(r2.Body) != string(r1.Body) {
		t.Errorf("two reads differ:\n%s\n%s", r1.Body, r2.Body)
	}
	// The read answers everything the registration answered.
	if !reflect.DeepEqual(m1, a.m) {
		t.Errorf("read differs from the registration response:\n%s\n%s", r1.Body, a.r.Body)
	}
	checkErrorAnswer(t, e.get(t, a.path, "x"), http.StatusUnauthorized, "invalid_token")                             // MGT-06
	checkErrorAnswer(t, e.get(t, "/oauth/register/does-not-exist", a.rat), http.StatusUnauthorized, "invalid_token") // MGT-07
	before := e.store.Snapshot()
	checkErrorAnswer(t, e.get(t, b.path, a.rat), http.StatusUnauthorized, "invalid_token") // MGT-08
	if e.store.Snapshot() != before {
		t.Error("B changed")
	}
}

func TestMGT10to16(t *testing.T) {
	e := newEnv(t)
	r := e.mustRegister(t, "/oauth", `{"redirect_uris":["https://client.example.org/cb"],"client_name":"A","logo_uri":"https://client.example.org/l.png"}`)
	upd := e.put(t, r.path, r.rat, `{"client_id":"`+r.id+`","redirect_uris":["https://client.example.org/cb"],"client_name":"B"}`)
	if upd.Status != http.StatusOK {
		t.Fatalf("PUT = %d %s (MGT-10, MGT-14)", upd.Status, upd.Body)
	}
	m := upd.Obj(t)
	if m["client_name"] != "B" {
		t.Errorf("client_name = %v", m["client_name"])
	}
	if _, ok := m["logo_uri"]; ok {
		t.Error("logo_uri survived a full replacement (MGT-10)")
	}
	for _, k := range []string{"registration_client_uri", "registration_access_token", "client_secret", "client_secret_expires_at", "grant_types", "token_endpoint_auth_method"} {
		if _, ok := m[k]; !ok {
			t.Errorf("update response lacks %s (MGT-14)", k)
		}
	}
	if m["client_id"] != r.id || m["client_secret"] != r.secret || m["registration_access_token"] != r.rat {
		t.Errorf("credentials changed by an update without rotation: %s", upd.Body)
	}
	// MGT-16.
	if g := e.get(t, r.path, r.rat); g.Str(t, "client_id") != r.id || g.Str(t, "client_name") != "B" {
		t.Errorf("read after update: %s", g.Body)
	}
	// MGT-11: without / with another client_id; the client is unchanged.
	before := e.store.Snapshot()
	checkErrorAnswer(t, e.put(t, r.path, r.rat, `{"redirect_uris":["https://client.example.org/cb"]}`), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.put(t, r.path, r.rat, `{"client_id":"other","redirect_uris":["https://client.example.org/cb"]}`), 400, "invalid_client_metadata")
	// MGT-12: the full response as received.
	checkErrorAnswer(t, e.put(t, r.path, r.rat, string(upd.Body)), 400, "invalid_client_metadata")
	// MGT-13: a chosen secret.
	checkErrorAnswer(t, e.put(t, r.path, r.rat, `{"client_id":"`+r.id+`","client_secret":"chosen","redirect_uris":["https://client.example.org/cb"]}`), 400, "invalid_client_metadata")
	// MGT-15.
	checkErrorAnswer(t, e.put(t, r.path, r.rat, `{"client_id":"`+r.id+`","redirect_uris":["https://client.example.org/cb"],"jwks_uri":"https://c.example/j","jwks":{"keys":[]}}`), 400, "invalid_client_metadata")
	checkErrorAnswer(t, e.put(t, r.path, r.rat, `{"client_id":"`+r.id+`","redirect_uris":["http://evil.example/cb"]}`), 400, "invalid_redirect_uri")
	if e.store.Snapshot() != before {
		t.Fatal("a refused update changed the client")
	}
	// MGT-13: the current secret is accepted and stays.
	ok := e.put(t, r.path, r.rat, `{"client_id":"`+r.id+`","client_secret":"`+r.secret+`","redirect_uris":["https://client.example.org/cb"],"client_name":"C"}`)
	if ok.Status != http.StatusOK || ok.Str(t, "client_secret") != r.secret {
		t.Errorf("PUT with the current secret = %d %s", ok.Status, ok.Body)
	}
	// Switching to a public client drops the secret from responses.
	pub := e.put(t, r.path, r.rat, `{"client_id":"`+r.id+`","redirect_uris":["https://client.example.org/cb"],"token_endpoint_auth_method":"none"}`)
	if pub.Status != http.StatusOK {
		t.Fatalf("PUT none = %d %s", pub.Status, pub.Body)
	}
	if _, has := pub.Obj(t)["client_secret"]; has {
		t.Error("public client answered with a secret")
	}
}

func TestMGT17to18(t *testing.T) {
	e := newEnv(t)
	r := e.mustRegister(t, "/oauth", bodyV)
	other := e.mustRegister(t, "/oauth", bodyV)
	checkErrorAnswer(t, e.do(t, request{method: http.MethodPatch, path: r.path, auth: bearer(r.rat), body: `{}`}), http.StatusMethodNotAllowed, "invalid_request")
	d := e.do(t, request{method: http.MethodDelete, path: r.path, auth: bearer(r.rat)})
	if d.Status != http.StatusNoContent || len(d.Body) != 0 {
		t.Fatalf("DELETE = %d %q, want 204 without body", d.Status, d.Body)
	}
	if d.Header.Get("Cache-Control") != "no-store" {
		t.Error("DELETE answer is cacheable")
	}
	checkErrorAnswer(t, e.get(t, r.path, r.rat), http.StatusUnauthorized, "invalid_token")
	checkErrorAnswer(t, e.do(t, request{method: http.MethodDelete, path: r.path, auth: bearer(r.rat)}), http.StatusUnauthorized, "invalid_token")
	if e.store.Len() != 1 {
		t.Errorf("store holds %d registrations, want 1", e.store.Len())
	}
	if g := e.get(t, other.path, other.rat); g.Status != http.StatusOK {
		t.Error("deleting one client affected another")
	}
}

func TestMGT19andSEC12(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		r := e.mustRegister(t, "/oauth", bodyV)
		for _, v := range []string{r.rat, r.secret, r.id} {
			if seen[v] {
				t.Fatalf("repeated credential after %d registrations", i)
			}
			seen[v] = true
		}
		if len(r.rat) < 43 {
			t.Fatalf("registration access token of %d characters", len(r.rat))
		}
	}
}

func TestMGT20to22(t *testing.T) {
	e := newEnv(t)
	r := e.mustRegister(t, "/oauth", bodyV)
	e.clock.Advance(48 * time.Hour)
	if g := e.get(t, r.path, r.rat); g.Status != http.StatusOK {
		t.Errorf("RAT expired after 48h: %d (MGT-20)", g.Status)
	}
	// MGT-21, rotation on read.
	rot := e.mustRegister(t, "/rot", bodyV)
	g := e.get(t, rot.path, rot.rat)
	newRAT := g.Str(t, "registration_access_token")
	if g.Status != http.StatusOK || newRAT == "" || newRAT == rot.rat {
		t.Fatalf("no rotation on read: %s", g.Body)
	}
	checkErrorAnswer(t, e.get(t, rot.path, rot.rat), http.StatusUnauthorized, "invalid_token")
	// and on update.
	u := e.put(t, rot.path, newRAT, `{"client_id":"`+rot.id+`","redirect_uris":["https://client.example.org/cb"]}`)
	newer := u.Str(t, "registration_access_token")
	if u.Status != http.StatusOK || newer == "" || newer == newRAT {
		t.Fatalf("no rotation on update: %d %s", u.Status, u.Body)
	}
	checkErrorAnswer(t, e.get(t, rot.path, newRAT), http.StatusUnauthorized, "invalid_token")
	if g := e.get(t, rot.path, newer); g.Status != http.StatusOK || g.Str(t, "client_id") != rot.id {
		t.Errorf("rotated token does not work: %d", g.Status)
	}
	// MGT-22: the URI is absolute https and works verbatim.
	u2, err := url.Parse(r.rcu)
	if err != nil || !u2.IsAbs() || u2.Scheme != "https" {
		t.Fatalf("registration_client_uri %q", r.rcu)
	}
	if g := e.get(t, u2.Path, r.rat); g.Status != http.StatusOK {
		t.Errorf("GET on registration_client_uri = %d", g.Status)
	}
}

func TestMGT23(t *testing.T) {
	e := newEnv(t)
	r := e.mustRegister(t, "/iat", bodyV, "Bearer "+iatToken)
	checkErrorAnswer(t, e.post(t, "/iat", bodyV, "Bearer "+r.rat), http.StatusUnauthorized, "invalid_token")
	checkErrorAnswer(t, e.get(t, r.path, iatToken), http.StatusUnauthorized, "invalid_token")
}

func TestStoreFailures(t *testing.T) {
	e := newEnv(t)
	r := e.mustRegister(t, "/oauth", bodyV)
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"unavailable", endpoint.ErrUnavailable, http.StatusServiceUnavailable, "temporarily_unavailable"},
		{"wrapped unavailable", errors.Join(errors.New("x"), endpoint.ErrUnavailable), http.StatusServiceUnavailable, "temporarily_unavailable"},
		{"not found", endpoint.ErrNotFound, http.StatusUnauthorized, "invalid_token"},
		{"server gone", endpoint.ErrNoServer, http.StatusNotFound, "not_found"},
		{"unexpected", errors.New("etcd exploded: secret-ish detail"), http.StatusInternalServerError, "server_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.store.Err = func(string) error { return tc.err }
			defer func() { e.store.Err = nil }()
			p := e.post(t, "/oauth", bodyV)
			checkErrorAnswer(t, p, tc.status, tc.code)
			if strings.Contains(string(p.Body), "etcd") {
				t.Error("internal error detail leaked")
			}
			if tc.status == http.StatusServiceUnavailable && p.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			checkErrorAnswer(t, e.get(t, r.path, r.rat), tc.status, tc.code)
		})
	}
	// A nil store for a Stateful server is 503.
	h := &endpoint.Handler{Resolver: endpoint.NewStaticResolver(e.servers["/oauth"])}
	e2 := &env{h: h, store: e.store, clock: e.clock}
	checkErrorAnswer(t, e2.post(t, "/oauth", bodyV), http.StatusServiceUnavailable, "temporarily_unavailable")
}

func TestQuota(t *testing.T) {
	e := newEnv(t)
	e.mustRegister(t, "/quota", bodyV)
	checkErrorAnswer(t, e.post(t, "/quota", bodyV), http.StatusForbidden, "access_denied")
	// Other servers do not count.
	e.mustRegister(t, "/oauth", bodyV)
}

func TestPolicy(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{
		`{"redirect_uris":["https://client.example.org/cb"]}`,
		`{"redirect_uris":["https://CLIENT.example.org/cb"]}`,
		`{"redirect_uris":["https://a.apps.example/cb","https://b.c.apps.example/cb"]}`,
		`{"redirect_uris":["http://127.0.0.1:8080/cb"],"token_endpoint_auth_method":"none"}`,
		`{"application_type":"native","redirect_uris":["com.example.app:/cb"],"token_endpoint_auth_method":"none"}`,
		`{"redirect_uris":["https://client.example.org/cb"],"grant_types":["authorization_code","refresh_token"]}`,
	} {
		e.mustRegister(t, "/pol", body)
	}
	// The default auth method follows the policy.
	e2 := newEnv(t)
	srv := e2.servers["/pol"]
	srv.Policy.AllowedAuthMethods = []string{"private_key_jwt"}
	reg := e2.mustRegister(t, "/pol", jsonWith(t, bodyK(t), map[string]any{"token_endpoint_auth_method": nil}))
	if reg.m["token_endpoint_auth_method"] != "private_key_jwt" {
		t.Errorf("token_endpoint_auth_method = %v, want the policy's", reg.m["token_endpoint_auth_method"])
	}
}

// TestLegacyHook checks the hand-off to LegacyHandler.
func TestLegacyHook(t *testing.T) {
	e := newEnv(t)
	var got []string
	e.h.LegacyHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv, ok := endpoint.ServerFromContext(r.Context())
		body := make([]byte, 512)
		n, _ := r.Body.Read(body)
		if !ok {
			t.Error("no server in the legacy request context")
		} else {
			got = append(got, srv.Path+" "+string(body[:n]))
		}
		w.WriteHeader(http.StatusTeapot)
	})
	form := e.do(t, request{method: http.MethodPost, path: "/iat/register", contentType: "application/x-www-form-urlencoded", body: "type=client_associate&redirect_uris=x"})
	js := e.post(t, "/oauth", `{"type":"client_update","access_token":"x"}`)
	if form.Status != http.StatusTeapot || js.Status != http.StatusTeapot {
		t.Fatalf("not handed off: %d %d", form.Status, js.Status)
	}
	want := []string{"/iat type=client_associate&redirect_uris=x", `/oauth {"type":"client_update","access_token":"x"}`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("legacy handler saw %q, want %q", got, want)
	}
	// Other requests are not handed off, "TYPE" is not "type".
	e.mustRegister(t, "/oauth", jsonWith(t, bodyV, map[string]any{"TYPE": "client_associate", "type": "other"}))
	checkErrorAnswer(t, e.post(t, "/iat", bodyV), http.StatusUnauthorized, "invalid_request")
	checkErrorAnswer(t, e.post(t, "/oauth", strings.Repeat(" ", 70<<10)+"{}"), http.StatusRequestEntityTooLarge, "invalid_client_metadata")
}

// TestRegisterAPI checks the exported building blocks for the legacy handler.
func TestRegisterAPI(t *testing.T) {
	e := newEnv(t)
	srv := e.servers["/oauth"]
	info, err := e.h.Register(t.Context(), srv, nil)
	if err == nil {
		t.Fatalf("Register(nil) = %v; want an error (no redirect_uris)", info)
	}
	rec := httptest.NewRecorder()
	endpoint.WriteError(rec, err)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("WriteError status = %d", rec.Code)
	}
	var m map[string]string
	if json.Unmarshal(rec.Body.Bytes(), &m) != nil || m["error"] != "invalid_redirect_uri" {
		t.Errorf("WriteError body = %s", rec.Body)
	}
	s := (&endpoint.ClientInformation{ClientID: "c", ClientSecret: "s3cr3t", RegistrationAccessToken: "t0k3n"}).String()
	if strings.Contains(s, "s3cr3t") || strings.Contains(s, "t0k3n") {
		t.Errorf("String leaks secrets: %s", s)
	}
}
