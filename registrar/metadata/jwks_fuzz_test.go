package metadata

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzCheckJWK feeds arbitrary bytes to the client key check and asserts its
// invariants: it never panics; a refusal is one of the fixed details (no key
// material); and an accepted key has no private member, and either is of a
// type go-jose does not know (ignored, RFC 7517 §5) or parses with go-jose as
// a valid public key with an RSA modulus of 2048-4096 bits and an odd
// exponent above 1, an EC point on its curve, or a 32-byte Ed25519 key.
//
//	go test ./registrar/metadata -run '^$' -fuzz FuzzCheckJWK -fuzztime 20s
func FuzzCheckJWK(f *testing.F) {
	clientKeys(f)
	testKeys(f)
	for _, key := range []any{&rsa2048.PublicKey, &ecP256.PublicKey, &ecP384.PublicKey, edKey} {
		b, err := jose.JSONWebKey{Key: key, KeyID: "k"}.MarshalJSON()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		ecPublicJWK, ecPrivateJWK, rsaPublicWithP,
		`{"kty":"RSA","n":"AAAA","e":"AQAB"}`,
		`{"kty":"RSA","n":"` + b64(oddOfBits(512)) + `","e":"AQAB"}`,
		`{"kty":"RSA","n":"` + b64(oddOfBits(2048)) + `","e":"AAEAAQ"}`,
		`{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}`,
		`{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`,
		`{"kty":"OKP","crv":"Ed25519","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"kty":"AKP","alg":"ML-DSA-44","pub":"AAAA"}`,
		`{"kty":"oct","k":"AAAA"}`, `{"kty":"future","D":"x","d":null}`,
		`{"kty":"RSA","kty":"EC"}`, `{}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	fixed := map[error]bool{}
	for _, e := range []error{errJWKNotObject, errJWKPrivate, errJWKNoKty, errJWKOct, errJWKInvalid,
		errRSAShort, errRSALong, errRSAModulus, errRSAExponent, errJWKCurve, errJWKCoordinate, errECPoint} {
		fixed[e] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckPublicJWK(data)
		if d := checkJWK(data); (d == "") != (err == nil) || (err != nil && d != err.Error()) {
			t.Fatalf("checkJWK %q and CheckPublicJWK %v disagree", d, err)
		}
		if err != nil {
			if !fixed[err] {
				t.Fatalf("refusal %q is not one of the fixed details", err)
			}
			return
		}
		var members map[string]json.RawMessage
		if json.Unmarshal(data, &members) != nil {
			t.Fatalf("accepted a key that is not a JSON object: %q", data)
		}
		for _, name := range privateJWKMembers {
			if _, ok := members[name]; ok {
				t.Fatalf("accepted a key with private member %q", name)
			}
		}
		kty, _ := jsonString(members["kty"])
		crv, _ := jsonString(members["crv"])
		var jwk jose.JSONWebKey
		perr := jwk.UnmarshalJSON(data)
		known := kty == "RSA" || kty == "EC" || (kty == "OKP" && crv == "Ed25519")
		if errors.Is(perr, jose.ErrUnsupportedKeyType) && !known {
			return // ignored, RFC 7517 §5
		}
		if perr != nil || !jwk.Valid() || !jwk.IsPublic() {
			t.Fatalf("accepted a key go-jose does not load as a public key (%v): %q", perr, data)
		}
		switch k := jwk.Key.(type) {
		case *rsa.PublicKey:
			if b := k.N.BitLen(); b < 2048 || b > 4096 || k.N.Bit(0) == 0 || k.E < 3 || k.E%2 == 0 {
				t.Fatalf("accepted a weak RSA key: %d bits, e=%d", b, k.E)
			}
		case *ecdsa.PublicKey:
			if _, err := k.ECDH(); err != nil {
				t.Fatalf("accepted an EC key off its curve: %v", err)
			}
		case ed25519.PublicKey:
			if len(k) != ed25519.PublicKeySize {
				t.Fatalf("accepted an Ed25519 key of %d bytes", len(k))
			}
		default:
			if known {
				t.Fatalf("key type %q parsed as %T", kty, k)
			}
		}
	})
}
