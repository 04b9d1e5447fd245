package stateless

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/internal/josetest"
	"github.com/clientreg/clientreg/internal/testclock"
)

const testIss = "https://as.example.com"

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Key generation (RSA especially) is slow; tests share one key per (use, alg).
var (
	keyCacheMu sync.Mutex
	keyCache   = map[string]Key{}
)

func cachedKey(t testing.TB, use KeyUse, alg string) Key {
	t.Helper()
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	name := string(use) + "/" + alg
	if k, ok := keyCache[name]; ok {
		return k
	}
	k, err := GenerateKey(use, alg, t0)
	if err != nil {
		t.Fatalf("GenerateKey(%s, %s): %v", use, alg, err)
	}
	keyCache[name] = k
	return k
}

const regWithContacts = `{"redirect_uris":["https://client.example.org/cb"],"token_endpoint_auth_method":"client_secret_basic","contacts":["dev@example.org"]}`

// fixture is a key set with a minter and verifier built from it.
type fixture struct {
	ks     *KeySet
	clock  *testclock.Clock
	minter *Minter
	ver    *Verifier
	sig    Key
	enc    *Key
}

func newFixture(t testing.TB, sigAlg, encAlg string, lifetime time.Duration) *fixture {
	t.Helper()
	f := &fixture{clock: testclock.New(t0), sig: cachedKey(t, UseSignature, sigAlg)}
	f.ks = &KeySet{Keys: []Key{f.sig}}
	cfg := MinterConfig{Issuer: testIss, SigningKey: f.sig, Lifetime: lifetime, Clock: f.clock}
	if encAlg != "" {
		ek := cachedKey(t, UseEncryption, encAlg)
		f.enc = &ek
		f.ks.Keys = append(f.ks.Keys, ek)
		ec, ok := f.ks.EncryptionConfig()
		if !ok {
			t.Fatal("EncryptionConfig: no active enc key")
		}
		cfg.Encryption = ec
	}
	var err error
	if f.minter, err = NewMinter(cfg); err != nil {
		t.Fatalf("NewMinter: %v", err)
	}
	if f.ver, err = VerifierFromKeySet(testIss, "", f.ks, f.clock); err != nil {
		t.Fatalf("VerifierFromKeySet: %v", err)
	}
	return f
}

// mustVerifier is NewVerifier(cfg), with a clock at t0 if cfg has none; an
// error fails t.
func mustVerifier(t testing.TB, cfg VerifierConfig) *Verifier {
	t.Helper()
	if cfg.Clock == nil {
		cfg.Clock = testclock.New(t0)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) mint(t testing.TB, reg string, confidential bool) *Minted {
	t.Helper()
	m, err := f.minter.Mint(MintRequest{Reg: json.RawMessage(reg), Confidential: confidential})
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return m
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

// segmentJSON decodes segment i of a compact serialization into a map.
func segmentJSON(t testing.TB, compact string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(compact, ".")
	var m map[string]any
	if err := json.Unmarshal(unb64(t, parts[i]), &m); err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	return m
}

// innerJWS decrypts a nested client id with the fixture's encryption key.
func (f *fixture) innerJWS(t testing.TB, id string) string {
	t.Helper()
	obj, err := jose.ParseEncryptedCompact(id,
		[]jose.KeyAlgorithm{jose.KeyAlgorithm(f.enc.Algorithm)}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatalf("ParseEncryptedCompact: %v", err)
	}
	pt, err := obj.Decrypt(f.enc.Private.Key)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	return string(pt)
}

// payloadOf returns the decoded claims bytes of a client id (decrypting a
// nested one).
func (f *fixture) payloadOf(t testing.TB, id string) []byte {
	t.Helper()
	if strings.Count(id, ".") == 4 {
		id = f.innerJWS(t, id)
	}
	return unb64(t, strings.Split(id, ".")[1])
}

func validClaims() map[string]any {
	return map[string]any{
		"iss": testIss,
		"sub": "c3ViamVjdA",
		"aud": testIss,
		"iat": t0.Unix(),
		"exp": t0.Add(time.Hour).Unix(),
		"reg": map[string]any{"redirect_uris": []string{"https://client.example.org/cb"}},
	}
}

// craft signs claims with k through go-jose. hdr adds or overrides protected
// header members; "kid" defaults to k.ID and "typ" to TypeClientID, and a nil
// value removes the member.
func craft(t testing.TB, k Key, hdr map[string]any, claims map[string]any) string {
	t.Helper()
	h := josetest.With(map[string]any{"kid": k.ID, "typ": TypeClientID}, hdr)
	return josetest.SignJSON(t, jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Private.Key}, josetest.Headers(h), claims)
}

// flipAt replaces the character at position i of s by another base64url
// character that keeps the string canonical.
func flipAt(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'Q'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// flipSegment flips a character in the middle of segment seg.
func flipSegment(t testing.TB, s string, seg int) string {
	t.Helper()
	parts := strings.Split(s, ".")
	if len(parts[seg]) < 2 {
		t.Fatalf("segment %d too short to flip", seg)
	}
	off := 0
	for i := 0; i < seg; i++ {
		off += len(parts[i]) + 1
	}
	return flipAt(s, off+len(parts[seg])/2)
}
