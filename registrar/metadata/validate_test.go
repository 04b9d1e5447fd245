package metadata

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestRules has a good and a bad case for every rule, through the full
// Decode + WithDefaults + Validate pipeline.
func TestRules(t *testing.T) {
	testKeys(t)
	V := bodyV
	jwks := func(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }
	listOf := func(n int, f func(i int) string) string {
		s := make([]string, n)
		for i := range s {
			s[i] = strconv.Quote(f(i))
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	cases := []struct {
		id     string
		body   string
		policy Policy
		code   ErrorCode
		path   string
	}{
		// REG-06: JSON types.
		{"REG-06 bool ok", plus(t, V, `{"require_auth_time":true,"frontchannel_logout_session_required":false}`), oidc, "", ""},
		{"REG-06 bool number", plus(t, V, `{"backchannel_logout_session_required":1}`), oidc, ICM, "backchannel_logout_session_required"},
		{"REG-06 number float", plus(t, V, `{"default_max_age":3600.5}`), oidc, ICM, "default_max_age"},
		{"REG-06 number overflow", plus(t, V, `{"default_max_age":99999999999999999999}`), oidc, ICM, "default_max_age"},
		{"REG-06 string number", plus(t, V, `{"client_name":5}`), oauth, ICM, "client_name"},
		{"REG-06 list element", plus(t, V, `{"grant_types":["authorization_code",null]}`), oauth, ICM, "grant_types[1]"},
		{"REG-06 post_logout string", plus(t, V, `{"post_logout_redirect_uris":"https://client.example.org/bye"}`), oidc, ICM, "post_logout_redirect_uris"},
		{"REG-06 request_uris object", plus(t, V, `{"request_uris":{}}`), oidc, ICM, "request_uris"},
		{"REG-06 jwks array", plus(t, V, `{"jwks":[]}`), oauth, ICM, "jwks"},
		{"REG-06 localized number", plus(t, V, `{"client_name#en":1}`), oauth, ICM, "client_name#en"},
		{"REG-06 null is absent", plus(t, V, `{"client_name":null,"grant_types":null,"jwks":null,"default_max_age":null}`), oidc, "", ""},
		{"REG-06 duplicate member", `{"redirect_uris":["https://client.example.org/cb"],"redirect_uris":["https://evil.example/cb"]}`, oauth, IRU, "redirect_uris"},
		// REG-07
		{"REG-07 implicit needs redirect", `{"grant_types":["implicit"]}`, oauth, IRU, "redirect_uris"},
		{"REG-07 device code without redirect", `{"grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"token_endpoint_auth_method":"none"}`, oidc, "", ""},
		// REG-09 loopback with V-style body
		{"REG-09 ipv6 loopback", `{"redirect_uris":["http://[::1]:8080/cb"]}`, oauth, "", ""},
		// REG-11 duplicates are raw-compared
		{"REG-11 duplicate", `{"redirect_uris":["https://client.example.org/cb","https://client.example.org/cb"]}`, oauth, IRU, "redirect_uris[1]"},
		// REG-12: native https is allowed (RFC 8252 §7.2)
		{"REG-12 native claimed https", `{"application_type":"native","redirect_uris":["https://app.example.com/cb"],"token_endpoint_auth_method":"none"}`, oidc, "", ""},
		{"REG-12 web implicit https", `{"grant_types":["implicit"],"response_types":["id_token token"],"redirect_uris":["https://client.example.org/cb"]}`, oidc, "", ""},
		{"REG-12 web implicit loopback http", `{"grant_types":["implicit"],"response_types":["token"],"redirect_uris":["http://127.0.0.1/cb"]}`, oidc, IRU, "redirect_uris[0]"},
		{"REG-12 native plain OAuth app type checked", plus(t, V, `{"application_type":"Native"}`), oauth, ICM, "application_type"},
		// REG-14
		{"REG-14 jwks only", plus(t, V, `{"jwks":`+jwks(ecPublicJWK)+`}`), oauth, "", ""},
		{"REG-14 jwks_uri only", plus(t, V, `{"jwks_uri":"https://client.example.org/jwks.json"}`), oauth, "", ""},
		// REG-15
		{"REG-15 keys not array", plus(t, V, `{"jwks":{"keys":{}}}`), oauth, ICM, "jwks"},
		{"REG-15 key not object", plus(t, V, `{"jwks":{"keys":["x"]}}`), oauth, ICM, "jwks"},
		{"REG-15 missing kty", plus(t, V, `{"jwks":{"keys":[{"x":"y"}]}}`), oauth, ICM, "jwks"},
		{"REG-15 bad EC point", plus(t, V, `{"jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}}`), oauth, ICM, "jwks"},
		{"REG-15 unknown kty ignored", plus(t, V, `{"jwks":{"keys":[{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}]}}`), oauth, "", ""},
		{"REG-15 jwks_uri no host", plus(t, V, `{"jwks_uri":"https:///jwks"}`), oauth, ICM, "jwks_uri"},
		{"REG-15 jwks_uri private IP", plus(t, V, `{"jwks_uri":"https://10.0.0.7/jwks"}`), oauth, ICM, "jwks_uri"},
		{"REG-15 jwks_uri private IP allowed", plus(t, V, `{"jwks_uri":"https://10.0.0.7/jwks"}`), Policy{AllowPrivateFetchTargets: true}, "", ""},
		{"REG-15 jwks too large", plus(t, V, `{"jwks":`+jwks(ecPublicJWK)+`}`), Policy{MaxJWKSBytes: 64}, ICM, "jwks"},
		// REG-16
		{"REG-16 RSA p", plus(t, V, `{"jwks":`+jwks(rsaPublicWithP)+`}`), oauth, ICM, "jwks"},
		{"REG-16 second key private", plus(t, V, `{"jwks":`+jwks(ecPublicJWK, ecPrivateJWK)+`}`), oauth, ICM, "jwks"},
		// REG-18 (Appendix A, OIDC table)
		{"REG-18 hybrid ok", plus(t, V, `{"grant_types":["authorization_code","implicit"],"response_types":["code id_token","id_token code token","code"]}`), oidc, "", ""},
		{"REG-18 hybrid missing implicit", plus(t, V, `{"grant_types":["authorization_code"],"response_types":["code id_token"]}`), oidc, ICM, "response_types[0]"},
		{"REG-18 id_token needs implicit", plus(t, V, `{"grant_types":["authorization_code"],"response_types":["code","id_token"]}`), oidc, ICM, "response_types[1]"},
		{"REG-18 unused implicit grant", plus(t, V, `{"grant_types":["authorization_code","implicit"],"response_types":["code"]}`), oidc, ICM, "grant_types[1]"},
		{"REG-18 code grant without response", plus(t, V, `{"grant_types":["authorization_code"],"response_types":[]}`), oauth, ICM, "grant_types[0]"},
		{"REG-18 set duplicate", plus(t, V, `{"grant_types":["authorization_code","implicit"],"response_types":["code id_token","id_token code"]}`), oidc, ICM, "response_types[1]"},
		{"REG-18 id_token not OAuth", plus(t, V, `{"grant_types":["implicit"],"response_types":["id_token"]}`), oauth, ICM, "response_types[0]"},
		{"REG-18 double space", plus(t, V, `{"grant_types":["authorization_code","implicit"],"response_types":["code  token"]}`), oauth, ICM, "response_types[0]"},
		{"REG-18 implicit token default", `{"grant_types":["implicit"],"redirect_uris":["https://client.example.org/cb"]}`, oauth, "", ""},
		{"REG-18 none alone", plus(t, V, `{"response_types":["code","none"]}`), oidc, "", ""},
		{"REG-18 none combined", plus(t, V, `{"response_types":["code none"]}`), oidc, ICM, "response_types[0]"},
		{"REG-18 supported list", plus(t, V, `{"grant_types":["authorization_code","implicit"],"response_types":["code token"]}`), Policy{OIDC: true, SupportedResponseTypes: []string{"code", "code id_token"}}, ICM, "response_types[0]"},
		{"REG-18 default grant vs explicit response", plus(t, V, `{"response_types":["token"]}`), oauth, ICM, "response_types[0]"},
		// REG-20
		{"REG-20 supported", plus(t, V, `{"grant_types":["authorization_code","refresh_token"]}`), oauth, "", ""},
		{"REG-20 policy restricts", plus(t, V, `{"grant_types":["authorization_code","password"]}`), Policy{SupportedGrantTypes: []string{"authorization_code"}}, ICM, "grant_types[1]"},
		{"REG-20 duplicate", plus(t, V, `{"grant_types":["authorization_code","authorization_code"]}`), oauth, ICM, "grant_types[1]"},
		// REG-21
		{"REG-21 URI method", plus(t, V, `{"token_endpoint_auth_method":"urn:example:auth:attested"}`), oauth, "", ""},
		{"REG-21 case", plus(t, V, `{"token_endpoint_auth_method":"Client_Secret_Basic"}`), oauth, ICM, "token_endpoint_auth_method"},
		{"REG-21 policy restricts", plus(t, V, `{"token_endpoint_auth_method":"client_secret_post"}`), Policy{SupportedAuthMethods: []string{"private_key_jwt"}}, ICM, "token_endpoint_auth_method"},
		// REG-22
		{"REG-22 private_key_jwt jwks_uri", plus(t, V, `{"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://client.example.org/jwks"}`), oauth, "", ""},
		{"REG-22 private_key_jwt empty set", plus(t, V, `{"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[]}}`), oauth, ICM, "jwks"},
		{"REG-22 self-signed without keys", plus(t, V, `{"token_endpoint_auth_method":"self_signed_tls_client_auth"}`), oauth, ICM, "token_endpoint_auth_method"},
		{"REG-22 tls one", plus(t, V, `{"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_san_dns":"client.example.org"}`), oauth, "", ""},
		{"REG-22 tls none", plus(t, V, `{"token_endpoint_auth_method":"tls_client_auth"}`), oauth, ICM, "token_endpoint_auth_method"},
		{"REG-22 tls two", plus(t, V, `{"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_san_dns":"a.example","tls_client_auth_subject_dn":"CN=a"}`), oauth, ICM, "token_endpoint_auth_method"},
		{"REG-22 tls member without tls method", plus(t, V, `{"tls_client_auth_san_dns":"a.example"}`), oauth, ICM, "tls_client_auth_san_dns"},
		{"REG-22 tls bad ip", plus(t, V, `{"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_san_ip":"1.2.3"}`), oauth, ICM, "tls_client_auth_san_ip"},
		{"REG-22 tls ip", plus(t, V, `{"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_san_ip":"2001:db8::1"}`), oauth, "", ""},
		{"REG-22 none with HS256", plus(t, V, `{"token_endpoint_auth_method":"none","id_token_signed_response_alg":"HS256"}`), oidc, ICM, "id_token_signed_response_alg"},
		// REG-23
		{"REG-23 single token", plus(t, V, `{"scope":"openid"}`), oauth, "", ""},
		{"REG-23 double space", plus(t, V, `{"scope":"read  write"}`), oauth, ICM, "scope"},
		{"REG-23 leading space", plus(t, V, `{"scope":" read"}`), oauth, ICM, "scope"},
		{"REG-23 quote", plus(t, V, `{"scope":"read \"x\""}`), oauth, ICM, "scope"},
		{"REG-23 printable ASCII", plus(t, V, `{"scope":"read:all urn:x!~ a[b]"}`), oauth, "", ""},
		{"REG-23 non-ASCII bad", plus(t, V, `{"scope":"lécture"}`), oauth, ICM, "scope"},
		// REG-24
		{"REG-24 http client_uri", plus(t, V, `{"client_uri":"http://client.example.org/","logo_uri":"https://client.example.org/l.png#x","tos_uri":"https://client.example.org/tos","policy_uri":"https://client.example.org/p"}`), oauth, "", ""},
		{"REG-24 data logo", plus(t, V, `{"logo_uri":"data:image/png;base64,AAAA"}`), oauth, ICM, "logo_uri"},
		{"REG-24 tos no host", plus(t, V, `{"tos_uri":"https:/tos"}`), oauth, ICM, "tos_uri"},
		{"REG-24 policy custom scheme", plus(t, V, `{"policy_uri":"com.example.app:/policy"}`), oauth, ICM, "policy_uri"},
		{"REG-24 localized javascript", plus(t, V, `{"logo_uri#en":"javascript:alert(1)"}`), oauth, ICM, "logo_uri#en"},
		{"REG-24 localized ok", plus(t, V, `{"tos_uri#de-DE":"https://client.example.org/agb"}`), oauth, "", ""},
		// REG-26
		{"REG-26 contacts element number", plus(t, V, `{"contacts":[1]}`), oauth, ICM, "contacts[0]"},
		{"REG-26 contacts empty element", plus(t, V, `{"contacts":[""]}`), oauth, ICM, "contacts[0]"},
		// REG-28
		{"REG-28 bad tag", plus(t, V, `{"client_name#":"x"}`), oauth, ICM, "client_name#"},
		{"REG-28 bad tag chars", plus(t, V, `{"client_name#en_US":"x"}`), oauth, ICM, "client_name#en_US"},
		{"REG-28 control char", plus(t, V, `{"client_name#en":"a\u0007b"}`), oauth, ICM, "client_name#en"},
		// REG-40
		{"REG-40 pairwise", plus(t, V, `{"subject_type":"pairwise"}`), oidc, "", ""},
		{"REG-40 policy restricts", plus(t, V, `{"subject_type":"pairwise"}`), Policy{OIDC: true, SupportedSubjectTypes: []string{"public"}}, ICM, "subject_type"},
		{"REG-40 pairwise two hosts", `{"subject_type":"pairwise","redirect_uris":["https://a.example/cb","https://b.example/cb"]}`, oidc, ICM, "sector_identifier_uri"},
		{"REG-40 pairwise two hosts with sector", `{"subject_type":"pairwise","sector_identifier_uri":"https://a.example/s.json","redirect_uris":["https://a.example/cb","https://b.example/cb"]}`, oidc, "", ""},
		// REG-41
		{"REG-41 none with code", plus(t, V, `{"id_token_signed_response_alg":"none"}`), oidc, "", ""},
		{"REG-41 none with hybrid", plus(t, V, `{"grant_types":["authorization_code","implicit"],"response_types":["code id_token"],"id_token_signed_response_alg":"none"}`), oidc, ICM, "id_token_signed_response_alg"},
		// REG-42
		{"REG-42 alg and enc", plus(t, V, `{"id_token_encrypted_response_alg":"RSA-OAEP","id_token_encrypted_response_enc":"A256GCM","userinfo_encrypted_response_alg":"ECDH-ES"}`), oidc, "", ""},
		{"REG-42 userinfo enc", plus(t, V, `{"userinfo_encrypted_response_enc":"A128GCM"}`), oidc, ICM, "userinfo_encrypted_response_enc"},
		{"REG-42 request object enc", plus(t, V, `{"request_object_encryption_enc":"A128GCM"}`), oidc, ICM, "request_object_encryption_enc"},
		{"REG-42 signing alg RS256", plus(t, V, `{"token_endpoint_auth_signing_alg":"RS256"}`), oidc, "", ""},
		{"REG-42 alg with space", plus(t, V, `{"request_object_signing_alg":"RS256 ES256"}`), oidc, ICM, "request_object_signing_alg"},
		// REG-43
		{"REG-43 ok", plus(t, V, `{"default_max_age":3600,"require_auth_time":true,"initiate_login_uri":"https://client.example.org/login","request_uris":["https://client.example.org/r.jwt#abc"],"default_acr_values":["urn:mace:incommon:iap:silver"]}`), oidc, "", ""},
		{"REG-43 zero max age", plus(t, V, `{"default_max_age":0}`), oidc, "", ""},
		{"REG-43 negative max age", plus(t, V, `{"default_max_age":-1}`), oidc, ICM, "default_max_age"},
		{"REG-43 request_uris http", plus(t, V, `{"request_uris":["https://client.example.org/r","http://client.example.org/r"]}`), oidc, ICM, "request_uris[1]"},
		{"REG-43 request_uris localhost", plus(t, V, `{"request_uris":["https://localhost/r"]}`), oidc, ICM, "request_uris[0]"},
		{"REG-43 acr empty", plus(t, V, `{"default_acr_values":[""]}`), oidc, ICM, "default_acr_values[0]"},
		// REG-44
		{"REG-44 https", plus(t, bodyP, `{"post_logout_redirect_uris":["https://client.example.org/bye"]}`), oidc, "", ""},
		{"REG-44 loopback", plus(t, bodyN, `{"post_logout_redirect_uris":["http://127.0.0.1/bye"]}`), oidc, "", ""},
		{"REG-44 native scheme", plus(t, bodyN, `{"post_logout_redirect_uris":["com.example.app:/bye"]}`), oidc, "", ""},
		{"REG-44 web scheme", plus(t, bodyP, `{"post_logout_redirect_uris":["com.example.app:/bye"]}`), oidc, ICM, "post_logout_redirect_uris[0]"},
		{"REG-44 fragment", plus(t, bodyP, `{"post_logout_redirect_uris":["https://client.example.org/bye#x"]}`), oidc, ICM, "post_logout_redirect_uris[0]"},
		{"REG-44 logout URIs", plus(t, V, `{"frontchannel_logout_uri":"https://client.example.org/fc","backchannel_logout_uri":"http://127.0.0.1/bc"}`), oidc, "", ""},
		{"REG-44 frontchannel http", plus(t, V, `{"frontchannel_logout_uri":"http://client.example.org/fc"}`), oidc, ICM, "frontchannel_logout_uri"},
		{"REG-44 backchannel fragment", plus(t, V, `{"backchannel_logout_uri":"https://client.example.org/bc#f"}`), oidc, ICM, "backchannel_logout_uri"},
		{"REG-44 sector ok", plus(t, V, `{"sector_identifier_uri":"https://client.example.org/sector.json"}`), oidc, "", ""},
		// REG-45
		{"REG-45 100 redirect URIs", `{"redirect_uris":` + listOf(100, func(i int) string { return "https://client.example.org/" + strconv.Itoa(i) }) + `}`, oauth, "", ""},
		{"REG-45 101 redirect URIs", `{"redirect_uris":` + listOf(101, func(i int) string { return "https://client.example.org/" + strconv.Itoa(i) }) + `}`, oauth, ICM, "redirect_uris"},
		{"REG-45 policy redirect limit", `{"redirect_uris":["https://a.example/1","https://a.example/2"]}`, Policy{MaxRedirectURIs: 1}, ICM, "redirect_uris"},
		{"REG-45 long redirect URI", `{"redirect_uris":["https://client.example.org/` + strings.Repeat("a", 3000) + `"]}`, oauth, IRU, "redirect_uris[0]"},
		{"REG-45 contacts", plus(t, V, `{"contacts":`+listOf(101, func(i int) string { return "a" + strconv.Itoa(i) + "@example.org" })+`}`), oauth, ICM, "contacts"},
		{"REG-45 string limit ok", plus(t, V, `{"client_name":"`+strings.Repeat("a", 2048)+`"}`), oauth, "", ""},
		{"REG-45 string limit", plus(t, V, `{"client_name":"`+strings.Repeat("a", 2049)+`"}`), oauth, ICM, "client_name"},
		{"REG-45 scope", plus(t, V, `{"scope":"`+strings.Repeat("a ", 1100)+`a"}`), oauth, ICM, "scope"},
		{"REG-45 statement limit", plus(t, V, `{"software_statement":"`+strings.Repeat("a", 16385)+`"}`), oauth, ICM, "software_statement"},
		{"REG-45 statement ok", plus(t, V, `{"software_statement":"`+strings.Repeat("a", 16000)+`"}`), oauth, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			_, errs := run(t, tc.body, false, tc.policy)
			if tc.code == "" {
				if len(errs) != 0 {
					t.Fatalf("want success, got %v (%s)", errs, paths(errs))
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("want %s at %q, got success", tc.code, tc.path)
			}
			if errs.Code() != tc.code || errs[0].Path() != tc.path {
				t.Errorf("got %s / first %q, want %s at %q (%s)", errs.Code(), errs[0].Path(), tc.code, tc.path, paths(errs))
			}
		})
	}
}

// TestValidateReportsAll checks that Validate collects every violation and
// orders redirect URI problems first.
func TestValidateReportsAll(t *testing.T) {
	body := `{
		"redirect_uris":["https://client.example.org/cb","http://evil.example/cb","myapp:/cb"],
		"grant_types":["authorization_code","urn:example:nope"],
		"token_endpoint_auth_method":"bogus",
		"scope":"a  b",
		"logo_uri":"javascript:alert(1)",
		"jwks_uri":"https://client.example.org/jwks",
		"jwks":{"keys":[{"kty":"oct","k":"AAAA"}]},
		"subject_type":"secret",
		"default_max_age":-5
	}`
	_, errs := run(t, body, false, oidc)
	want := []string{
		"invalid_redirect_uri@redirect_uris[1]",
		"invalid_redirect_uri@redirect_uris[2]",
		"invalid_client_metadata@grant_types[1]",
		"invalid_client_metadata@jwks",
		"invalid_client_metadata@jwks",
		"invalid_client_metadata@token_endpoint_auth_method",
		"invalid_client_metadata@scope",
		"invalid_client_metadata@logo_uri",
		"invalid_client_metadata@subject_type",
		"invalid_client_metadata@default_max_age",
	}
	if got := paths(errs); got != strings.Join(want, ", ") {
		t.Fatalf("errors:\n got %s\nwant %s", got, strings.Join(want, ", "))
	}
	if errs.Code() != CodeInvalidRedirectURI || errs.Primary() != errs[0] {
		t.Errorf("Code() = %s, Primary() = %v", errs.Code(), errs.Primary())
	}
	if errs.Err() == nil {
		t.Error("Err() = nil for a non-empty list")
	}
}

// TestDecodeMultipleTypeErrors checks that Decode reports every type error.
func TestDecodeMultipleTypeErrors(t *testing.T) {
	_, err := Decode([]byte(`{"scope":1,"redirect_uris":"x","jwks":"x","contacts":["a",2]}`), false)
	l, ok := err.(ErrorList)
	if !ok {
		t.Fatalf("err = %T %v", err, err)
	}
	if got, want := paths(l), "invalid_redirect_uri@redirect_uris, invalid_client_metadata@scope, invalid_client_metadata@jwks, invalid_client_metadata@contacts[1]"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if l.Code() != CodeInvalidRedirectURI {
		t.Errorf("Code() = %s", l.Code())
	}
}

// TestValidateProgrammatic covers rules that only metadata built in Go (by the
// reconciler) can break: reserved Extra keys, bad Localized keys, limits on
// maps, invalid UTF-8.
func TestValidateProgrammatic(t *testing.T) {
	base := func() *Metadata { return &Metadata{RedirectURIs: []string{"https://client.example.org/cb"}} }
	cases := []struct {
		name string
		mod  func(m *Metadata)
		path string // "" = valid
	}{
		{"valid", func(m *Metadata) {}, ""},
		{"extra ok", func(m *Metadata) { m.Extra = map[string]json.RawMessage{"x_tier": json.RawMessage(`"gold"`)} }, ""},
		{"extra shadows known", func(m *Metadata) { m.Extra = map[string]json.RawMessage{"redirect_uris": json.RawMessage(`[]`)} }, "redirect_uris"},
		{"extra shadows credential", func(m *Metadata) { m.Extra = map[string]json.RawMessage{"client_id": json.RawMessage(`"x"`)} }, "client_id"},
		{"extra shadows localized", func(m *Metadata) { m.Extra = map[string]json.RawMessage{"client_name#en": json.RawMessage(`"x"`)} }, "client_name#en"},
		{"extra invalid JSON", func(m *Metadata) { m.Extra = map[string]json.RawMessage{"x": json.RawMessage(`{`)} }, "x"},
		{"extra too large", func(m *Metadata) {
			m.Extra = map[string]json.RawMessage{"x": json.RawMessage(`"` + strings.Repeat("a", 3000) + `"`)}
		}, "x"},
		{"localized not human-readable", func(m *Metadata) { m.Localized = map[string]string{"redirect_uris#en": "x"} }, "redirect_uris#en"},
		{"localized without tag", func(m *Metadata) { m.Localized = map[string]string{"client_name": "x"} }, "client_name"},
		{"too many localized", func(m *Metadata) {
			m.Localized = map[string]string{}
			for i := 0; i < 101; i++ {
				m.Localized["client_name#x"+strconv.Itoa(i)] = "n"
			}
		}, ""},
		{"invalid UTF-8", func(m *Metadata) { m.ClientName = "a\xffb" }, "client_name"},
		{"invalid UTF-8 redirect", func(m *Metadata) { m.RedirectURIs = []string{"https://client.example.org/\xff"} }, "redirect_uris[0]"},
		{"jwks invalid JSON", func(m *Metadata) { m.JWKS = json.RawMessage(`{"keys":[`) }, "jwks"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.mod(m)
			errs := Validate(m, oauth)
			if tc.name == "valid" || tc.name == "extra ok" {
				if len(errs) != 0 {
					t.Fatalf("want valid, got %s", paths(errs))
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("want an error at %q", tc.path)
			}
			if errs[0].Path() != tc.path {
				t.Errorf("first error at %q, want %q (%s)", errs[0].Path(), tc.path, paths(errs))
			}
		})
	}
}

// TestValidateWithoutDefaults checks that Validate judges absent members by
// their defaults, and that a nil Metadata does not panic.
func TestValidateWithoutDefaults(t *testing.T) {
	if errs := Validate(&Metadata{GrantTypes: []string{"client_credentials"}}, oauth); len(errs) != 0 {
		t.Errorf("client_credentials without response_types: %s", paths(errs))
	}
	if errs := Validate(&Metadata{RedirectURIs: []string{"https://client.example.org/cb"}}, oidc); len(errs) != 0 {
		t.Errorf("V without defaults: %s", paths(errs))
	}
	errs := Validate(nil, oauth)
	if len(errs) != 1 || errs[0].Path() != "redirect_uris" {
		t.Errorf("Validate(nil) = %s", paths(errs))
	}
}

func TestWithDefaults(t *testing.T) {
	in := &Metadata{RedirectURIs: []string{"https://client.example.org/cb"}, IDTokenEncryptedResponseAlg: "RSA-OAEP"}
	out := WithDefaults(in, oidc)
	if in.GrantTypes != nil || in.ResponseTypes != nil || in.TokenEndpointAuthMethod != "" || in.ApplicationType != "" || in.IDTokenEncryptedResponseEnc != "" {
		t.Fatalf("WithDefaults mutated its input: %+v", in)
	}
	if strings.Join(out.GrantTypes, ",") != "authorization_code" || strings.Join(out.ResponseTypes, ",") != "code" ||
		out.TokenEndpointAuthMethod != "client_secret_basic" || out.ApplicationType != "web" || out.IDTokenEncryptedResponseEnc != "A128CBC-HS256" {
		t.Errorf("defaults = %+v", out)
	}
	if d := WithDefaults(in, oauth); d.ApplicationType != "" || d.IDTokenEncryptedResponseEnc != "" {
		t.Errorf("OIDC defaults applied without OIDC: %+v", d)
	}
	cc := WithDefaults(&Metadata{GrantTypes: []string{"client_credentials"}}, oauth)
	if cc.ResponseTypes == nil || len(cc.ResponseTypes) != 0 {
		t.Errorf("client_credentials response_types = %#v, want non-nil empty", cc.ResponseTypes)
	}
	both := WithDefaults(&Metadata{GrantTypes: []string{"implicit", "authorization_code"}}, oauth)
	if strings.Join(both.ResponseTypes, ",") != "code,token" {
		t.Errorf("response_types = %v", both.ResponseTypes)
	}
	keep := WithDefaults(&Metadata{ResponseTypes: []string{}, TokenEndpointAuthMethod: "none"}, oauth)
	if keep.ResponseTypes == nil || len(keep.ResponseTypes) != 0 || keep.TokenEndpointAuthMethod != "none" {
		t.Errorf("explicit values replaced: %+v", keep)
	}
	pk := WithDefaults(&Metadata{}, Policy{SupportedAuthMethods: []string{"private_key_jwt", "none"}})
	if pk.TokenEndpointAuthMethod != "private_key_jwt" {
		t.Errorf("method = %q, want first supported", pk.TokenEndpointAuthMethod)
	}
	if WithDefaults(nil, oauth) == nil {
		t.Error("WithDefaults(nil) = nil")
	}
}

func TestUsesRedirectsNeedsSecret(t *testing.T) {
	cases := []struct {
		m         Metadata
		redirects bool
		secret    bool
	}{
		{Metadata{}, true, true},
		{Metadata{GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "private_key_jwt"}, false, false},
		{Metadata{GrantTypes: []string{"refresh_token", "implicit"}, TokenEndpointAuthMethod: "none"}, true, false},
		{Metadata{TokenEndpointAuthMethod: "client_secret_post"}, true, true},
		{Metadata{TokenEndpointAuthMethod: "client_secret_jwt"}, true, true},
		{Metadata{TokenEndpointAuthMethod: "tls_client_auth"}, true, false},
		{Metadata{TokenEndpointAuthMethod: "private_key_jwt", IDTokenSignedResponseAlg: "HS256"}, true, true},
		{Metadata{TokenEndpointAuthMethod: "private_key_jwt", UserinfoEncryptedResponseAlg: "A128KW"}, true, true},
		{Metadata{TokenEndpointAuthMethod: "private_key_jwt", IDTokenSignedResponseAlg: "RS256"}, true, false},
	}
	for i, tc := range cases {
		if got := tc.m.UsesRedirects(); got != tc.redirects {
			t.Errorf("%d: UsesRedirects() = %v", i, got)
		}
		if got := tc.m.NeedsSecret(); got != tc.secret {
			t.Errorf("%d: NeedsSecret() = %v", i, got)
		}
	}
}

func TestFieldErrorAndList(t *testing.T) {
	e := &FieldError{Member: "redirect_uris", Index: 2, Code: CodeInvalidRedirectURI, Detail: "must not contain a fragment", Value: "https://x/#y"}
	if e.Path() != "redirect_uris[2]" || e.Error() != "redirect_uris[2]: must not contain a fragment" {
		t.Errorf("Path %q Error %q", e.Path(), e.Error())
	}
	body := &FieldError{Index: -1, Code: CodeInvalidClientMetadata, Detail: "request body must be a JSON object"}
	if body.Path() != "" || body.Error() != "request body must be a JSON object" {
		t.Errorf("Path %q Error %q", body.Path(), body.Error())
	}
	var empty ErrorList
	if empty.Err() != nil || empty.Code() != "" || empty.Primary() != nil || empty.Description() != "" {
		t.Error("empty list is not empty")
	}
	l := ErrorList{
		{Member: "scope", Index: -1, Code: CodeInvalidClientMetadata, Detail: "d1"},
		e,
		{Member: "software_statement", Index: -1, Code: CodeUnapprovedSoftwareStatement, Detail: "d2"},
	}
	if l.Code() != CodeUnapprovedSoftwareStatement {
		t.Errorf("Code() = %s", l.Code())
	}
	l = append(l, &FieldError{Member: "software_statement", Index: -1, Code: CodeInvalidSoftwareStatement, Detail: "d3"})
	if l.Code() != CodeInvalidSoftwareStatement || l.Primary() != l[3] {
		t.Errorf("Code() = %s", l.Code())
	}
	if got := l[:2].Code(); got != CodeInvalidRedirectURI {
		t.Errorf("Code() = %s, want invalid_redirect_uri to win over invalid_client_metadata", got)
	}
	if got := l[:2].Description(); got != "redirect_uris[2]: must not contain a fragment (and 1 more)" {
		t.Errorf("Description() = %q", got)
	}
	if strings.Contains(l.Error(), "https://x/#y") {
		t.Error("Error() includes Value")
	}
	var long ErrorList
	for i := 0; i < 15; i++ {
		long = append(long, &FieldError{Member: "m", Index: i, Code: CodeInvalidClientMetadata, Detail: "d"})
	}
	if s := long.Error(); !strings.HasSuffix(s, "; and 5 more") || strings.Count(s, "m[") != 10 {
		t.Errorf("Error() = %q", s)
	}
}

// TestCheckJWK pins the REG-15/REG-16 verdict for individual keys.
func TestCheckJWK(t *testing.T) {
	testKeys(t)
	cases := []struct {
		jwk  string
		want string // substring of the detail; "" = accepted
	}{
		{ecPublicJWK, ""},
		{ecPrivateJWK, "private or symmetric"},
		{rsaPublicWithP, "private or symmetric"},
		{`{"kty":"oct","k":"AAAA"}`, "private or symmetric"},
		{`{"kty":"oct","kid":"no-k"}`, "symmetric (oct)"},
		{`{"kty":"AKP","alg":"ML-DSA-44","pub":"AAAA","priv":"AAAA"}`, "private or symmetric"},
		{`{"kty":"RSA","n":"AQAB","e":"AQAB","oth":[]}`, "private or symmetric"},
		{`{"kty":1}`, "kty"},
		{`{}`, "kty"},
		{`[]`, "JSON object"},
		{`{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}`, "wrong length for its curve"},
		{`{"kty":"EC","crv":"P-999","x":"AAAA","y":"AAAA"}`, "unsupported curve"},
		{`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`, ""},
		{`{"kty":"OKP","crv":"Ed25519","x":"AAAA"}`, "wrong length for its curve"},
		{`{"kty":"future","use":"sig"}`, ""},
	}
	for _, tc := range cases {
		got := checkJWK(json.RawMessage(tc.jwk))
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("checkJWK(%.60s) = %q, want %q", tc.jwk, got, tc.want)
		}
	}
}
