package stateless

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/internal/josetest"
)

var roundTripCases = []struct{ sig, enc string }{
	{AlgES256, ""},
	{AlgEdDSA, ""},
	{AlgRS256, ""},
	{AlgES256, AlgECDHESA256KW},
	{AlgES256, AlgRSAOAEP256},
	{AlgES256, AlgA256KW},
	{AlgEdDSA, AlgA256KW},
	{AlgRS256, AlgECDHESA256KW},
}

func caseName(sig, enc string) string {
	if enc == "" {
		return sig
	}
	return sig + "+" + enc
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range roundTripCases {
		t.Run(caseName(tc.sig, tc.enc), func(t *testing.T) {
			f := newFixture(t, tc.sig, tc.enc, time.Hour)
			m := f.mint(t, regWithContacts, true)
			encrypted := tc.enc != ""
			if m.Encrypted != encrypted {
				t.Fatalf("Encrypted = %v, want %v", m.Encrypted, encrypted)
			}
			re := josetest.CompactJWS
			if encrypted {
				re = josetest.CompactJWE
			}
			if !re.MatchString(m.ClientID) {
				t.Fatalf("client id %q does not match %s (SCI-02)", m.ClientID, re)
			}
			if !m.IssuedAt.Equal(t0) || !m.ExpiresAt.Equal(t0.Add(time.Hour)) {
				t.Fatalf("IssuedAt/ExpiresAt = %v/%v", m.IssuedAt, m.ExpiresAt)
			}

			// Headers.
			inner := m.ClientID
			if encrypted {
				oh := segmentJSON(t, m.ClientID, 0)
				if oh["cty"] != "JWT" || oh["enc"] != "A256GCM" || oh["alg"] != tc.enc || oh["kid"] != f.enc.ID {
					t.Fatalf("outer header %v", oh)
				}
				if _, ok := oh["zip"]; ok {
					t.Fatal("outer header has zip")
				}
				inner = f.innerJWS(t, m.ClientID)
				if !josetest.CompactJWS.MatchString(inner) {
					t.Fatalf("inner %q is not a compact JWS", inner)
				}
			}
			ih := segmentJSON(t, inner, 0)
			if ih["alg"] != tc.sig || ih["kid"] != f.sig.ID || ih["typ"] != TypeClientID {
				t.Fatalf("JWS header %v", ih)
			}
			claims := segmentJSON(t, inner, 1)
			if claims["iss"] != testIss || claims["aud"] != testIss || claims["sub"] != m.Subject ||
				claims["iat"] != float64(t0.Unix()) || claims["exp"] != float64(t0.Add(time.Hour).Unix()) {
				t.Fatalf("claims %v", claims)
			}

			c, err := f.ver.Verify(m.ClientID)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Issuer != testIss || c.Subject != m.Subject || c.Audience != testIss ||
				!c.IssuedAt.Equal(m.IssuedAt) || !c.ExpiresAt.Equal(m.ExpiresAt) ||
				c.KeyID != f.sig.ID || c.Encrypted != encrypted || c.Confirmation != nil {
				t.Fatalf("client %+v, minted %+v", c, m)
			}
			var reg map[string]any
			if err := json.Unmarshal(c.Reg, &reg); err != nil {
				t.Fatalf("reg: %v", err)
			}
			if uris, _ := reg["redirect_uris"].([]any); len(uris) != 1 || uris[0] != "https://client.example.org/cb" {
				t.Fatalf("reg.redirect_uris = %v", reg["redirect_uris"])
			}
			_, hasContacts := reg["contacts"]
			if hasContacts != encrypted {
				t.Fatalf("contacts present = %v, want %v (kept only when encrypted)", hasContacts, encrypted)
			}
			if err := f.ver.CheckSecret(c, m.ClientSecret); err != nil {
				t.Fatalf("CheckSecret: %v", err)
			}
		})
	}
}

func TestNoLifetimeMeansNoExp(t *testing.T) {
	f := newFixture(t, AlgES256, "", 0)
	m := f.mint(t, regWithContacts, false)
	if !m.ExpiresAt.IsZero() {
		t.Fatalf("ExpiresAt = %v", m.ExpiresAt)
	}
	if _, ok := segmentJSON(t, m.ClientID, 1)["exp"]; ok {
		t.Fatal("exp present with lifetime 0")
	}
	f.clock.Set(t0.Add(100 * 365 * 24 * time.Hour))
	c, err := f.ver.Verify(m.ClientID)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !c.ExpiresAt.IsZero() {
		t.Fatalf("client ExpiresAt = %v", c.ExpiresAt)
	}
}

func TestAudienceDefaultsAndOverride(t *testing.T) {
	sig := cachedKey(t, UseSignature, AlgES256)
	mi, err := NewMinter(MinterConfig{Issuer: testIss, Audience: "https://rs.example.com", SigningKey: sig})
	if err != nil {
		t.Fatal(err)
	}
	m, err := mi.Mint(MintRequest{Reg: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	ks := &KeySet{Keys: []Key{sig}}
	good, err := VerifierFromKeySet(testIss, "https://rs.example.com", ks, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := good.Verify(m.ClientID); err != nil {
		t.Fatalf("Verify with matching aud: %v", err)
	}
	bad, err := VerifierFromKeySet(testIss, "", ks, nil) // audience = issuer
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Verify(m.ClientID); !errors.Is(err, errAudience) {
		t.Fatalf("wrong aud: err = %v", err)
	}
}

// TestSignedOnlyCarriesNothingSecret is SCI-07.
func TestSignedOnlyCarriesNothingSecret(t *testing.T) {
	f := newFixture(t, AlgES256, "", time.Hour)
	regs := []string{
		regWithContacts,
		// Escaped member name, and a stray client_secret / RAT in reg.
		`{"redirect_uris":["https://client.example.org/cb"],"\u0063ontacts":["dev@example.org"],"client_secret":"leaked-secret","registration_access_token":"leaked-rat"}`,
	}
	for _, reg := range regs {
		m := f.mint(t, reg, true)
		if strings.Count(m.ClientID, ".") != 2 {
			t.Fatalf("not a JWS: %s", m.ClientID)
		}
		payload := f.payloadOf(t, m.ClientID)
		for _, bad := range []string{m.ClientSecret, "dev@example.org", "contacts", `"client_secret"`, "leaked-secret", "leaked-rat"} {
			if bytes.Contains(payload, []byte(bad)) {
				t.Errorf("signed-only payload contains %q: %s", bad, payload)
			}
		}
		if _, err := f.ver.Verify(m.ClientID); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
}

func TestEncryptedKeepsContactsDropsSecretsFromReg(t *testing.T) {
	f := newFixture(t, AlgES256, AlgECDHESA256KW, time.Hour)
	m := f.mint(t, `{"contacts":["dev@example.org"],"client_secret":"leaked-secret"}`, true)
	payload := f.payloadOf(t, m.ClientID)
	var cl map[string]json.RawMessage
	if err := json.Unmarshal(payload, &cl); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cl["reg"], []byte("dev@example.org")) || bytes.Contains(payload, []byte("leaked-secret")) {
		t.Fatalf("reg = %s", cl["reg"])
	}
	if string(cl["client_secret"]) != `"`+m.ClientSecret+`"` {
		t.Fatalf("client_secret claim %s, minted %q", cl["client_secret"], m.ClientSecret)
	}
}

// TestUniqueness is SCI-16.
func TestUniqueness(t *testing.T) {
	for _, enc := range []string{"", AlgECDHESA256KW} {
		f := newFixture(t, AlgES256, enc, time.Hour)
		a, b := f.mint(t, regWithContacts, true), f.mint(t, regWithContacts, true)
		if a.ClientID == b.ClientID || a.Subject == b.Subject || a.ClientSecret == b.ClientSecret {
			t.Fatalf("two mints collide (enc=%q): %+v %+v", enc, a, b)
		}
		if len(unb64(t, a.Subject)) != 16 {
			t.Fatalf("sub %q is not 128 bits", a.Subject)
		}
		if enc != "" {
			pa, pb := strings.Split(a.ClientID, "."), strings.Split(b.ClientID, ".")
			if pa[2] == pb[2] || pa[1] == pb[1] {
				t.Fatal("JWE IV or encrypted key reused")
			}
		}
	}
}

// TestSize is SCI-17.
func TestSize(t *testing.T) {
	uris := make([]string, 10)
	for i := range uris {
		p := "https://client.example.org/" + string(rune('a'+i)) + "/"
		uris[i] = p + strings.Repeat("x", 200-len(p))
	}
	reg, _ := json.Marshal(map[string]any{"redirect_uris": uris, "token_endpoint_auth_method": "private_key_jwt"})
	for _, tc := range roundTripCases {
		t.Run(caseName(tc.sig, tc.enc), func(t *testing.T) {
			f := newFixture(t, tc.sig, tc.enc, time.Hour)
			m := f.mint(t, string(reg), true)
			if len(m.ClientID) > MaxClientIDLength {
				t.Fatalf("len = %d > %d", len(m.ClientID), MaxClientIDLength)
			}
			if tc.enc != "" {
				if _, ok := segmentJSON(t, m.ClientID, 0)["zip"]; ok {
					t.Fatal("zip header present")
				}
			}
			if _, err := f.ver.Verify(m.ClientID); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	for _, n := range []int{5900, 20000} { // near the limit (checked after signing) and far (checked before)
		for _, enc := range []string{"", AlgECDHESA256KW} {
			f := newFixture(t, AlgES256, enc, time.Hour)
			reg := `{"client_name":"` + strings.Repeat("n", n) + `"}`
			_, err := f.minter.Mint(MintRequest{Reg: json.RawMessage(reg)})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("n=%d enc=%q: err = %v, want ErrTooLarge", n, enc, err)
			}
		}
	}
	// And one just under the limit works.
	f := newFixture(t, AlgES256, "", time.Hour)
	if _, err := f.minter.Mint(MintRequest{Reg: json.RawMessage(`{"client_name":"` + strings.Repeat("n", 5000) + `"}`)}); err != nil {
		t.Fatalf("5000-char name: %v", err)
	}
}

func TestMintRejectsBadReg(t *testing.T) {
	f := newFixture(t, AlgES256, "", time.Hour)
	for _, reg := range []string{``, `null`, `[]`, `"x"`, `{"a":}`, `{"a":1} x`} {
		if _, err := f.minter.Mint(MintRequest{Reg: json.RawMessage(reg)}); err == nil {
			t.Errorf("Mint accepted reg %q", reg)
		}
	}
}

// A cnf key that fails the client key rules (here RSA-1024) is never signed
// into an id, whoever calls Mint.
func TestMintRejectsWeakConfirmationKey(t *testing.T) {
	f := newFixture(t, AlgES256, "", time.Hour)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cnf := &Confirmation{JWK: &jose.JSONWebKey{Key: &weak.PublicKey, Algorithm: "RS256", Use: "sig"}}
	if _, err := f.minter.Mint(MintRequest{Reg: json.RawMessage(`{}`), Confirmation: cnf}); err == nil {
		t.Fatal("Mint signed an RSA-1024 cnf key into a client id")
	}
	strong, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cnf.JWK.Key = &strong.PublicKey
	if _, err := f.minter.Mint(MintRequest{Reg: json.RawMessage(`{}`), Confirmation: cnf}); err != nil {
		t.Fatalf("Mint refused an RSA-2048 cnf key: %v", err)
	}
}

// --- Verification failures (SCI-10) ---

func TestCraftedControl(t *testing.T) {
	// The crafting helper must produce acceptable ids, or the rejection tests
	// below prove nothing.
	f := newFixture(t, AlgES256, "", time.Hour)
	if _, err := f.ver.Verify(craft(t, f.sig, nil, validClaims())); err != nil {
		t.Fatalf("crafted valid id rejected: %v", err)
	}
}

func TestRejections(t *testing.T) {
	f := newFixture(t, AlgES256, "", time.Hour)
	f.clock.Set(t0.Add(time.Minute))
	attacker, err := GenerateKey(UseSignature, AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	minted := f.mint(t, regWithContacts, true).ClientID
	with := func(k string, v any) map[string]any {
		c := validClaims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	hdr := segmentJSON(t, minted, 0)
	payload := strings.Split(minted, ".")[1]
	noneHeader, _ := json.Marshal(map[string]any{"alg": "none", "kid": hdr["kid"], "typ": TypeClientID})
	pubJWK, _ := json.Marshal(must(f.sig.PublicJWK()))
	hsHeader, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": hdr["kid"], "typ": TypeClientID})
	hsInput := b64(hsHeader) + "." + payload
	mac := hmac.New(sha256.New, pubJWK)
	mac.Write([]byte(hsInput))
	hs256 := hsInput + "." + b64(mac.Sum(nil))

	sigSeg := strings.Split(minted, ".")[2]
	last := sigSeg[len(sigSeg)-1]
	nonCanonical := minted[:len(minted)-1] + string(b64alphabet[strings.IndexByte(b64alphabet, last)^1])

	cases := []struct {
		name string
		id   string
		want error
	}{
		{"signature char flipped", flipSegment(t, minted, 2), errSignature},
		{"payload char flipped", flipSegment(t, minted, 1), errSignature},
		{"non-canonical base64 in signature", nonCanonical, errMalformed},
		{"alg none", b64(noneHeader) + "." + payload + ".", errAlgorithm},
		{"HS256 with public key as secret", hs256, errAlgorithm},
		{"typ JWT", craft(t, f.sig, map[string]any{"typ": "JWT"}, validClaims()), errType},
		{"typ at+jwt", craft(t, f.sig, map[string]any{"typ": "at+jwt"}, validClaims()), errType},
		{"typ missing", craft(t, f.sig, map[string]any{"typ": nil}, validClaims()), errType},
		{"kid missing", craft(t, f.sig, map[string]any{"kid": nil}, validClaims()), errNoKid},
		{"unknown kid", craft(t, f.sig, map[string]any{"kid": "nope"}, validClaims()), errUnknownKid},
		{"attacker key, iss=attacker", craft(t, attacker, nil, with("iss", "https://attacker.example")), errUnknownKid},
		{"attacker key reusing our kid", craft(t, attacker, map[string]any{"kid": f.sig.ID}, validClaims()), errSignature},
		{"untrusted iss, our key", craft(t, f.sig, nil, with("iss", "https://other.example")), errIssuer},
		{"iss missing", craft(t, f.sig, nil, with("iss", nil)), errIssuer},
		{"crit header", craft(t, f.sig, map[string]any{"crit": []string{"x-unknown"}, "x-unknown": true}, validClaims()), errCrit},
		{"expired", craft(t, f.sig, nil, with("exp", t0.Add(30*time.Second).Unix())), errExpired},
		{"exp equals now", craft(t, f.sig, nil, with("exp", t0.Add(time.Minute).Unix())), errExpired},
		{"exp fractional, past", craft(t, f.sig, nil, with("exp", float64(t0.Unix())+0.5)), errExpired},
		{"exp not a number", craft(t, f.sig, nil, with("exp", "tomorrow")), errClaims},
		{"exp huge", craftRaw(t, f.sig, []byte(`{"iss":"`+testIss+`","sub":"s","aud":"`+testIss+`","exp":1e400,"reg":{}}`)), errClaims},
		{"duplicate iss", craftRaw(t, f.sig, []byte(`{"iss":"https://other.example","iss":"`+testIss+`","sub":"s","aud":"`+testIss+`","reg":{}}`)), errClaims},
		{"nbf in future", craft(t, f.sig, nil, with("nbf", t0.Add(time.Hour).Unix())), errNotYetValid},
		{"wrong aud", craft(t, f.sig, nil, with("aud", "https://rs.example.com")), errAudience},
		{"wrong aud list", craft(t, f.sig, nil, with("aud", []string{"https://rs.example.com"})), errAudience},
		{"aud missing", craft(t, f.sig, nil, with("aud", nil)), errAudience},
		{"reg array", craft(t, f.sig, nil, with("reg", []string{"x"})), errReg},
		{"reg string", craft(t, f.sig, nil, with("reg", "x")), errReg},
		{"reg missing", craft(t, f.sig, nil, with("reg", nil)), errReg},
		{"sub missing", craft(t, f.sig, nil, with("sub", nil)), errClaims},
		{"client_secret in signed-only", craft(t, f.sig, nil, with("client_secret", "s3cret")), errSecretInClear},
		{"cnf with two members", craft(t, f.sig, nil, with("cnf", map[string]any{"jwk": must(attacker.PublicJWK()), "jku": "https://c.example/jwks"})), ErrInvalidClientID},
		{"cnf with private jwk", craft(t, f.sig, nil, with("cnf", map[string]any{"jwk": attacker.Private})), ErrInvalidClientID},
		{"claims not JSON", craftRaw(t, f.sig, []byte("not json")), errClaims},
		{"one segment", "abc", errMalformed},
		{"four segments", minted + ".abc", errMalformed},
		{"space", minted + " ", errMalformed},
		{"newline inside", minted[:10] + "\n" + minted[10:], errMalformed},
		{"padding", minted + "=", errMalformed},
		{"empty", "", errMalformed},
		{"too long", strings.Repeat("a", MaxClientIDLength) + ".a.a", errMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.ver.Verify(tc.id)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if !errors.Is(err, ErrInvalidClientID) {
				t.Fatalf("err %v does not wrap ErrInvalidClientID", err)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}

	// Positive counterparts of the time checks: leeway and list audiences.
	lenient := mustVerifier(t, VerifierConfig{
		TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: f.ks.PublicKeySet()},
		Audience:       testIss, Clock: f.clock, Leeway: 2 * time.Minute,
	})
	for name, id := range map[string]string{
		"expired within leeway": craft(t, f.sig, nil, with("exp", t0.Add(30*time.Second).Unix())),
		"nbf within leeway":     craft(t, f.sig, nil, with("nbf", t0.Add(2*time.Minute).Unix())),
		"aud list":              craft(t, f.sig, nil, with("aud", []string{"x", testIss})),
		"exp fractional":        craft(t, f.sig, nil, with("exp", float64(t0.Add(time.Hour).Unix())+0.25)),
		"typ application/":      craft(t, f.sig, map[string]any{"typ": "application/" + TypeClientID}, validClaims()),
	} {
		if _, err := lenient.Verify(id); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

const b64alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func must[T any](v T, ok bool) T {
	if !ok {
		panic("must: not ok")
	}
	return v
}

func craftRaw(t testing.TB, k Key, payload []byte) string {
	t.Helper()
	return josetest.Sign(t, jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Private.Key},
		(&jose.SignerOptions{}).WithType(TypeClientID).WithHeader("kid", k.ID), payload)
}

// TestKeyBelongsToIssuer: with two trusted issuers, a key of one cannot sign
// for the other (RFC 8725 §3.8).
func TestKeyBelongsToIssuer(t *testing.T) {
	a := cachedKey(t, UseSignature, AlgES256)
	b := cachedKey(t, UseSignature, AlgEdDSA)
	ksA, ksB := &KeySet{Keys: []Key{a}}, &KeySet{Keys: []Key{b}}
	v := mustVerifier(t, VerifierConfig{
		TrustedIssuers: map[string]jose.JSONWebKeySet{
			testIss:                 ksA.PublicKeySet(),
			"https://b.example.com": ksB.PublicKeySet(),
		},
		Audience: testIss,
	})
	if _, err := v.Verify(craft(t, a, nil, validClaims())); err != nil {
		t.Fatalf("issuer A with A's key: %v", err)
	}
	c := validClaims()
	c["iss"] = "https://b.example.com"
	if _, err := v.Verify(craft(t, b, nil, c)); err != nil {
		t.Fatalf("issuer B with B's key: %v", err)
	}
	if _, err := v.Verify(craft(t, b, nil, validClaims())); !errors.Is(err, errIssuer) {
		t.Fatalf("B's key claiming issuer A: err = %v", err)
	}
}

func TestAlgorithmAllowList(t *testing.T) {
	rs := cachedKey(t, UseSignature, AlgRS256)
	ks := &KeySet{Keys: []Key{rs}}
	for _, bad := range []string{"none", "HS256", "HS512", ""} {
		if _, err := NewVerifier(VerifierConfig{
			TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: ks.PublicKeySet()},
			Audience:       testIss, Algorithms: []string{bad},
		}); err == nil {
			t.Errorf("NewVerifier allowed %q", bad)
		}
	}
	// An RS256 key whose JWK says RS256 cannot be used with PS256 even when
	// PS256 is allowed (one key, one alg).
	v := mustVerifier(t, VerifierConfig{
		TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: ks.PublicKeySet()},
		Audience:       testIss, Algorithms: []string{"PS256", "RS256"},
	})
	ps := rs
	ps.Algorithm = "PS256"
	if _, err := v.Verify(craft(t, ps, nil, validClaims())); !errors.Is(err, errSignature) {
		t.Fatalf("PS256 with an RS256 key: err = %v", err)
	}
	if _, err := v.Verify(craft(t, rs, nil, validClaims())); err != nil {
		t.Fatalf("RS256 control: %v", err)
	}
	// Allow-list without RS256: the RS256 key is unusable, so no keys at all.
	if _, err := NewVerifier(VerifierConfig{
		TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: ks.PublicKeySet()},
		Audience:       testIss, Algorithms: []string{"ES256"},
	}); err == nil {
		t.Fatal("NewVerifier without usable keys succeeded")
	}
	// An allow-list of ES256 rejects an EdDSA id before looking at keys.
	ed := cachedKey(t, UseSignature, AlgEdDSA)
	es := cachedKey(t, UseSignature, AlgES256)
	both := &KeySet{Keys: []Key{ed, es}}
	vES := mustVerifier(t, VerifierConfig{
		TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: both.PublicKeySet()},
		Audience:       testIss, Algorithms: []string{"ES256"},
	})
	if _, err := vES.Verify(craft(t, ed, nil, validClaims())); !errors.Is(err, errAlgorithm) {
		t.Fatalf("EdDSA under ES256-only: err = %v", err)
	}
}

// --- Nested JWE (SCI-05, SCI-19) ---

func TestJWETamperingGivesOneError(t *testing.T) {
	for _, enc := range []string{AlgECDHESA256KW, AlgRSAOAEP256, AlgA256KW} {
		t.Run(enc, func(t *testing.T) {
			f := newFixture(t, AlgES256, enc, time.Hour)
			id := f.mint(t, regWithContacts, true).ClientID
			if _, err := f.ver.Verify(id); err != nil {
				t.Fatalf("control: %v", err)
			}
			var msgs []string
			for seg, name := range []string{"header", "encrypted key", "iv", "ciphertext", "tag"} {
				_, err := f.ver.Verify(flipSegment(t, id, seg))
				if err == nil {
					t.Fatalf("%s flipped: accepted", name)
				}
				if !errors.Is(err, ErrInvalidClientID) || err != errUndecryptable {
					t.Fatalf("%s flipped: err = %v, want the undecryptable error", name, err)
				}
				msgs = append(msgs, err.Error())
			}
			for _, m := range msgs {
				if m != msgs[0] {
					t.Fatalf("decryption errors differ: %q", msgs)
				}
			}
		})
	}
}

func TestJWERejections(t *testing.T) {
	f := newFixture(t, AlgES256, AlgECDHESA256KW, time.Hour)
	pub := must(f.enc.PublicJWK())
	encrypt := func(plaintext string, alg jose.KeyAlgorithm, key any, kid string, opts *jose.EncrypterOptions) string {
		t.Helper()
		return josetest.Encrypt(t, jose.A256GCM, jose.Recipient{Algorithm: alg, Key: key, KeyID: kid}, opts, []byte(plaintext))
	}
	cty := func() *jose.EncrypterOptions { return (&jose.EncrypterOptions{}).WithContentType("JWT") }
	valid := craft(t, f.sig, nil, validClaims())
	attacker, err := GenerateKey(UseSignature, AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	withSecret := validClaims()
	withSecret["client_secret"] = "chosen"

	control := encrypt(valid, jose.ECDH_ES_A256KW, pub.Key, f.enc.ID, cty())
	if _, err := f.ver.Verify(control); err != nil {
		t.Fatalf("control: %v", err)
	}
	zipOpts := cty()
	zipOpts.Compression = jose.DEFLATE
	cases := []struct {
		name string
		id   string
		want error
	}{
		{"zip", encrypt(valid, jose.ECDH_ES_A256KW, pub.Key, f.enc.ID, zipOpts), errUndecryptable},
		{"no cty", encrypt(valid, jose.ECDH_ES_A256KW, pub.Key, f.enc.ID, nil), errUndecryptable},
		{"unknown enc kid", encrypt(valid, jose.ECDH_ES_A256KW, pub.Key, "nope", cty()), errUndecryptable},
		{"ECDH-ES direct", encrypt(valid, jose.ECDH_ES, pub.Key, f.enc.ID, cty()), errUndecryptable},
		{"crit", encrypt(valid, jose.ECDH_ES_A256KW, pub.Key, f.enc.ID, cty().WithHeader("crit", []string{"x"})), errUndecryptable},
		{"inner not a JWS", encrypt(`{"iss":"`+testIss+`"}`, jose.ECDH_ES_A256KW, pub.Key, f.enc.ID, cty()), errNested},
		{"inner typ JWT", encrypt(craft(t, f.sig, map[string]any{"typ": "JWT"}, validClaims()), jose.ECDH_ES_A256KW, pub.Key, f.enc.ID, cty()), errType},
		{"inner signed by attacker", encrypt(craft(t, attacker, nil, withSecret), jose.ECDH_ES_A256KW, pub.Key, f.enc.ID, cty()), errUnknownKid},
		{"inner expired", encrypt(craft(t, f.sig, nil, func() map[string]any { c := validClaims(); c["exp"] = t0.Unix() - 1; return c }()), jose.ECDH_ES_A256KW, pub.Key, f.enc.ID, cty()), errExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.ver.Verify(tc.id)
			if !errors.Is(err, ErrInvalidClientID) || !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}

	// A verifier without decryption keys refuses nested ids with the same error.
	signedOnly, err := NewVerifier(VerifierConfig{
		TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: f.ks.PublicKeySet()},
		Audience:       testIss, Clock: f.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signedOnly.Verify(control); err != errUndecryptable {
		t.Fatalf("no decryption keys: err = %v", err)
	}
}

// --- Secrets (SCI-08, SCI-21) ---

func TestDerivedSecret(t *testing.T) {
	f := newFixture(t, AlgES256, "", time.Hour)
	m := f.mint(t, regWithContacts, true)
	mac := hmac.New(sha256.New, f.sig.SecretKey)
	mac.Write([]byte("clientreg/client-secret/v1\x00" + m.Subject))
	if want := b64(mac.Sum(nil)); m.ClientSecret != want {
		t.Fatalf("secret %q, want HMAC derivation %q", m.ClientSecret, want)
	}
	c, err := f.ver.Verify(m.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ver.CheckSecret(c, m.ClientSecret); err != nil {
		t.Fatalf("right secret: %v", err)
	}
	other := f.mint(t, regWithContacts, true)
	wrong := map[string]string{
		"last char changed": m.ClientSecret[:len(m.ClientSecret)-1] + string(b64alphabet[(strings.IndexByte(b64alphabet, m.ClientSecret[len(m.ClientSecret)-1])+1)%64]),
		"other client's":    other.ClientSecret,
		"empty":             "",
		"prefix":            m.ClientSecret[:10],
		"with suffix":       m.ClientSecret + "x",
	}
	for name, s := range wrong {
		if err := f.ver.CheckSecret(c, s); !errors.Is(err, ErrInvalidClientSecret) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// Public client: no secret returned (but nothing in the id either).
	if pub := f.mint(t, regWithContacts, false); pub.ClientSecret != "" {
		t.Fatalf("public client got a secret")
	}
	// A verifier without the SecretKey cannot accept it.
	noSK, err := NewVerifier(VerifierConfig{
		TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: f.ks.PublicKeySet()},
		Audience:       testIss, Clock: f.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := noSK.Verify(m.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if err := noSK.CheckSecret(c2, m.ClientSecret); !errors.Is(err, ErrInvalidClientSecret) {
		t.Fatalf("no secret key: err = %v", err)
	}
	if err := f.ver.CheckSecret(nil, m.ClientSecret); !errors.Is(err, ErrInvalidClientSecret) {
		t.Fatalf("nil client: err = %v", err)
	}
}

func TestJWESecret(t *testing.T) {
	f := newFixture(t, AlgES256, AlgA256KW, time.Hour)
	m := f.mint(t, regWithContacts, true)
	if len(unb64(t, m.ClientSecret)) != 32 {
		t.Fatalf("secret %q is not 256 bits", m.ClientSecret)
	}
	if m.ClientSecret == deriveSecret(f.sig.SecretKey, m.Subject) {
		t.Fatal("nested secret is the derived one")
	}
	c, err := f.ver.Verify(m.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ver.CheckSecret(c, m.ClientSecret); err != nil {
		t.Fatalf("right secret: %v", err)
	}
	lastChanged := m.ClientSecret[:len(m.ClientSecret)-1] + string(b64alphabet[(strings.IndexByte(b64alphabet, m.ClientSecret[len(m.ClientSecret)-1])+1)%64])
	for _, s := range []string{lastChanged, "", "x", deriveSecret(f.sig.SecretKey, m.Subject)} {
		if err := f.ver.CheckSecret(c, s); !errors.Is(err, ErrInvalidClientSecret) {
			t.Errorf("secret %q: err = %v", s, err)
		}
	}
	// Public nested client: no client_secret claim, and no secret accepted.
	pub := f.mint(t, regWithContacts, false)
	if pub.ClientSecret != "" || bytes.Contains(f.payloadOf(t, pub.ClientID), []byte(`"client_secret"`)) {
		t.Fatal("public nested client has a secret")
	}
	pc, err := f.ver.Verify(pub.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ver.CheckSecret(pc, deriveSecret(f.sig.SecretKey, pub.Subject)); !errors.Is(err, ErrInvalidClientSecret) {
		t.Fatalf("public nested client accepted a derived secret: %v", err)
	}
}

// --- cnf (SCI-09) ---

func TestConfirmationRoundTrip(t *testing.T) {
	clientKey, err := GenerateKey(UseSignature, AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	pub := must(clientKey.PublicJWK())
	jwks, _ := json.Marshal(map[string]any{"keys": []any{pub}})
	cnf, err := ConfirmationFor(AuthMethodPrivateKeyJWT, jwks, "")
	if err != nil || cnf == nil || cnf.JWK == nil {
		t.Fatalf("ConfirmationFor: %+v, %v", cnf, err)
	}
	for _, enc := range []string{"", AlgECDHESA256KW} {
		f := newFixture(t, AlgES256, enc, time.Hour)
		m, err := f.minter.Mint(MintRequest{Reg: json.RawMessage(`{"token_endpoint_auth_method":"private_key_jwt"}`), Confirmation: cnf})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(f.payloadOf(t, m.ClientID), []byte(`"cnf":{"jwk":{`)) {
			t.Fatalf("payload lacks cnf.jwk: %s", f.payloadOf(t, m.ClientID))
		}
		c, err := f.ver.Verify(m.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Confirmation == nil || c.Confirmation.JWK == nil || c.Confirmation.JKU != "" {
			t.Fatalf("confirmation %+v", c.Confirmation)
		}
		got, _ := c.Confirmation.JWK.Thumbprint(crypto.SHA256)
		want, _ := pub.Thumbprint(crypto.SHA256)
		if !bytes.Equal(got, want) {
			t.Fatal("cnf.jwk thumbprint differs")
		}
	}
	f := newFixture(t, AlgES256, "", time.Hour)
	m, err := f.minter.Mint(MintRequest{Reg: json.RawMessage(`{}`), Confirmation: &Confirmation{JKU: "https://client.example.org/jwks"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.ver.Verify(m.ClientID)
	if err != nil || c.Confirmation == nil || c.Confirmation.JKU != "https://client.example.org/jwks" {
		t.Fatalf("jku round trip: %+v %v", c, err)
	}
	// The minter refuses private key material and two members.
	for name, bad := range map[string]*Confirmation{
		"private jwk":   {JWK: &clientKey.Private},
		"symmetric jwk": {JWK: &jose.JSONWebKey{Key: make([]byte, 32), KeyID: "s"}},
		"two members":   {JWK: &pub, JKU: "https://client.example.org/jwks"},
		"http jku":      {JKU: "http://client.example.org/jwks"},
	} {
		if _, err := f.minter.Mint(MintRequest{Reg: json.RawMessage(`{}`), Confirmation: bad}); err == nil {
			t.Errorf("%s: Mint accepted", name)
		}
	}
}

func TestConfirmationFor(t *testing.T) {
	k1, _ := GenerateKey(UseSignature, AlgES256, t0)
	k2, _ := GenerateKey(UseSignature, AlgEdDSA, t0)
	one, _ := json.Marshal(map[string]any{"keys": []any{must(k1.PublicJWK())}})
	two, _ := json.Marshal(map[string]any{"keys": []any{must(k1.PublicJWK()), must(k2.PublicJWK())}})
	priv, _ := json.Marshal(map[string]any{"keys": []any{k1.Private}})
	oct := []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`)

	if c, err := ConfirmationFor(AuthMethodPrivateKeyJWT, one, ""); err != nil || c == nil || c.JWK == nil || c.JWK.KeyID != k1.ID {
		t.Errorf("one key: %+v %v", c, err)
	}
	if c, err := ConfirmationFor(AuthMethodPrivateKeyJWT, two, ""); err != nil || c != nil {
		t.Errorf("two keys: %+v %v", c, err)
	}
	if c, err := ConfirmationFor(AuthMethodPrivateKeyJWT, nil, "https://c.example/jwks"); err != nil || c == nil || c.JKU != "https://c.example/jwks" {
		t.Errorf("jwks_uri: %+v %v", c, err)
	}
	if c, err := ConfirmationFor("client_secret_basic", one, ""); err != nil || c != nil {
		t.Errorf("other method: %+v %v", c, err)
	}
	if c, err := ConfirmationFor(AuthMethodPrivateKeyJWT, json.RawMessage("null"), ""); err != nil || c != nil {
		t.Errorf("null jwks: %+v %v", c, err)
	}
	for name, tc := range map[string]struct {
		method, uri string
		jwks        []byte
	}{
		"private EC key":          {AuthMethodPrivateKeyJWT, "", priv},
		"private key, other auth": {"none", "", priv},
		"symmetric key":           {AuthMethodPrivateKeyJWT, "", oct},
		"jwks and jwks_uri":       {AuthMethodPrivateKeyJWT, "https://c.example/jwks", one},
		"http jwks_uri":           {AuthMethodPrivateKeyJWT, "http://c.example/jwks", nil},
		"relative jwks_uri":       {AuthMethodPrivateKeyJWT, "/jwks", nil},
		"jwks not an object":      {AuthMethodPrivateKeyJWT, "", []byte(`[1]`)},
		"jwks without keys":       {AuthMethodPrivateKeyJWT, "", []byte(`{}`)},
	} {
		if c, err := ConfirmationFor(tc.method, tc.jwks, tc.uri); err == nil {
			t.Errorf("%s: accepted (%+v)", name, c)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	sig := cachedKey(t, UseSignature, AlgES256)
	enc := cachedKey(t, UseEncryption, AlgECDHESA256KW)
	retired := sig
	now := t0
	retired.RetiredAt = &now
	noSK := sig
	noSK.SecretKey = nil
	for name, cfg := range map[string]MinterConfig{
		"no issuer":         {SigningKey: sig},
		"enc key as signer": {Issuer: testIss, SigningKey: enc},
		"retired key":       {Issuer: testIss, SigningKey: retired},
		"no secret key":     {Issuer: testIss, SigningKey: noSK},
		"negative lifetime": {Issuer: testIss, SigningKey: sig, Lifetime: -time.Second},
		"enc without kid":   {Issuer: testIss, SigningKey: sig, Encryption: &EncryptionConfig{Recipient: jose.JSONWebKey{Key: must(enc.PublicJWK()).Key}}},
		"enc alg mismatch":  {Issuer: testIss, SigningKey: sig, Encryption: &EncryptionConfig{Recipient: jose.JSONWebKey{Key: must(enc.PublicJWK()).Key, Algorithm: AlgRSAOAEP256}, KeyID: "k"}},
		"enc short sym key": {Issuer: testIss, SigningKey: sig, Encryption: &EncryptionConfig{Recipient: jose.JSONWebKey{Key: make([]byte, 16)}, KeyID: "k"}},
	} {
		if _, err := NewMinter(cfg); err == nil {
			t.Errorf("NewMinter(%s) succeeded", name)
		}
	}
	ks := &KeySet{Keys: []Key{sig}}
	for name, cfg := range map[string]VerifierConfig{
		"no audience":   {TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: ks.PublicKeySet()}},
		"no issuers":    {Audience: testIss},
		"symmetric key": {Audience: testIss, TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: {Keys: []jose.JSONWebKey{{Key: make([]byte, 32), KeyID: "h"}}}}},
		"key no kid":    {Audience: testIss, TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: {Keys: []jose.JSONWebKey{{Key: must(sig.PublicJWK()).Key}}}}},
		"public dec key": {Audience: testIss, TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: ks.PublicKeySet()},
			DecryptionKeys: []jose.JSONWebKey{must(enc.PublicJWK())}},
		"short secret key": {Audience: testIss, TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: ks.PublicKeySet()},
			SecretKeys: map[string][]byte{sig.ID: {1, 2, 3}}},
		"negative leeway": {Audience: testIss, TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: ks.PublicKeySet()}, Leeway: -1},
	} {
		if _, err := NewVerifier(cfg); err == nil {
			t.Errorf("NewVerifier(%s) succeeded", name)
		}
	}
}

// TestConcurrentUse exercises one Minter and one Verifier from several
// goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t, AlgEdDSA, AlgA256KW, time.Hour)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 20 {
				m, err := f.minter.Mint(MintRequest{Reg: json.RawMessage(regWithContacts), Confidential: true})
				if err != nil {
					errs <- err
					return
				}
				c, err := f.ver.Verify(m.ClientID)
				if err == nil {
					err = f.ver.CheckSecret(c, m.ClientSecret)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
