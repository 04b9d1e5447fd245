package keymaterial

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

// TestGenerateMakesWhatCheckAccepts: every algorithm's generated key passes
// Check for it, fails Check for the algorithms of another key type, and has
// a stable thumbprint (asymmetric keys).
func TestGenerateMakesWhatCheckAccepts(t *testing.T) {
	algs := []string{"ES256", "ECDH-ES+A256KW", "EdDSA", "RS256", "RSA-OAEP-256", "A256KW"}
	family := map[string]string{"ES256": "ec", "ECDH-ES+A256KW": "ec", "EdDSA": "ed", "RS256": "rsa", "RSA-OAEP-256": "rsa", "A256KW": "oct"}
	for _, alg := range algs {
		raw, err := Generate(alg)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		for _, other := range algs {
			err := Check(other, raw)
			if same := family[other] == family[alg]; same != (err == nil) {
				t.Errorf("a %s key checked for %s: %v", alg, other, err)
			}
		}
		if family[alg] == "oct" {
			continue
		}
		a, err := Thumbprint(raw)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := Thumbprint(raw); a != b || len(a) != 43 {
			t.Errorf("%s thumbprint %q then %q, want one 43-character SHA-256 thumbprint", alg, a, b)
		}
	}
	if _, err := Generate("HS256"); err == nil {
		t.Error("HS256 key generated")
	}
}

// TestCheckRefusesWeakOrWrongCurveKeys: a P-384 key is no ES256 key and an
// RSA key under RSABits is refused.
func TestCheckRefusesWeakOrWrongCurveKeys(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if Check("ES256", p384) == nil {
		t.Error("a P-384 key passed as ES256")
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // the point of the test.
	if err != nil {
		t.Fatal(err)
	}
	if Check("RS256", small) == nil {
		t.Error("a 1024-bit RSA key passed as RS256")
	}
	if Check("ES256", &p384.PublicKey) == nil {
		t.Error("a public key passed as private key material")
	}
}
