package metadata

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const (
	ICM = CodeInvalidClientMetadata
	IRU = CodeInvalidRedirectURI
)

// protocolCase is one docs/requirements.md test body pushed through
// Decode + WithDefaults + Validate. code "" means the registration succeeds.
type protocolCase struct {
	id     string
	body   string
	policy Policy
	code   ErrorCode
	path   string                                                          // Path of the first error
	check  func(t *testing.T, m *Metadata, out map[string]any, raw string) // extra checks on success
}

func protocolCases(t *testing.T) []protocolCase {
	testKeys(t)
	V := bodyV
	kWithD := plus(t, bodyV, `{"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[`+ecPrivateJWK+`]}}`)
	many := make([]string, 500)
	for i := range many {
		many[i] = `"https://client.example.org/cb` + strconv.Itoa(i) + `"`
	}
	return []protocolCase{
		// REG-02
		{id: "REG-02 array body", body: `["x"]`, code: ICM, path: ""},
		{id: "REG-02 not JSON", body: `redirect_uris=https%3A%2F%2Fclient.example.org%2Fcb`, code: ICM, path: ""},
		{id: "REG-02 empty", body: ``, code: ICM, path: ""},
		{id: "REG-02 two objects", body: V + `{}`, code: ICM, path: ""},
		{id: "REG-02 truncated", body: `{"redirect_uris":["https://client.example.org/cb"]`, code: ICM, path: ""},
		// REG-04
		{id: "REG-04 unknown ignored", body: plus(t, V, `{"x_unknown":123,"foo":{"a":1}}`),
			check: func(t *testing.T, m *Metadata, out map[string]any, _ string) {
				if _, ok := out["x_unknown"]; ok {
					t.Error("x_unknown echoed")
				}
				if _, ok := out["foo"]; ok {
					t.Error("foo echoed")
				}
			}},
		// REG-05
		{id: "REG-05 member case", body: `{"Redirect_URIs":["https://client.example.org/cb"]}`, code: IRU, path: "redirect_uris"},
		{id: "REG-05 value case", body: plus(t, V, `{"grant_types":["Authorization_Code"]}`), code: ICM, path: "grant_types[0]"},
		// REG-06
		{id: "REG-06 grant_types string", body: plus(t, V, `{"grant_types":"authorization_code"}`), code: ICM, path: "grant_types"},
		{id: "REG-06 redirect_uris string", body: `{"redirect_uris":"https://client.example.org/cb"}`, code: IRU, path: "redirect_uris"},
		{id: "REG-06 jwks string", body: plus(t, V, `{"jwks":"abc"}`), code: ICM, path: "jwks"},
		{id: "REG-06 redirect_uris element", body: `{"redirect_uris":["https://client.example.org/cb",7]}`, code: IRU, path: "redirect_uris[1]"},
		// REG-07
		{id: "REG-07 empty body", body: `{}`, code: IRU, path: "redirect_uris"},
		{id: "REG-07 empty body OIDC", body: `{}`, policy: oidc, code: IRU, path: "redirect_uris"},
		{id: "REG-07 client_credentials", body: `{"grant_types":["client_credentials"],"response_types":[]}`,
			check: func(t *testing.T, m *Metadata, out map[string]any, _ string) {
				if _, ok := out["redirect_uris"]; ok {
					t.Error("redirect_uris appeared")
				}
			}},
		// REG-08
		{id: "REG-08 relative", body: `{"redirect_uris":["/cb"]}`, code: IRU, path: "redirect_uris[0]"},
		{id: "REG-08 fragment", body: `{"redirect_uris":["https://client.example.org/cb#x"]}`, code: IRU, path: "redirect_uris[0]"},
		// REG-09
		{id: "REG-09 http", body: `{"redirect_uris":["http://client.example.org/cb"]}`, code: IRU, path: "redirect_uris[0]"},
		{id: "REG-09 javascript", body: `{"redirect_uris":["javascript:alert(1)"]}`, code: IRU, path: "redirect_uris[0]"},
		{id: "REG-09 N", body: bodyN, policy: oidc},
		{id: "REG-09 N plain OAuth", body: bodyN},
		// REG-10
		{id: "REG-10 no dot", body: `{"application_type":"native","redirect_uris":["myapp:/cb"],"token_endpoint_auth_method":"none"}`,
			policy: oidc, code: IRU, path: "redirect_uris[0]"},
		{id: "REG-10 reverse domain", body: `{"application_type":"native","redirect_uris":["com.example.app:/cb"],"token_endpoint_auth_method":"none"}`,
			policy: oidc},
		// REG-11
		{id: "REG-11 wildcard", body: `{"redirect_uris":["https://*.example.org/cb"]}`, code: IRU, path: "redirect_uris[0]"},
		{id: "REG-11 verbatim", body: `{"redirect_uris":["https://client.example.org/cb?a=1&b=2"]}`,
			check: func(t *testing.T, m *Metadata, out map[string]any, raw string) {
				if !strings.Contains(raw, `"redirect_uris":["https://client.example.org/cb?a=1&b=2"]`) {
					t.Errorf("redirect URI not byte-identical in %s", raw)
				}
			}},
		// REG-12
		{id: "REG-12 web implicit localhost", body: `{"application_type":"web","grant_types":["implicit"],"response_types":["id_token"],"redirect_uris":["https://localhost/cb"]}`,
			policy: oidc, code: IRU, path: "redirect_uris[0]"},
		{id: "REG-12 native http", body: `{"application_type":"native","redirect_uris":["http://client.example.org/cb"]}`,
			policy: oidc, code: IRU, path: "redirect_uris[0]"},
		{id: "REG-12 desktop", body: plus(t, V, `{"application_type":"desktop"}`), policy: oidc, code: ICM, path: "application_type"},
		{id: "REG-12 default web", body: V, policy: oidc,
			check: func(t *testing.T, m *Metadata, out map[string]any, _ string) {
				if out["application_type"] != "web" {
					t.Errorf("application_type = %v, want web", out["application_type"])
				}
			}},
		// REG-13
		{id: "REG-13 IP loopback", body: bodyN, policy: oidc},
		{id: "REG-13 localhost rejected", body: plus(t, bodyN, `{"redirect_uris":["http://localhost/cb"]}`), policy: oidc, code: IRU, path: "redirect_uris[0]"},
		{id: "REG-13 localhost allowed", body: plus(t, bodyN, `{"redirect_uris":["http://localhost/cb"]}`), policy: Policy{OIDC: true, AllowLocalhostName: true}},
		// REG-14
		{id: "REG-14 both", body: plus(t, V, `{"jwks_uri":"https://client.example.org/jwks","jwks":{"keys":[]}}`), code: ICM, path: "jwks"},
		// REG-15
		{id: "REG-15 no keys", body: plus(t, V, `{"jwks":{"foo":1}}`), code: ICM, path: "jwks"},
		{id: "REG-15 jwks_uri http", body: plus(t, V, `{"jwks_uri":"http://client.example.org/jwks"}`), code: ICM, path: "jwks_uri"},
		// REG-16
		{id: "REG-16 K", body: bodyK(t), policy: oidc},
		{id: "REG-16 K with d", body: kWithD, policy: oidc, code: ICM, path: "jwks"},
		{id: "REG-16 oct", body: plus(t, V, `{"jwks":{"keys":[{"kty":"oct","k":"AAAA"}]}}`), policy: oidc, code: ICM, path: "jwks"},
		// REG-17
		{id: "REG-17 defaults", body: V,
			check: func(t *testing.T, m *Metadata, out map[string]any, _ string) {
				want := map[string]any{
					"grant_types":                []any{"authorization_code"},
					"response_types":             []any{"code"},
					"token_endpoint_auth_method": "client_secret_basic",
				}
				for k, v := range want {
					if !reflect.DeepEqual(out[k], v) {
						t.Errorf("%s = %v, want %v", k, out[k], v)
					}
				}
				if !m.NeedsSecret() {
					t.Error("NeedsSecret() = false for client_secret_basic")
				}
			}},
		// REG-18
		{id: "REG-18 code grant token response", body: plus(t, V, `{"grant_types":["authorization_code"],"response_types":["token"]}`), code: ICM, path: "response_types[0]"},
		{id: "REG-18 implicit grant code response", body: plus(t, V, `{"grant_types":["implicit"],"response_types":["code"]}`), code: ICM, path: "response_types[0]"},
		// REG-19
		{id: "REG-19 client_credentials only", body: `{"grant_types":["client_credentials"]}`,
			check: func(t *testing.T, m *Metadata, out map[string]any, raw string) {
				if rt, ok := out["response_types"]; ok && !reflect.DeepEqual(rt, []any{}) {
					t.Errorf("response_types = %v, want absent or []", rt)
				}
				if strings.Contains(raw, `"code"`) {
					t.Errorf("code leaked into %s", raw)
				}
			}},
		// REG-20
		{id: "REG-20 unsupported grant", body: plus(t, V, `{"grant_types":["authorization_code","urn:example:unsupported"]}`), code: ICM, path: "grant_types[1]"},
		// REG-21
		{id: "REG-21 bogus method", body: plus(t, V, `{"token_endpoint_auth_method":"bogus"}`), code: ICM, path: "token_endpoint_auth_method"},
		// REG-22
		{id: "REG-22 private_key_jwt without keys", body: plus(t, V, `{"token_endpoint_auth_method":"private_key_jwt"}`), code: ICM, path: "token_endpoint_auth_method"},
		// REG-23
		{id: "REG-23 scope array", body: plus(t, V, `{"scope":["read"]}`), code: ICM, path: "scope"},
		{id: "REG-23 scope string", body: plus(t, V, `{"scope":"read write"}`),
			check: func(t *testing.T, m *Metadata, out map[string]any, _ string) {
				if out["scope"] != "read write" {
					t.Errorf("scope = %v", out["scope"])
				}
			}},
		// REG-24
		{id: "REG-24 javascript logo", body: plus(t, V, `{"logo_uri":"javascript:alert(1)"}`), code: ICM, path: "logo_uri"},
		{id: "REG-24 not a url", body: plus(t, V, `{"client_uri":"not a url"}`), code: ICM, path: "client_uri"},
		// REG-26
		{id: "REG-26 contacts string", body: plus(t, V, `{"contacts":"dev@example.org"}`), code: ICM, path: "contacts"},
		{id: "REG-26 contacts array", body: plus(t, V, `{"contacts":["dev@example.org"]}`),
			check: func(t *testing.T, m *Metadata, out map[string]any, _ string) {
				if !reflect.DeepEqual(out["contacts"], []any{"dev@example.org"}) {
					t.Errorf("contacts = %v", out["contacts"])
				}
			}},
		// REG-27
		{id: "REG-27 software", body: plus(t, V, `{"software_id":"4NRB1-0XZABZI9E6-5SM3R","software_version":"2.1"}`),
			check: func(t *testing.T, m *Metadata, out map[string]any, raw string) {
				if !strings.Contains(raw, `"software_id":"4NRB1-0XZABZI9E6-5SM3R"`) || !strings.Contains(raw, `"software_version":"2.1"`) {
					t.Errorf("software members not echoed verbatim: %s", raw)
				}
			}},
		// REG-28
		{id: "REG-28 localized", body: plus(t, V, `{"client_name":"My Client","client_name#en":"My Client","client_name#ja-Jpan-JP":"クライアント名"}`),
			check: func(t *testing.T, m *Metadata, out map[string]any, _ string) {
				for k, v := range map[string]string{"client_name": "My Client", "client_name#en": "My Client", "client_name#ja-Jpan-JP": "クライアント名"} {
					if out[k] != v {
						t.Errorf("%s = %v, want %q", k, out[k], v)
					}
				}
			}},
		// REG-30
		{id: "REG-30 unicode", body: plus(t, V, `{"client_name":"Ünïcødé ✓"}`),
			check: func(t *testing.T, m *Metadata, out map[string]any, _ string) {
				if out["client_name"] != "Ünïcødé ✓" {
					t.Errorf("client_name = %q", out["client_name"])
				}
			}},
		// REG-31
		{id: "REG-31 tagged redirect_uris", body: plus(t, V, `{"redirect_uris#en":["https://evil.example/cb"]}`),
			check: func(t *testing.T, m *Metadata, out map[string]any, raw string) {
				if !reflect.DeepEqual(m.RedirectURIs, []string{"https://client.example.org/cb"}) || strings.Contains(raw, "evil") {
					t.Errorf("tagged redirect_uris used: %v / %s", m.RedirectURIs, raw)
				}
			}},
		// REG-38
		{id: "REG-38 client-chosen credentials", body: plus(t, V, `{"client_id":"alice","client_secret":"mine","client_id_issued_at":1,"client_secret_expires_at":0,"registration_access_token":"x","registration_client_uri":"https://evil.example/"}`),
			check: func(t *testing.T, m *Metadata, out map[string]any, _ string) {
				for _, k := range []string{"client_id", "client_secret", "client_id_issued_at", "client_secret_expires_at", "registration_access_token", "registration_client_uri"} {
					if _, ok := out[k]; ok {
						t.Errorf("%s echoed", k)
					}
				}
			}},
		// REG-39 (syntax part) and SEC-13
		{id: "REG-39 sector http", body: plus(t, V, `{"sector_identifier_uri":"http://client.example.org/sector.json"}`), policy: oidc, code: ICM, path: "sector_identifier_uri"},
		{id: "SEC-13 sector metadata IP", body: plus(t, V, `{"sector_identifier_uri":"https://169.254.169.254/latest/meta-data"}`), policy: oidc, code: ICM, path: "sector_identifier_uri"},
		// REG-40
		{id: "REG-40 subject_type", body: plus(t, V, `{"subject_type":"secret"}`), policy: oidc, code: ICM, path: "subject_type"},
		// REG-41
		{id: "REG-41 unsigned id_token", body: `{"redirect_uris":["https://client.example.org/cb"],"grant_types":["implicit"],"response_types":["id_token"],"id_token_signed_response_alg":"none"}`,
			policy: oidc, code: ICM, path: "id_token_signed_response_alg"},
		// REG-42
		{id: "REG-42 enc without alg", body: plus(t, V, `{"id_token_encrypted_response_enc":"A128CBC-HS256"}`), policy: oidc, code: ICM, path: "id_token_encrypted_response_enc"},
		{id: "REG-42 auth signing none", body: plus(t, V, `{"token_endpoint_auth_signing_alg":"none"}`), policy: oidc, code: ICM, path: "token_endpoint_auth_signing_alg"},
		// REG-43
		{id: "REG-43 max age string", body: plus(t, V, `{"default_max_age":"3600"}`), policy: oidc, code: ICM, path: "default_max_age"},
		{id: "REG-43 auth time string", body: plus(t, V, `{"require_auth_time":"yes"}`), policy: oidc, code: ICM, path: "require_auth_time"},
		{id: "REG-43 initiate login http", body: plus(t, V, `{"initiate_login_uri":"http://client.example.org/login"}`), policy: oidc, code: ICM, path: "initiate_login_uri"},
		// REG-44
		{id: "REG-44 post logout http", body: plus(t, bodyP, `{"post_logout_redirect_uris":["http://client.example.org/bye"]}`), policy: oidc, code: ICM, path: "post_logout_redirect_uris[0]"},
		// REG-45
		{id: "REG-45 500 redirect URIs", body: `{"redirect_uris":[` + strings.Join(many, ",") + `]}`, code: ICM, path: "redirect_uris"},
		{id: "REG-45 1MB client_name", body: plus(t, V, `{"client_name":"`+strings.Repeat("a", 1<<20)+`"}`), code: ICM, path: "client_name"},
		// ERR-01, ERR-02
		{id: "ERR-01", body: plus(t, V, `{"jwks_uri":"https://c.example/j","jwks":{"keys":[]}}`), code: ICM, path: "jwks"},
		{id: "ERR-02", body: `{"redirect_uris":["http://evil.example/cb"]}`, code: IRU, path: "redirect_uris[0]"},
		// RSP-07: redirect URIs are neither dropped nor reordered.
		{id: "RSP-07", body: plus(t, V, `{"redirect_uris":["https://client.example.org/b","https://client.example.org/a"]}`),
			check: func(t *testing.T, m *Metadata, out map[string]any, _ string) {
				if !reflect.DeepEqual(out["redirect_uris"], []any{"https://client.example.org/b", "https://client.example.org/a"}) {
					t.Errorf("redirect_uris = %v", out["redirect_uris"])
				}
			}},
		// RSP-03: public client needs no secret.
		{id: "RSP-03 P", body: bodyP,
			check: func(t *testing.T, m *Metadata, _ map[string]any, _ string) {
				if m.NeedsSecret() {
					t.Error("NeedsSecret() = true for token_endpoint_auth_method none")
				}
			}},
	}
}

func TestProtocolBodies(t *testing.T) {
	for _, tc := range protocolCases(t) {
		t.Run(tc.id, func(t *testing.T) {
			m, errs := run(t, tc.body, false, tc.policy)
			if tc.code == "" {
				if len(errs) != 0 {
					t.Fatalf("want success, got %v (%s)", errs, paths(errs))
				}
				raw, out := encode(t, m)
				if tc.check != nil {
					tc.check(t, m, out, raw)
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("want %s at %q, got success", tc.code, tc.path)
			}
			if got := errs.Code(); got != tc.code {
				t.Errorf("Code() = %s, want %s (%s)", got, tc.code, paths(errs))
			}
			if got := errs[0].Path(); got != tc.path {
				t.Errorf("first error path = %q, want %q (%s)", got, tc.path, paths(errs))
			}
			if errs[0].Code != errs.Code() {
				t.Errorf("first error code %s differs from list code %s", errs[0].Code, errs.Code())
			}
		})
	}
}

// TestErrorDescriptionASCII is ERR-03: the description never echoes
// non-ASCII input and avoids '"' and '\'.
func TestErrorDescriptionASCII(t *testing.T) {
	re := regexp.MustCompile(`^[\x20\x21\x23-\x5B\x5D-\x7E]*$`)
	bodies := []string{
		plus(t, bodyV, `{"client_name":"é","jwks":{"foo":1}}`),
		plus(t, bodyV, `{"client_name#é":"x"}`),
		`{"redirect_uris":["https://client.example.org/\"é\\"]}`,
	}
	for _, body := range bodies {
		_, errs := run(t, body, true, oidc)
		if len(errs) == 0 {
			t.Fatalf("%s: want an error", body)
		}
		if d := errs.Description(); d == "" || !re.MatchString(d) {
			t.Errorf("%s: Description() = %q is not RFC 6749 §5.2 safe", body, d)
		}
		for _, e := range errs {
			if !re.MatchString(e.Detail) {
				t.Errorf("Detail %q is not ASCII-safe", e.Detail)
			}
		}
	}
}

// TestDecodeNeverSecret checks that Value never carries a software statement
// or key material.
func TestValueNeverSecret(t *testing.T) {
	testKeys(t)
	body := plus(t, bodyV, `{"software_statement":"`+strings.Repeat("s", 20000)+`","jwks":{"keys":[`+ecPrivateJWK+`]}}`)
	_, errs := run(t, body, false, oauth)
	if len(errs) < 2 {
		t.Fatalf("want errors for software_statement and jwks, got %s", paths(errs))
	}
	for _, e := range errs {
		if e.Value != "" {
			t.Errorf("%s: Value = %q, want empty", e.Path(), e.Value)
		}
	}
	var probe map[string]any
	_ = json.Unmarshal([]byte(ecPrivateJWK), &probe)
	if d, _ := probe["d"].(string); d == "" || strings.Contains(errs.Error(), d) {
		t.Error("private key material in error text")
	}
}
