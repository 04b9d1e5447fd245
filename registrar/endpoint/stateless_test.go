package endpoint_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/internal/josetest"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/stateless"
)

// verifierFor builds the package stateless verifier of a server, as the
// token endpoint would.
func verifierFor(t *testing.T, e *env, path string) *stateless.Verifier {
	t.Helper()
	srv := e.servers[path]
	v, err := stateless.VerifierFromKeySet(srv.Issuer, "", srv.Keys, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mustVerify verifies the client id id with v; an error fails t.
func mustVerify(t *testing.T, v *stateless.Verifier, id string) *stateless.Client {
	t.Helper()
	c, err := v.Verify(id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSCIStatelessNothingStored(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/sl", "/sle"} {
		r := e.mustRegister(t, p, bodyV)
		if r.path != p+"/register/"+r.id {
			t.Errorf("registration_client_uri %q does not name the client id", r.rcu)
		}
	}
	if e.store.Len() != 0 || e.store.Writes() != 0 {
		t.Fatal("a stateless registration touched the store (SCI-01)")
	}
}

func TestSCI02to05(t *testing.T) {
	e := newEnv(t)
	r := e.mustRegister(t, "/sl", jsonWith(t, bodyV, map[string]any{"client_name": "Signed"}))
	if !josetest.CompactJWS.MatchString(r.id) {
		t.Fatalf("signed client id %q is not a compact JWS (SCI-02)", r.id)
	}
	parts := strings.Split(r.id, ".")
	hdr := segmentJSON(t, parts[0])
	if hdr["typ"] != stateless.TypeClientID || hdr["kid"] == nil || hdr["kid"] == "" {
		t.Errorf("header = %v (SCI-04, SCI-06)", hdr)
	}
	claims := segmentJSON(t, parts[1])
	reg, _ := claims["reg"].(map[string]any)
	if claims["iss"] != issuerBase+"/sl" || claims["sub"] == "" || claims["aud"] != issuerBase+"/sl" ||
		!reflect.DeepEqual(reg["redirect_uris"], r.m["redirect_uris"]) {
		t.Errorf("claims = %v (SCI-03)", claims)
	}
	if claims["iat"] != r.m["client_id_issued_at"] {
		t.Errorf("iat %v != client_id_issued_at %v (SCI-20)", claims["iat"], r.m["client_id_issued_at"])
	}
	if claims["exp"] != r.m["client_secret_expires_at"] {
		t.Errorf("exp %v != client_secret_expires_at %v (SCI-20)", claims["exp"], r.m["client_secret_expires_at"])
	}
	if reg["client_name"] != "Signed" || reg["token_endpoint_auth_method"] != "client_secret_basic" {
		t.Errorf("reg = %v", reg)
	}
	if _, ok := reg["grant_types"]; ok {
		t.Errorf("default grant_types kept in reg (SCI-17): %v", reg)
	}
	// Nested form (SCI-05).
	n := e.mustRegister(t, "/sle", bodyV)
	if !josetest.CompactJWE.MatchString(n.id) {
		t.Fatalf("encrypted client id %q is not a compact JWE", n.id)
	}
	outer := segmentJSON(t, strings.Split(n.id, ".")[0])
	if outer["cty"] != "JWT" || outer["enc"] == nil || outer["zip"] != nil {
		t.Errorf("outer header = %v (SCI-05, SCI-17)", outer)
	}
}

func TestSCI07to09(t *testing.T) {
	e := newEnv(t)
	r := e.mustRegister(t, "/sl", jsonWith(t, bodyV, map[string]any{"contacts": []string{"dev@example.org"}}))
	payload := string(mustDecodeSegment(t, strings.Split(r.id, ".")[1]))
	if strings.Contains(payload, r.secret) || strings.Contains(payload, "dev@example.org") {
		t.Errorf("readable client id carries secrets or contacts (SCI-07): %s", payload)
	}
	if _, ok := r.m["contacts"]; ok {
		t.Error("response claims contacts that are not registered")
	}
	v := verifierFor(t, e, "/sl")
	c := mustVerify(t, v, r.id)
	if err := v.CheckSecret(c, r.secret); err != nil {
		t.Errorf("issued secret does not authenticate (SCI-08): %v", err)
	}
	if err := v.CheckSecret(c, r.secret[:len(r.secret)-1]+"x"); err == nil {
		t.Error("altered secret authenticates")
	}
	// Encrypted ids keep contacts (inside the JWE).
	n := e.mustRegister(t, "/sle", jsonWith(t, bodyV, map[string]any{"contacts": []string{"dev@example.org"}}))
	if !reflect.DeepEqual(n.m["contacts"], []any{"dev@example.org"}) {
		t.Errorf("contacts = %v", n.m["contacts"])
	}
	nv := verifierFor(t, e, "/sle")
	nc := mustVerify(t, nv, n.id)
	if err := nv.CheckSecret(nc, n.secret); err != nil {
		t.Errorf("nested secret does not authenticate: %v", err)
	}
	// SCI-09: cnf.jwk for private_key_jwt.
	k := e.mustRegister(t, "/sl", bodyK(t))
	kc := mustVerify(t, v, k.id)
	if kc.Confirmation == nil || kc.Confirmation.JWK == nil || !kc.Confirmation.JWK.IsPublic() {
		t.Errorf("no public cnf.jwk: %+v", kc.Confirmation)
	}
	if _, ok := k.m["client_secret"]; ok {
		t.Error("private_key_jwt client got a secret")
	}
}

func TestSCI13to15(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/sl", "/sle"} {
		r := e.mustRegister(t, p, jsonWith(t, bodyV, map[string]any{"client_name": "X", "contacts": []string{"a@example.org"}}))
		other := e.mustRegister(t, p, bodyV)
		// SCI-14: read with the token.
		g := e.get(t, r.path, r.rat)
		if g.Status != http.StatusOK {
			t.Fatalf("%s GET = %d %s", p, g.Status, g.Body)
		}
		if g.Header.Get("Cache-Control") != "no-store" {
			t.Error("read response is cacheable")
		}
		m := g.Obj(t)
		if !reflect.DeepEqual(m, r.m) {
			t.Errorf("%s read differs from the registration:\n%s\n%s", p, g.Body, r.r.Body)
		}
		checkErrorAnswer(t, e.get(t, other.path, r.rat), http.StatusUnauthorized, "invalid_token")
		// SCI-13, SCI-15.
		for _, method := range []string{http.MethodPut, http.MethodDelete} {
			x := e.do(t, request{method: method, path: r.path, auth: bearer(r.rat), body: `{"client_id":"` + r.id + `"}`})
			checkErrorAnswer(t, x, http.StatusMethodNotAllowed, "invalid_request")
			if x.Header.Get("Allow") != "GET" {
				t.Errorf("%s Allow = %q", method, x.Header.Get("Allow"))
			}
		}
		if g2 := e.get(t, r.path, r.rat); string(g2.Body) != string(g.Body) {
			t.Error("client changed")
		}
	}
}

func TestSCIStatementEchoedOnlyOnRegistration(t *testing.T) {
	e := newEnv(t)
	srv := e.servers["/sl"]
	srv.SoftwareStatementIssuers = e.servers["/stmt"].SoftwareStatementIssuers
	stmt := signStatement(t, e.publisher, map[string]any{"iss": publisherIssuer, "software_id": "S1"}, nil)
	r := e.mustRegister(t, "/sl", jsonWith(t, bodyV, map[string]any{"software_statement": stmt}))
	if r.m["software_statement"] != stmt || r.m["software_id"] != "S1" {
		t.Errorf("statement not applied: %s", r.r.Body)
	}
	if strings.Contains(r.id, stmt) {
		t.Error("statement copied into the client id")
	}
	g := e.get(t, r.path, r.rat)
	if g.Str(t, "software_id") != "S1" {
		t.Errorf("read lost the statement's claims: %s", g.Body)
	}
}

func TestSCIRATIsBound(t *testing.T) {
	e := newEnv(t)
	r := e.mustRegister(t, "/sl", bodyV)
	parts := strings.Split(r.rat, ".")
	if len(parts) != 3 {
		t.Fatalf("RAT is not a compact JWS")
	}
	hdr := segmentJSON(t, parts[0])
	claims := segmentJSON(t, parts[1])
	idClaims := segmentJSON(t, strings.Split(r.id, ".")[1])
	if hdr["typ"] != endpoint.TypeRegistrationAccessToken || hdr["kid"] == nil {
		t.Errorf("RAT header = %v", hdr)
	}
	if claims["sub"] != idClaims["sub"] || claims["iss"] != issuerBase+"/sl" || claims["aud"] != issuerBase+"/sl" ||
		claims["cid"] == nil || claims["jti"] == nil {
		t.Errorf("RAT claims = %v", claims)
	}
	// The RAT never verifies as a client id (SCI-06).
	if _, err := verifierFor(t, e, "/sl").Verify(r.rat); err == nil {
		t.Error("the registration access token verifies as a client id")
	}
	// RATs expire with the client id.
	e.clock.Advance(25 * time.Hour)
	checkErrorAnswer(t, e.get(t, r.path, r.rat), http.StatusUnauthorized, "invalid_token")
}

func TestSCI16and17(t *testing.T) {
	e := newEnv(t)
	a := e.mustRegister(t, "/sl", bodyV)
	b := e.mustRegister(t, "/sl", bodyV)
	subA := segmentJSON(t, strings.Split(a.id, ".")[1])["sub"]
	subB := segmentJSON(t, strings.Split(b.id, ".")[1])["sub"]
	if a.id == b.id || subA == subB || a.secret == b.secret || a.rat == b.rat {
		t.Error("two registrations share an identifier or credential (SCI-16)")
	}
	uris := make([]string, 10)
	for i := range uris {
		uris[i] = "https://client.example.org/" + strings.Repeat(string(rune('a'+i)), 173)
	}
	for _, p := range []string{"/sl", "/sle"} {
		r := e.mustRegister(t, p, jsonWith(t, bodyV, map[string]any{"redirect_uris": uris}))
		if len(r.id) > stateless.MaxClientIDLength {
			t.Errorf("%s client id of %d bytes", p, len(r.id))
		}
	}
	// Too large for a client id: 400, never 5xx.
	big := make([]string, 60)
	for i := range big {
		big[i] = "https://client.example.org/" + strings.Repeat("x", 150) + string(rune('a'+i%26)) + strings.Repeat("y", i/26)
	}
	checkErrorAnswer(t, e.post(t, "/sl", jsonWith(t, bodyV, map[string]any{"redirect_uris": big})), http.StatusBadRequest, "invalid_client_metadata")
}

func TestSCI18KeyRotation(t *testing.T) {
	e := newEnv(t)
	r := e.mustRegister(t, "/sl", bodyV)
	old := e.servers["/sl"]
	// The controller rotates: a new Server value with the rotated key set.
	data, err := old.Keys.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := stateless.ParseKeySet(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Rotate(stateless.UseSignature, "", e.clock.Now(), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	next := *old
	next.Keys = ks
	e.h.Resolver = endpoint.NewStaticResolver(&next)
	g := e.get(t, r.path, r.rat)
	if g.Status != http.StatusOK || g.Str(t, "client_secret") != r.secret {
		t.Fatalf("old client after key rotation: %d %s", g.Status, g.Body)
	}
	n := e.mustRegister(t, "/sl", bodyV)
	if segmentJSON(t, strings.Split(n.id, ".")[0])["kid"] == segmentJSON(t, strings.Split(r.id, ".")[0])["kid"] {
		t.Error("new clients are still signed with the retired key")
	}
	// The JWKS publishes both keys.
	j := e.do(t, request{method: http.MethodGet, path: "/sl/jwks"})
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal(j.Body, &set); err != nil || len(set.Keys) != 2 {
		t.Errorf("jwks = %s", j.Body)
	}
}

func TestStatelessKeysNotReady(t *testing.T) {
	e := newEnv(t)
	srv := e.servers["/sle"]
	srv.Keys = keySet(t, e.clock.Now(), false) // no encryption key
	r := e.post(t, "/sle", bodyV)
	checkErrorAnswer(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	e.servers["/sl"].Keys = nil
	checkErrorAnswer(t, e.post(t, "/sl", bodyV), http.StatusServiceUnavailable, "temporarily_unavailable")
	checkErrorAnswer(t, e.get(t, "/sl/register/a.b.c", "x"), http.StatusServiceUnavailable, "temporarily_unavailable")
}

// TestRATChecks forges registration access tokens with the server's own
// signing key, each wrong in exactly one way, so every check of the token is
// exercised on its own.
func TestRATChecks(t *testing.T) {
	e := newEnv(t)
	srv := e.servers["/sl"]
	a := e.mustRegister(t, "/sl", bodyV)
	b := e.mustRegister(t, "/sl", bodyV)
	sig, ok := srv.Keys.Active(stateless.UseSignature)
	if !ok {
		t.Fatal("no signing key")
	}
	claimsOf := func(tok string) map[string]any { return segmentJSON(t, strings.Split(tok, ".")[1]) }
	base := claimsOf(a.rat)
	forge := func(typ, kid string, key any, change map[string]any) string {
		opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", kid)
		return josetest.SignJSON(t, jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts, josetest.With(base, change))
	}
	other := ecJWK(t, sig.ID)
	good := func(change map[string]any) string {
		return forge(endpoint.TypeRegistrationAccessToken, sig.ID, sig.Private.Key, change)
	}
	past := e.clock.Now().Add(-time.Minute).Unix()
	for _, tc := range []struct {
		name string
		tok  string
		ok   bool
	}{
		{"control: a correct forgery works", good(nil), true},
		{"aud as an array", good(map[string]any{"aud": []string{"https://x.example", issuerBase + "/sl"}}), true},
		{"typ JWT", forge("JWT", sig.ID, sig.Private.Key, nil), false},
		{"typ client-id+jwt", forge(stateless.TypeClientID, sig.ID, sig.Private.Key, nil), false},
		{"cid of another client", good(map[string]any{"cid": claimsOf(b.rat)["cid"]}), false},
		{"sub of another client", good(map[string]any{"sub": claimsOf(b.rat)["sub"]}), false},
		{"no sub", good(map[string]any{"sub": nil}), false},
		{"wrong iss", good(map[string]any{"iss": "https://attacker.example"}), false},
		{"wrong aud", good(map[string]any{"aud": "https://attacker.example"}), false},
		{"expired", good(map[string]any{"exp": past}), false},
		{"unknown kid", forge(endpoint.TypeRegistrationAccessToken, "nope", sig.Private.Key, nil), false},
		{"other key, same kid", forge(endpoint.TypeRegistrationAccessToken, sig.ID, other.Key, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(t, a.path, tc.tok)
			if tc.ok {
				if r.Status != http.StatusOK || r.Str(t, "client_id") != a.id {
					t.Fatalf("GET = %d %s", r.Status, r.Body)
				}
				return
			}
			checkErrorAnswer(t, r, http.StatusUnauthorized, "invalid_token")
		})
	}
}

// Ids minted by stateless open registration are for the authorization server
// that accepts them: iss and aud are its issuer and audience (the server's
// spec.stateless), not the endpoint's issuer; the endpoint still reads them
// back with the registration access token, and its own issuer is refused.
func TestStatelessIDsNameTheAuthorizationServer(t *testing.T) {
	e := newEnv(t)
	r := e.mustRegister(t, "/slas", bodyV)
	srv := e.servers["/slas"]
	v, err := stateless.VerifierFromKeySet("https://as.example", "https://as.example/token", srv.Keys, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(r.id)
	if err != nil {
		t.Fatalf("the id does not verify for the authorization server: %v", err)
	}
	if err := v.CheckSecret(c, r.secret); err != nil {
		t.Fatalf("the secret does not check: %v", err)
	}
	if own, err := stateless.VerifierFromKeySet(srv.Issuer, srv.Issuer, srv.Keys, e.clock); err != nil {
		t.Fatal(err)
	} else if _, err := own.Verify(r.id); err == nil {
		t.Fatal("the id was minted for the endpoint's own issuer")
	}
	if got := e.get(t, r.path, r.rat); got.Status != 200 || got.Obj(t)["client_id"] != r.id {
		t.Fatalf("RFC 7592 read: %d %s", got.Status, got.Body)
	}
}
