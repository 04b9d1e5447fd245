package stateless

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/internal/testclock"
)

func TestGenerateKey(t *testing.T) {
	for _, tc := range []struct {
		use KeyUse
		alg string
	}{
		{UseSignature, AlgES256}, {UseSignature, AlgEdDSA}, {UseSignature, AlgRS256},
		{UseEncryption, AlgECDHESA256KW}, {UseEncryption, AlgRSAOAEP256}, {UseEncryption, AlgA256KW},
	} {
		k := cachedKey(t, tc.use, tc.alg)
		if err := k.validate(); err != nil {
			t.Fatalf("%s/%s: %v", tc.use, tc.alg, err)
		}
		if k.Private.KeyID != k.ID || k.Private.Algorithm != tc.alg || k.Private.Use != string(tc.use) {
			t.Fatalf("%s/%s: JWK kid/alg/use = %q/%q/%q", tc.use, tc.alg, k.Private.KeyID, k.Private.Algorithm, k.Private.Use)
		}
		if (len(k.SecretKey) == 32) != (tc.use == UseSignature) {
			t.Fatalf("%s/%s: secretKey length %d", tc.use, tc.alg, len(k.SecretKey))
		}
		if pub, ok := k.PublicJWK(); ok {
			tp, err := pub.Thumbprint(crypto.SHA256)
			if err != nil || k.ID != b64(tp) {
				t.Fatalf("%s/%s: kid %q is not the RFC 7638 thumbprint", tc.use, tc.alg, k.ID)
			}
		} else if tc.alg != AlgA256KW {
			t.Fatalf("%s/%s: no public JWK", tc.use, tc.alg)
		} else if len(unb64(t, k.ID)) != 16 {
			t.Fatalf("symmetric kid %q is not random 128 bits", k.ID)
		}
	}
	a, _ := GenerateKey(UseEncryption, AlgA256KW, t0)
	b, _ := GenerateKey(UseEncryption, AlgA256KW, t0)
	if a.ID == b.ID {
		t.Fatal("symmetric kids collide")
	}
	def, err := GenerateKey(UseSignature, "", t0)
	if err != nil || def.Algorithm != AlgES256 {
		t.Fatalf("default sig alg: %q %v", def.Algorithm, err)
	}
	for _, bad := range []struct {
		use KeyUse
		alg string
	}{{UseSignature, "HS256"}, {UseSignature, AlgA256KW}, {UseEncryption, AlgES256}, {"other", AlgES256}, {UseEncryption, "RSA1_5"}} {
		if _, err := GenerateKey(bad.use, bad.alg, t0); err == nil {
			t.Errorf("GenerateKey(%s, %s) succeeded", bad.use, bad.alg)
		}
	}
}

func TestKeySetEnsureRotatePrune(t *testing.T) {
	const life = 24 * time.Hour
	clk := testclock.New(t0)
	ks := &KeySet{}

	changed, err := ks.Ensure(UseSignature, AlgES256, t0, life)
	if err != nil || !changed {
		t.Fatalf("Ensure on empty set: %v %v", changed, err)
	}
	first, ok := ks.Active(UseSignature)
	if !ok || first.Algorithm != AlgES256 || !first.CreatedAt.Equal(t0) {
		t.Fatalf("active key %+v %v", first, ok)
	}
	firstID := first.ID
	if changed, err := ks.Ensure(UseSignature, AlgES256, t0, life); err != nil || changed {
		t.Fatalf("second Ensure: %v %v", changed, err)
	}
	if changed, err := ks.Ensure(UseEncryption, "", t0, life); err != nil || !changed {
		t.Fatalf("Ensure enc: %v %v", changed, err)
	}
	if len(ks.Keys) != 2 {
		t.Fatalf("%d keys", len(ks.Keys))
	}
	if _, ok := ks.Active(UseEncryption); !ok {
		t.Fatal("no active enc key")
	}

	// Mint a signed and a nested id with the first generation.
	mintWith := func(ks *KeySet, encrypted bool) *Minted {
		t.Helper()
		sig, _ := ks.Active(UseSignature)
		cfg := MinterConfig{Issuer: testIss, SigningKey: *sig, Lifetime: life, Clock: clk}
		if encrypted {
			cfg.Encryption, _ = ks.EncryptionConfig()
		}
		m, err := NewMinter(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Mint(MintRequest{Reg: json.RawMessage(regWithContacts), Confidential: true})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	oldSigned, oldNested := mintWith(ks, false), mintWith(ks, true)

	// Rotate both uses an hour later.
	rotAt := t0.Add(time.Hour)
	clk.Set(rotAt)
	if err := ks.Rotate(UseSignature, AlgEdDSA, rotAt, life); err != nil {
		t.Fatal(err)
	}
	if err := ks.Rotate(UseEncryption, AlgECDHESA256KW, rotAt, life); err != nil {
		t.Fatal(err)
	}
	if len(ks.Keys) != 4 {
		t.Fatalf("%d keys after rotation", len(ks.Keys))
	}
	active, _ := ks.Active(UseSignature)
	if active.ID == firstID || active.Algorithm != AlgEdDSA {
		t.Fatalf("active after rotate: %s %s", active.ID, active.Algorithm)
	}
	for _, k := range ks.Keys {
		if k.Active() {
			continue
		}
		if !k.RetiredAt.Equal(rotAt) || k.PublishUntil == nil || !k.PublishUntil.Equal(rotAt.Add(life)) {
			t.Fatalf("retired key %s: RetiredAt %v PublishUntil %v", k.ID, k.RetiredAt, k.PublishUntil)
		}
	}
	if err := ks.Validate(); err != nil {
		t.Fatalf("Validate after rotation: %v", err)
	}
	if got := ks.NextPrune(); !got.Equal(rotAt.Add(life)) {
		t.Fatalf("NextPrune = %v", got)
	}

	// Old ids still verify: through the published public key set alone...
	pubOnly, err := NewVerifier(VerifierConfig{
		TrustedIssuers: map[string]jose.JSONWebKeySet{testIss: ks.PublicKeySet()},
		Audience:       testIss, Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pubOnly.Verify(oldSigned.ClientID); err != nil {
		t.Fatalf("old signed id via PublicKeySet: %v", err)
	}
	// ...and through the full key set (decryption and secret keys too).
	v, err := VerifierFromKeySet(testIss, "", ks, clk)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Minted{oldSigned, oldNested, mintWith(ks, false), mintWith(ks, true)} {
		c, err := v.Verify(m.ClientID)
		if err != nil {
			t.Fatalf("verify after rotation (encrypted=%v): %v", m.Encrypted, err)
		}
		if err := v.CheckSecret(c, m.ClientSecret); err != nil {
			t.Fatalf("secret after rotation (encrypted=%v): %v", m.Encrypted, err)
		}
	}

	// Prune: nothing before PublishUntil, the retired keys at it.
	if ks.Prune(rotAt.Add(life - time.Second)) {
		t.Fatal("Prune removed keys before PublishUntil")
	}
	if !ks.Prune(rotAt.Add(life)) {
		t.Fatal("Prune removed nothing at PublishUntil")
	}
	if len(ks.Keys) != 2 || !ks.NextPrune().IsZero() {
		t.Fatalf("after prune: %d keys, NextPrune %v", len(ks.Keys), ks.NextPrune())
	}
	for _, k := range ks.Keys {
		if !k.Active() {
			t.Fatalf("retired key %s survived Prune", k.ID)
		}
	}
	v2, err := VerifierFromKeySet(testIss, "", ks, clk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Verify(oldSigned.ClientID); !errors.Is(err, errUnknownKid) {
		t.Fatalf("old signed id after prune: %v", err)
	}
	if _, err := v2.Verify(oldNested.ClientID); err != errUndecryptable {
		t.Fatalf("old nested id after prune: %v", err)
	}
}

func TestEnsureRotatesOnAlgChangeAndKeepsForeverWithoutLifetime(t *testing.T) {
	ks := &KeySet{}
	if _, err := ks.Ensure(UseSignature, AlgES256, t0, 0); err != nil {
		t.Fatal(err)
	}
	changed, err := ks.Ensure(UseSignature, AlgEdDSA, t0.Add(time.Minute), 0)
	if err != nil || !changed {
		t.Fatalf("Ensure with new alg: %v %v", changed, err)
	}
	if a, _ := ks.Active(UseSignature); a.Algorithm != AlgEdDSA {
		t.Fatalf("active alg %s", a.Algorithm)
	}
	old := ks.Keys[1]
	if old.RetiredAt == nil || old.PublishUntil != nil {
		t.Fatalf("lifetime 0: RetiredAt %v PublishUntil %v", old.RetiredAt, old.PublishUntil)
	}
	if ks.Prune(t0.AddDate(1000, 0, 0)) || len(ks.Keys) != 2 || !ks.NextPrune().IsZero() {
		t.Fatal("key without PublishUntil was pruned or scheduled")
	}
	if _, err := ks.Ensure(UseSignature, "HS256", t0, 0); err == nil {
		t.Fatal("Ensure accepted HS256")
	}
	if err := ks.Rotate(UseSignature, AlgES256, t0, -time.Second); err == nil {
		t.Fatal("Rotate accepted a negative lifetime")
	}
	if len(ks.Keys) != 2 {
		t.Fatal("failed calls changed the set")
	}
}

// keyStep is one Ensure (or, with rotate, Rotate) of a key set.
type keyStep struct {
	rotate   bool
	use      KeyUse
	alg      string
	at       time.Time
	lifetime time.Duration
}

// buildKeySet makes a key set by steps; a failing step fails t.
func buildKeySet(t *testing.T, steps ...keyStep) *KeySet {
	t.Helper()
	ks := &KeySet{}
	for _, s := range steps {
		var err error
		if s.rotate {
			err = ks.Rotate(s.use, s.alg, s.at, s.lifetime)
		} else {
			_, err = ks.Ensure(s.use, s.alg, s.at, s.lifetime)
		}
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
	}
	return ks
}

func TestKeySetMarshalParse(t *testing.T) {
	ks := buildKeySet(t,
		keyStep{use: UseSignature, alg: AlgRS256, at: t0, lifetime: time.Hour},
		keyStep{use: UseEncryption, alg: AlgA256KW, at: t0, lifetime: time.Hour},
		keyStep{rotate: true, use: UseSignature, alg: AlgEdDSA, at: t0.Add(time.Minute), lifetime: time.Hour},
		keyStep{rotate: true, use: UseEncryption, alg: AlgRSAOAEP256, at: t0.Add(time.Minute), lifetime: time.Hour},
		keyStep{use: UseSignature, alg: AlgES256, at: t0.Add(2 * time.Minute)})
	data, err := ks.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseKeySet(data)
	if err != nil {
		t.Fatalf("ParseKeySet: %v", err)
	}
	again, err := parsed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Fatalf("round trip differs:\n%s\n%s", data, again)
	}
	if len(parsed.Keys) != 5 {
		t.Fatalf("%d keys", len(parsed.Keys))
	}
	// The parsed keys work: mint with the parsed set, verify with the original.
	clk := testclock.New(t0)
	sig, _ := parsed.Active(UseSignature)
	enc, _ := parsed.EncryptionConfig()
	m, err := NewMinter(MinterConfig{Issuer: testIss, SigningKey: *sig, Encryption: enc, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Mint(MintRequest{Reg: json.RawMessage(`{}`), Confidential: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := VerifierFromKeySet(testIss, "", ks, clk)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Verify(out.ClientID); err != nil || v.CheckSecret(c, out.ClientSecret) != nil {
		t.Fatalf("parsed keys do not interoperate: %v", err)
	}
	empty, err := (&KeySet{}).Marshal()
	if err != nil || string(empty) != `{"keys":[]}` {
		t.Fatalf("empty set: %s %v", empty, err)
	}
	if _, err := ParseKeySet(empty); err != nil {
		t.Fatalf("parse empty set: %v", err)
	}
}

func TestParseKeySetRejects(t *testing.T) {
	a := cachedKey(t, UseSignature, AlgES256)
	b := cachedKey(t, UseSignature, AlgEdDSA)
	noSK := a
	noSK.SecretKey = nil
	wrongKid := a
	wrongKid.ID = "other"
	wrongAlg := b
	wrongAlg.Algorithm = AlgES256
	wrongAlg.Private.Algorithm = AlgES256
	for name, ks := range map[string]KeySet{
		"two active sig keys": {Keys: []Key{a, b}},
		"duplicate kid":       {Keys: []Key{a, a}},
		"sig without secret":  {Keys: []Key{noSK}},
		"kid mismatch":        {Keys: []Key{wrongKid}},
		"alg/key mismatch":    {Keys: []Key{wrongAlg}},
	} {
		data, err := json.Marshal(ks)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := ParseKeySet(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseKeySet([]byte(`{"keys":[{`)); err == nil {
		t.Error("bad JSON accepted")
	}
}

func TestPublicJWKS(t *testing.T) {
	ks := buildKeySet(t,
		keyStep{use: UseEncryption, alg: AlgECDHESA256KW, at: t0, lifetime: time.Hour},
		keyStep{use: UseSignature, alg: AlgRS256, at: t0, lifetime: time.Hour},
		keyStep{rotate: true, use: UseSignature, alg: AlgEdDSA, at: t0.Add(time.Minute), lifetime: time.Hour},
		keyStep{rotate: true, use: UseEncryption, alg: AlgA256KW, at: t0.Add(2 * time.Minute), lifetime: time.Hour})
	data, err := ks.PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := ks.PublicJWKS()
	if !bytes.Equal(data, again) {
		t.Fatal("PublicJWKS is not deterministic")
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		for _, m := range []string{"d", "k", "p", "q", "dp", "dq", "qi", "oth"} {
			if _, ok := k[m]; ok {
				t.Fatalf("public JWKS has private member %q: %s", m, data)
			}
		}
	}
	// 3 public keys (the A256KW key has none): active EdDSA sig first, then the
	// retired enc (ECDH, retired at +2m) and the retired RS256 sig (+1m).
	sig, _ := ks.Active(UseSignature)
	encRetired, rsRetired := "", ""
	for _, k := range ks.Keys {
		if k.Active() {
			continue
		}
		if k.Use == UseEncryption {
			encRetired = k.ID
		} else {
			rsRetired = k.ID
		}
	}
	want := []string{sig.ID, encRetired, rsRetired}
	if len(set.Keys) != len(want) {
		t.Fatalf("%d keys published, want %d: %s", len(set.Keys), len(want), data)
	}
	for i, id := range want {
		if set.Keys[i]["kid"] != id {
			t.Fatalf("key %d is %v, want %s", i, set.Keys[i]["kid"], id)
		}
	}
	if encAct, _ := ks.Active(UseEncryption); bytes.Contains(data, []byte(encAct.ID)) {
		t.Fatal("symmetric key published")
	}
}
