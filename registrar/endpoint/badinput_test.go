package endpoint_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/internal/josetest"
)

const (
	icm = "invalid_client_metadata"
	iru = "invalid_redirect_uri"
	iss = "invalid_software_statement"
	uss = "unapproved_software_statement"
	itk = "invalid_token"
	irq = "invalid_request"
	nfd = "not_found"
	acd = "access_denied"
)

// Bearer challenge expectations.
const (
	noChallenge   = iota // no WWW-Authenticate
	bareChallenge        // "Bearer" without error (RFC 6750 §3.1)
	tokenError           // Bearer error="invalid_token"
	requestError         // Bearer error="invalid_request"
)

type badCase struct {
	name      string
	method    string // default POST
	path      string // default /oauth/register
	ct        string // default application/json
	noCT      bool
	auth      []string
	body      string
	status    int
	code      string
	challenge int
	allow     string // expected Allow header, if any
}

// badFixture registers the clients the table refers to and returns the
// placeholder replacer.
func badFixture(t *testing.T, e *env) *strings.Replacer {
	t.Helper()
	a := e.mustRegister(t, "/oauth", `{"redirect_uris":["https://client.example.org/cb"],"client_name":"A"}`)
	b := e.mustRegister(t, "/oauth", `{"redirect_uris":["https://client.example.org/cb"],"client_name":"B"}`)
	r := e.mustRegister(t, "/rot", bodyV)
	rr := e.get(t, r.path, r.rat) // rotates: r.rat is now dead
	if rr.Status != http.StatusOK || rr.Str(t, "registration_access_token") == r.rat {
		t.Fatalf("rotation on read did not happen: %d %s", rr.Status, rr.Body)
	}
	s := e.mustRegister(t, "/sl", bodyV)
	s2 := e.mustRegister(t, "/sl", bodyV)
	se := e.mustRegister(t, "/sle", bodyV)
	e.mustRegister(t, "/quota", bodyV)
	flip := func(s string) string {
		last := s[len(s)-1]
		repl := byte('A')
		if last == 'A' {
			repl = 'B'
		}
		return s[:len(s)-1] + string(repl)
	}
	flipMiddle := func(s string) string {
		i := len(s) - 10
		repl := byte('A')
		if s[i] == 'A' {
			repl = 'B'
		}
		return s[:i] + string(repl) + s[i+1:]
	}
	// A client id with one payload character changed (the signature breaks).
	sParts := strings.Split(s.id, ".")
	mid := []byte(sParts[1])
	if mid[5] == 'x' {
		mid[5] = 'y'
	} else {
		mid[5] = 'x'
	}
	tamperedS := sParts[0] + "." + string(mid) + "." + sParts[2]
	return strings.NewReplacer(
		"{A}", a.path, "{B}", b.path, "{R}", rr.Str(t, "registration_client_uri")[len(issuerBase):],
		"{A.h}", strings.TrimPrefix(a.path, "/oauth/register/"), "{A.id}", a.id, "{B.id}", b.id, "{A.secret}", a.secret,
		"{RAT_A}", a.rat, "{RAT_B}", b.rat, "{RAT_R_OLD}", r.rat,
		"{A.body}", string(a.r.Body),
		"{S}", s.path, "{S2}", s2.path, "{S.id}", s.id, "{RAT_S}", s.rat, "{RAT_S2}", s2.rat,
		"{RAT_S_FLIP}", flip(s.rat), "{RAT_S_MID}", flipMiddle(s.rat), "{S_TAMPERED}", "/sl/register/"+tamperedS,
		"{RAT_SE}", se.rat, "{SE.id}", se.id,
		"{IAT}", iatToken,
	)
}

// statementCases are the software statement rows; they need keys.
func statementCases(t *testing.T, e *env) []badCase {
	t.Helper()
	now := e.clock.Now()
	good := map[string]any{"iss": publisherIssuer, "software_id": "S1"}
	with := func(extra map[string]any) map[string]any { return josetest.With(good, extra) }
	stmtBody := func(stmt string) string {
		return `{"redirect_uris":["https://client.example.org/cb"],"software_statement":"` + stmt + `"}`
	}
	attacker := ecJWK(t, "pub-1") // same kid, other key
	hmacKey := jose.JSONWebKey{Key: []byte(strings.Repeat("k", 32)), KeyID: "pub-1"}
	row := func(name, stmt, code string) badCase {
		return badCase{name: name, path: "/stmt/register", body: stmtBody(stmt), status: http.StatusBadRequest, code: code}
	}
	return []badCase{
		row("stmt alg none", unsignedJWT(t, good), iss),
		row("stmt without iss", signStatement(t, e.publisher, with(map[string]any{"iss": nil}), nil), iss),
		row("stmt iss not a string", signStatement(t, e.publisher, with(map[string]any{"iss": 7}), nil), iss),
		row("stmt unknown issuer", signStatement(t, attacker, with(map[string]any{"iss": "https://attacker.example"}), nil), uss),
		row("stmt bad signature", signStatement(t, attacker, good, nil), iss),
		row("stmt expired", signStatement(t, e.publisher, with(map[string]any{"exp": now.Add(-time.Hour).Unix()}), nil), iss),
		row("stmt exp not a number", signStatement(t, e.publisher, with(map[string]any{"exp": "tomorrow"}), nil), iss),
		row("stmt not yet valid", signStatement(t, e.publisher, with(map[string]any{"nbf": now.Add(time.Hour).Unix()}), nil), iss),
		row("stmt malformed a.b.c", "a.b.c", iss),
		row("stmt two segments", "abc.def", iss),
		row("stmt HS256", signStatement(t, hmacKey, good, nil), iss),
		row("stmt claims of wrong type", signStatement(t, e.publisher, with(map[string]any{"redirect_uris": "https://x.example/cb"}), nil), iss),
		row("stmt payload not an object", signStatementRaw(t, e.publisher, `["x"]`), iss),
		row("stmt crit header", signStatement(t, e.publisher, good, map[jose.HeaderKey]any{"crit": []string{"x-unknown"}, "x-unknown": 1}), iss),
		row("stmt claims break redirect rules", signStatement(t, e.publisher, with(map[string]any{"redirect_uris": []string{"http://evil.example/cb"}}), nil), iru),
		{name: "stmt not a string", path: "/stmt/register", body: `{"redirect_uris":["https://client.example.org/cb"],"software_statement":42}`,
			status: http.StatusBadRequest, code: icm},
	}
}

// signStatementRaw signs an arbitrary payload.
func signStatementRaw(t *testing.T, key jose.JSONWebKey, payload string) string {
	t.Helper()
	return josetest.Sign(t, jose.SigningKey{Algorithm: jose.ES256, Key: key.Key},
		(&jose.SignerOptions{}).WithHeader("kid", key.KeyID), []byte(payload))
}

func badCases() []badCase {
	v := func(extra string) string { return `{"redirect_uris":["https://client.example.org/cb"],` + extra + `}` }
	ru := func(uris string) string { return `{"redirect_uris":[` + uris + `]}` }
	many := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = `"https://client.example.org/cb` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `/` + strings.Repeat("0", i/26) + `"`
		}
		return ru(strings.Join(parts, ","))
	}
	bad := http.StatusBadRequest
	c := func(name, body string, status int, code string) badCase {
		return badCase{name: name, body: body, status: status, code: code}
	}
	oidc := func(name, body string, code string) badCase {
		return badCase{name: name, path: "/oidc/register", body: body, status: bad, code: code}
	}
	return []badCase{
		// Body syntax (REG-02).
		c("malformed JSON", `{`, bad, icm),
		c("truncated member", `{"redirect_uris":`, bad, icm),
		c("JSON array", `["x"]`, bad, icm),
		c("JSON string", `"x"`, bad, icm),
		c("JSON null", `null`, bad, icm),
		c("JSON number", `123`, bad, icm),
		c("whitespace body", "  \n ", bad, icm),
		c("two objects", bodyV+`{}`, bad, icm),
		c("trailing garbage", bodyV+`x`, bad, icm),
		c("single quotes", `{'redirect_uris':['https://client.example.org/cb']}`, bad, icm),
		c("invalid UTF-8 in string", "{\"redirect_uris\":[\"https://client.example.org/cb\"],\"client_name\":\"\xff\"}", bad, icm),
		c("empty object", `{}`, bad, iru),
		c("duplicate redirect_uris", `{"redirect_uris":["https://client.example.org/a"],"redirect_uris":["https://client.example.org/b"]}`, bad, iru),
		c("duplicate client_name", v(`"client_name":"a","client_name":"b"`), bad, icm),
		// Case sensitivity (REG-05).
		c("member name case", `{"Redirect_URIs":["https://client.example.org/cb"]}`, bad, iru),
		c("grant type case", v(`"grant_types":["Authorization_Code"]`), bad, icm),
		c("auth method case", v(`"token_endpoint_auth_method":"Client_Secret_Basic"`), bad, icm),
		c("response type case", v(`"response_types":["CODE"]`), bad, icm),
		// JSON types (REG-06).
		c("grant_types string", v(`"grant_types":"authorization_code"`), bad, icm),
		c("grant_types number element", v(`"grant_types":[1]`), bad, icm),
		c("redirect_uris string", `{"redirect_uris":"https://client.example.org/cb"}`, bad, iru),
		c("redirect_uris number element", `{"redirect_uris":[1]}`, bad, iru),
		c("redirect_uris object", `{"redirect_uris":{"a":"https://client.example.org/cb"}}`, bad, iru),
		c("response_types string", v(`"response_types":"code"`), bad, icm),
		c("jwks string", v(`"jwks":"abc"`), bad, icm),
		c("jwks array", v(`"jwks":[]`), bad, icm),
		c("scope array", v(`"scope":["read"]`), bad, icm),
		c("scope number", v(`"scope":1`), bad, icm),
		c("client_name number", v(`"client_name":123`), bad, icm),
		c("client_name#en number", v(`"client_name#en":1`), bad, icm),
		c("contacts string", v(`"contacts":"dev@example.org"`), bad, icm),
		c("contacts number element", v(`"contacts":[1]`), bad, icm),
		c("software_id number", v(`"software_id":4`), bad, icm),
		c("software_version array", v(`"software_version":["1"]`), bad, icm),
		c("client_uri object", v(`"client_uri":{}`), bad, icm),
		c("default_max_age string", v(`"default_max_age":"3600"`), bad, icm),
		c("default_max_age float", v(`"default_max_age":1.5`), bad, icm),
		c("require_auth_time string", v(`"require_auth_time":"yes"`), bad, icm),
		c("token_endpoint_auth_method array", v(`"token_endpoint_auth_method":["none"]`), bad, icm),
		// Redirect URIs (REG-07 to REG-11).
		c("relative redirect", ru(`"/cb"`), bad, iru),
		c("fragment", ru(`"https://client.example.org/cb#x"`), bad, iru),
		c("empty fragment", ru(`"https://client.example.org/cb#"`), bad, iru),
		c("http non-loopback", ru(`"http://client.example.org/cb"`), bad, iru),
		c("http evil", ru(`"http://evil.example/cb"`), bad, iru),
		c("javascript scheme", ru(`"javascript:alert(1)"`), bad, iru),
		c("data scheme", ru(`"data:text/html,<script>alert(1)</script>"`), bad, iru),
		c("vbscript scheme", ru(`"vbscript:msgbox(1)"`), bad, iru),
		c("file scheme", ru(`"file:///etc/passwd"`), bad, iru),
		c("wildcard host", ru(`"https://*.example.org/cb"`), bad, iru),
		c("private-use scheme without dot", `{"application_type":"native","redirect_uris":["myapp:/cb"],"token_endpoint_auth_method":"none"}`, bad, iru),
		c("space in redirect", ru(`"https://client.example.org/c b"`), bad, iru),
		c("userinfo in redirect", ru(`"https://user@client.example.org/cb"`), bad, iru),
		c("non-ASCII redirect", ru(`"https://client.example.org/\u00e9"`), bad, iru),
		c("control char in redirect", ru(`"https://client.example.org/\u0001"`), bad, iru),
		c("empty redirect", ru(`""`), bad, iru),
		c("redirect without host", ru(`"https:///cb"`), bad, iru),
		c("too long redirect", ru(`"https://client.example.org/`+strings.Repeat("a", 3000)+`"`), bad, iru),
		c("duplicate redirect values", ru(`"https://client.example.org/cb","https://client.example.org/cb"`), bad, iru),
		c("too many redirects", many(101), bad, icm),
		c("localhost name", `{"application_type":"native","redirect_uris":["http://localhost/cb"],"token_endpoint_auth_method":"none"}`, bad, iru),
		// Grant and response types (REG-18 to REG-20).
		c("code grant with token response", v(`"grant_types":["authorization_code"],"response_types":["token"]`), bad, icm),
		c("implicit grant with code response", v(`"grant_types":["implicit"],"response_types":["code"]`), bad, icm),
		c("unsupported grant", v(`"grant_types":["authorization_code","urn:example:unsupported"]`), bad, icm),
		c("empty grants with token response", v(`"grant_types":[],"response_types":["token"]`), bad, icm),
		c("duplicate response types", v(`"response_types":["code","code"]`), bad, icm),
		c("unknown response type", v(`"response_types":["bogus"]`), bad, icm),
		c("double space response type", v(`"grant_types":["authorization_code","implicit"],"response_types":["code  token"]`), bad, icm),
		c("id_token response without OIDC", v(`"grant_types":["implicit"],"response_types":["id_token"]`), bad, icm),
		c("duplicate grant", v(`"grant_types":["authorization_code","authorization_code"]`), bad, icm),
		// Auth methods and keys (REG-14 to REG-16, REG-21, REG-22).
		c("bogus auth method", v(`"token_endpoint_auth_method":"bogus"`), bad, icm),
		c("extension auth method not offered", v(`"token_endpoint_auth_method":"urn:example:auth"`), bad, icm),
		c("private_key_jwt without keys", v(`"token_endpoint_auth_method":"private_key_jwt"`), bad, icm),
		c("tls_client_auth without subject", v(`"token_endpoint_auth_method":"tls_client_auth"`), bad, icm),
		c("jwks and jwks_uri", v(`"jwks_uri":"https://client.example.org/jwks","jwks":{"keys":[]}`), bad, icm),
		c("jwks without keys", v(`"jwks":{"foo":1}`), bad, icm),
		c("jwks keys not an array", v(`"jwks":{"keys":{}}`), bad, icm),
		c("jwks_uri http", v(`"jwks_uri":"http://client.example.org/jwks"`), bad, icm),
		c("jwks private key", v(`"jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}`), bad, icm),
		c("jwks symmetric key", v(`"jwks":{"keys":[{"kty":"oct","k":"AAAA"}]}`), bad, icm),
		c("jwks key without kty", v(`"jwks":{"keys":[{"x":"1"}]}`), bad, icm),
		c("signing alg none", v(`"token_endpoint_auth_signing_alg":"none"`), bad, icm),
		c("signing alg not offered", v(`"token_endpoint_auth_signing_alg":"XX999"`), bad, icm),
		// Other members (REG-23 to REG-27, REG-40 to REG-45).
		c("scope double space", v(`"scope":"read  write"`), bad, icm),
		c("scope with quote", v(`"scope":"a\"b"`), bad, icm),
		c("logo_uri javascript", v(`"logo_uri":"javascript:alert(1)"`), bad, icm),
		c("client_uri not a url", v(`"client_uri":"not a url"`), bad, icm),
		c("tos_uri relative", v(`"tos_uri":"/tos"`), bad, icm),
		c("policy_uri#en javascript", v(`"policy_uri#en":"javascript:alert(1)"`), bad, icm),
		c("client_name#bad tag", v(`"client_name#-x-":"a"`), bad, icm),
		c("empty contact", v(`"contacts":[""]`), bad, icm),
		c("client_name control character", v(`"client_name":"a\u0007b"`), bad, icm),
		c("client_name too long", v(`"client_name":"`+strings.Repeat("n", 3000)+`"`), bad, icm),
		c("subject_type secret", v(`"subject_type":"secret"`), bad, icm),
		c("sector_identifier_uri http", v(`"sector_identifier_uri":"http://client.example.org/sector.json"`), bad, icm),
		c("sector_identifier_uri metadata address", v(`"sector_identifier_uri":"https://169.254.169.254/latest/meta-data"`), bad, icm),
		c("sector_identifier_uri unreachable", v(`"sector_identifier_uri":"https://client.example.org/missing.json"`), bad, icm),
		c("initiate_login_uri http", v(`"initiate_login_uri":"http://client.example.org/login"`), bad, icm),
		c("request_uris http", v(`"request_uris":["http://client.example.org/r"]`), bad, icm),
		c("enc without alg", v(`"id_token_encrypted_response_enc":"A128CBC-HS256"`), bad, icm),
		c("negative default_max_age", v(`"default_max_age":-1`), bad, icm),
		c("post_logout http", `{"redirect_uris":["https://client.example.org/cb"],"token_endpoint_auth_method":"none","post_logout_redirect_uris":["http://client.example.org/bye"]}`, bad, icm),
		c("application_type desktop", v(`"application_type":"desktop"`), bad, icm),
		c("symmetric alg with auth none", v(`"token_endpoint_auth_method":"none","id_token_signed_response_alg":"HS256"`), bad, icm),
		oidc("OIDC web implicit on localhost", `{"application_type":"web","grant_types":["implicit"],"response_types":["id_token"],"redirect_uris":["https://localhost/cb"]}`, iru),
		oidc("OIDC native http non-loopback", `{"application_type":"native","redirect_uris":["http://client.example.org/cb"]}`, iru),
		oidc("OIDC id_token alg none", `{"redirect_uris":["https://client.example.org/cb"],"grant_types":["implicit"],"response_types":["id_token"],"id_token_signed_response_alg":"none"}`, icm),
		oidc("OIDC pairwise needs sector", `{"redirect_uris":["https://a.example.org/cb","https://b.example.org/cb"],"subject_type":"pairwise"}`, icm),
		oidc("OIDC application_type desktop", v(`"application_type":"desktop"`), icm),
		// Size (REG-45).
		c("body over 64 KiB", v(`"client_name":"`+strings.Repeat("n", 70<<10)+`"`), http.StatusRequestEntityTooLarge, icm),
		// Media types (REG-02).
		{name: "text/plain", ct: "text/plain", body: bodyV, status: http.StatusUnsupportedMediaType, code: irq},
		{name: "no content type", noCT: true, body: bodyV, status: http.StatusUnsupportedMediaType, code: irq},
		{name: "form body", ct: "application/x-www-form-urlencoded", body: "redirect_uris=https%3A%2F%2Fclient.example.org%2Fcb", status: http.StatusUnsupportedMediaType, code: irq},
		{name: "latin-1 charset", ct: "application/json; charset=iso-8859-1", body: bodyV, status: http.StatusUnsupportedMediaType, code: irq},
		{name: "malformed content type", ct: "application/", body: bodyV, status: http.StatusUnsupportedMediaType, code: irq},
		{name: "application/jwt", ct: "application/jwt", body: bodyV, status: http.StatusUnsupportedMediaType, code: irq},
		{name: "json suffix type", ct: "application/merge-patch+json", body: bodyV, status: http.StatusUnsupportedMediaType, code: irq},
		// Methods and routes (REG-03).
		{name: "GET register", method: http.MethodGet, status: http.StatusMethodNotAllowed, code: irq, allow: "POST"},
		{name: "PUT register", method: http.MethodPut, body: bodyV, status: http.StatusMethodNotAllowed, code: irq, allow: "POST"},
		{name: "DELETE register", method: http.MethodDelete, status: http.StatusMethodNotAllowed, code: irq, allow: "POST"},
		{name: "PATCH register", method: http.MethodPatch, body: bodyV, status: http.StatusMethodNotAllowed, code: irq, allow: "POST"},
		{name: "unknown path", method: http.MethodGet, path: "/oauth/unknown", status: http.StatusNotFound, code: nfd},
		{name: "unknown server", path: "/nope/register", body: bodyV, status: http.StatusNotFound, code: nfd},
		{name: "prefix not at a segment boundary", path: "/oauthx/register", body: bodyV, status: http.StatusNotFound, code: nfd},
		{name: "trailing slash register", path: "/oauth/register/", body: bodyV, status: http.StatusMethodNotAllowed, code: irq, allow: "GET, PUT, DELETE"},
		{name: "RFC 8414 unknown server", method: http.MethodGet, path: "/.well-known/oauth-authorization-server/nope", status: http.StatusNotFound, code: nfd},
		{name: "RFC 8414 sub-path", method: http.MethodGet, path: "/.well-known/oauth-authorization-server/oauth/register", status: http.StatusNotFound, code: nfd},
		{name: "openid-configuration on OAuth server", method: http.MethodGet, path: "/oauth/.well-known/openid-configuration", status: http.StatusNotFound, code: nfd},
		{name: "jwks route on a server without keys", method: http.MethodGet, path: "/oauth/jwks", status: http.StatusNotFound, code: nfd},
		{name: "POST discovery", path: "/oidc/.well-known/openid-configuration", body: bodyV, status: http.StatusMethodNotAllowed, code: irq, allow: "GET, HEAD"},
		// Initial access tokens (REG-36, MGT-23).
		{name: "IAT missing", path: "/iat/register", body: bodyV, status: http.StatusUnauthorized, code: irq, challenge: bareChallenge},
		{name: "IAT garbage", path: "/iat/register", auth: bearer("garbage"), body: bodyV, status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "IAT basic scheme", path: "/iat/register", auth: []string{"Basic Zm9vOmJhcg=="}, body: bodyV, status: http.StatusUnauthorized, code: irq, challenge: bareChallenge},
		{name: "IAT empty bearer", path: "/iat/register", auth: []string{"Bearer "}, body: bodyV, status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "IAT bad characters", path: "/iat/register", auth: []string{"Bearer a b"}, body: bodyV, status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "IAT with extra character", path: "/iat/register", auth: bearer(iatToken + "x"), body: bodyV, status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "IAT prefix", path: "/iat/register", auth: bearer(iatToken[:20]), body: bodyV, status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "RAT used as IAT", path: "/iat/register", auth: bearer("{RAT_A}"), body: bodyV, status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "two Authorization headers", path: "/iat/register", auth: []string{"Bearer {IAT}", "Bearer {IAT}"}, body: bodyV, status: http.StatusBadRequest, code: irq, challenge: requestError},
		{name: "IAT ok but body bad", path: "/iat/register", auth: bearer("{IAT}"), body: `{"redirect_uris":["http://evil.example/cb"]}`, status: bad, code: iru},
		// Stateful management (MGT-01, MGT-06 to MGT-08, MGT-11 to MGT-15, MGT-18).
		{name: "GET cfg without token", method: http.MethodGet, path: "{A}", status: http.StatusUnauthorized, code: irq, challenge: bareChallenge},
		{name: "GET cfg bad token", method: http.MethodGet, path: "{A}", auth: bearer("x"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "GET cfg other client's token", method: http.MethodGet, path: "{A}", auth: bearer("{RAT_B}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "GET cfg with IAT", method: http.MethodGet, path: "{A}", auth: bearer("{IAT}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "GET unknown handle", method: http.MethodGet, path: "/oauth/register/does-not-exist", auth: bearer("{RAT_A}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "GET empty handle", method: http.MethodGet, path: "/oauth/register/", auth: bearer("{RAT_A}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "GET handle with sub-path", method: http.MethodGet, path: "{A}/x", auth: bearer("{RAT_A}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "GET client_id instead of handle", method: http.MethodGet, path: "/oauth/register/{A.id}", auth: bearer("{RAT_A}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "GET handle on another server", method: http.MethodGet, path: "/oidc/register/{A.h}", auth: bearer("{RAT_A}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "PUT other client's token", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_B}"), body: `{"client_id":"{A.id}","redirect_uris":["https://client.example.org/cb"]}`, status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "DELETE other client's token", method: http.MethodDelete, path: "{A}", auth: bearer("{RAT_B}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "DELETE without token", method: http.MethodDelete, path: "{A}", status: http.StatusUnauthorized, code: irq, challenge: bareChallenge},
		{name: "DELETE with IAT", method: http.MethodDelete, path: "{A}", auth: bearer("{IAT}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "PATCH cfg", method: http.MethodPatch, path: "{A}", auth: bearer("{RAT_A}"), body: `{}`, status: http.StatusMethodNotAllowed, code: irq, allow: "GET, PUT, DELETE"},
		{name: "POST cfg", path: "{A}", auth: bearer("{RAT_A}"), body: bodyV, status: http.StatusMethodNotAllowed, code: irq, allow: "GET, PUT, DELETE"},
		{name: "PUT without client_id", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: bodyV, status: bad, code: icm},
		{name: "PUT null client_id", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":null`), status: bad, code: icm},
		{name: "PUT other client_id", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":"other"`), status: bad, code: icm},
		{name: "PUT B's client_id", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":"{B.id}"`), status: bad, code: icm},
		{name: "PUT numeric client_id", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":1`), status: bad, code: icm},
		{name: "PUT full registration response", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: "{A.body}", status: bad, code: icm},
		{name: "PUT chosen secret", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":"{A.id}","client_secret":"chosen"`), status: bad, code: icm},
		{name: "PUT numeric secret", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":"{A.id}","client_secret":5`), status: bad, code: icm},
		{name: "PUT registration_access_token", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":"{A.id}","registration_access_token":"{RAT_A}"`), status: bad, code: icm},
		{name: "PUT registration_client_uri", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":"{A.id}","registration_client_uri":"https://as.example{A}"`), status: bad, code: icm},
		{name: "PUT client_secret_expires_at", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":"{A.id}","client_secret_expires_at":0`), status: bad, code: icm},
		{name: "PUT client_id_issued_at", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":"{A.id}","client_id_issued_at":1`), status: bad, code: icm},
		{name: "PUT jwks and jwks_uri", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":"{A.id}","jwks_uri":"https://client.example.org/jwks","jwks":{"keys":[]}`), status: bad, code: icm},
		{name: "PUT evil redirect", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: `{"client_id":"{A.id}","redirect_uris":["http://evil.example/cb"]}`, status: bad, code: iru},
		{name: "PUT without redirect", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: `{"client_id":"{A.id}"}`, status: bad, code: iru},
		{name: "PUT text/plain", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), ct: "text/plain", body: v(`"client_id":"{A.id}"`), status: http.StatusUnsupportedMediaType, code: irq},
		{name: "PUT malformed JSON", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: `{"client_id":`, status: bad, code: icm},
		{name: "PUT array", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: `["{A.id}"]`, status: bad, code: icm},
		{name: "PUT duplicate client_id", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":"{A.id}","client_id":"{A.id}"`), status: bad, code: icm},
		{name: "PUT oversized", method: http.MethodPut, path: "{A}", auth: bearer("{RAT_A}"), body: v(`"client_id":"{A.id}","client_name":"` + strings.Repeat("n", 70<<10) + `"`), status: http.StatusRequestEntityTooLarge, code: icm},
		// Rotation (MGT-21): the replaced token is dead.
		{name: "GET with rotated-away token", method: http.MethodGet, path: "{R}", auth: bearer("{RAT_R_OLD}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "PUT with rotated-away token", method: http.MethodPut, path: "{R}", auth: bearer("{RAT_R_OLD}"), body: bodyV, status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		// Stateless (SCI-06, SCI-13 to SCI-15).
		{name: "stateless PUT", method: http.MethodPut, path: "{S}", auth: bearer("{RAT_S}"), body: v(`"client_id":"{S.id}"`), status: http.StatusMethodNotAllowed, code: irq, allow: "GET"},
		{name: "stateless DELETE", method: http.MethodDelete, path: "{S}", auth: bearer("{RAT_S}"), status: http.StatusMethodNotAllowed, code: irq, allow: "GET"},
		{name: "stateless PATCH", method: http.MethodPatch, path: "{S}", auth: bearer("{RAT_S}"), body: `{}`, status: http.StatusMethodNotAllowed, code: irq, allow: "GET"},
		{name: "stateless GET without token", method: http.MethodGet, path: "{S}", status: http.StatusUnauthorized, code: irq, challenge: bareChallenge},
		{name: "stateless GET bad token", method: http.MethodGet, path: "{S}", auth: bearer("x"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "stateless GET other client's token", method: http.MethodGet, path: "{S}", auth: bearer("{RAT_S2}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "stateless GET token at other client", method: http.MethodGet, path: "{S2}", auth: bearer("{RAT_S}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "stateless client id as token", method: http.MethodGet, path: "{S}", auth: bearer("{S.id}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "stateless token as client id", method: http.MethodGet, path: "/sl/register/{RAT_S}", auth: bearer("{RAT_S}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "stateless non-canonical token", method: http.MethodGet, path: "{S}", auth: bearer("{RAT_S_FLIP}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "stateless tampered token signature", method: http.MethodGet, path: "{S}", auth: bearer("{RAT_S_MID}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "stateless tampered client id", method: http.MethodGet, path: "{S_TAMPERED}", auth: bearer("{RAT_S}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "stateless unknown handle", method: http.MethodGet, path: "/sl/register/does-not-exist", auth: bearer("{RAT_S}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "stateless token of another server", method: http.MethodGet, path: "/sl/register/{SE.id}", auth: bearer("{RAT_SE}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "stateless with stateful token", method: http.MethodGet, path: "{S}", auth: bearer("{RAT_A}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "stateful with stateless token", method: http.MethodGet, path: "{A}", auth: bearer("{RAT_S}"), status: http.StatusUnauthorized, code: itk, challenge: tokenError},
		{name: "stateless bad body", path: "/sl/register", body: `{"redirect_uris":["javascript:alert(1)"]}`, status: bad, code: iru},
		// Policy (SEC-06) and quota.
		{name: "policy host not allowed", path: "/pol/register", body: `{"redirect_uris":["https://evil.example/cb"]}`, status: bad, code: iru},
		{name: "policy wildcard excludes apex", path: "/pol/register", body: `{"redirect_uris":["https://apps.example/cb"]}`, status: bad, code: iru},
		{name: "policy wildcard suffix trick", path: "/pol/register", body: `{"redirect_uris":["https://evilapps.example/cb"]}`, status: bad, code: iru},
		{name: "policy private-use scheme", path: "/pol/register", body: `{"application_type":"native","redirect_uris":["com.evil.app:/cb"],"token_endpoint_auth_method":"none"}`, status: bad, code: iru},
		{name: "policy loopback port not a host", path: "/pol/register", body: `{"redirect_uris":["http://[::1]/cb"],"token_endpoint_auth_method":"none"}`, status: bad, code: iru},
		{name: "policy grant not allowed", path: "/pol/register", body: v(`"grant_types":["authorization_code","client_credentials"]`), status: bad, code: icm},
		{name: "policy implicit not allowed", path: "/pol/register", body: v(`"grant_types":["implicit"],"response_types":["token"]`), status: bad, code: icm},
		{name: "policy auth method not allowed", path: "/pol/register", body: v(`"token_endpoint_auth_method":"client_secret_post"`), status: bad, code: icm},
		{name: "policy hmac alg not offered", path: "/pol/register", body: v(`"token_endpoint_auth_signing_alg":"HS256"`), status: bad, code: icm},
		{name: "quota exhausted", path: "/quota/register", body: bodyV, status: http.StatusForbidden, code: acd},
	}
}

// TestBadInputs sends every bad request and checks the exact status and
// error code, the no-store headers, the Bearer challenge, that no credential
// leaks, and that the store did not change (ERR-06, ERR-07).
func TestBadInputs(t *testing.T) {
	e := newEnv(t)
	rep := badFixture(t, e)
	cases := append(badCases(), statementCases(t, e)...)
	if len(cases) < 100 {
		t.Fatalf("only %d bad inputs", len(cases))
	}
	t.Logf("%d bad inputs", len(cases))
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			before, writes := e.store.Snapshot(), e.store.Writes()
			rq := request{method: tc.method, path: rep.Replace(tc.path), body: rep.Replace(tc.body),
				contentType: tc.ct, noContentType: tc.noCT}
			if rq.method == "" {
				rq.method = http.MethodPost
			}
			if rq.path == "" {
				rq.path = "/oauth/register"
			}
			for _, a := range tc.auth {
				rq.auth = append(rq.auth, rep.Replace(a))
			}
			r := e.do(t, rq)
			checkErrorAnswer(t, r, tc.status, tc.code)
			wa := r.Header.Get("WWW-Authenticate")
			switch tc.challenge {
			case noChallenge:
				if wa != "" {
					t.Errorf("WWW-Authenticate = %q, want none", wa)
				}
			case bareChallenge:
				if wa != "Bearer" {
					t.Errorf("WWW-Authenticate = %q, want a bare Bearer challenge", wa)
				}
			case tokenError:
				if !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate = %q, want Bearer error=\"invalid_token\"", wa)
				}
			case requestError:
				if !strings.Contains(wa, `error="invalid_request"`) {
					t.Errorf("WWW-Authenticate = %q, want Bearer error=\"invalid_request\"", wa)
				}
			}
			if tc.allow != "" && r.Header.Get("Allow") != tc.allow {
				t.Errorf("Allow = %q, want %q", r.Header.Get("Allow"), tc.allow)
			}
			for _, secret := range []string{"{RAT_A}", "{RAT_B}", "{A.secret}", "{RAT_S}", "{IAT}"} {
				if s := rep.Replace(secret); strings.Contains(string(r.Body), s) || strings.Contains(wa, s) {
					t.Errorf("answer leaks a credential (%s)", secret)
				}
			}
			if after := e.store.Snapshot(); after != before || e.store.Writes() != writes {
				t.Errorf("the store changed")
			}
		})
	}
}
