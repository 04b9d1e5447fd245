package metadata

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/internal/josetest"
)

var (
	clientKeysOnce sync.Once
	rsa2048        *rsa.PrivateKey
	ecP256         *ecdsa.PrivateKey
	ecP384         *ecdsa.PrivateKey
	edKey          ed25519.PublicKey
)

func clientKeys(t testing.TB) {
	t.Helper()
	clientKeysOnce.Do(func() {
		var err error
		if rsa2048, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecP256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if ecP384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			panic(err)
		}
		if edKey, _, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
}

// jwkJSON marshals a public key with go-jose and returns its members.
func jwkMembers(t testing.TB, key any) map[string]any {
	t.Helper()
	return josetest.Object(t, jose.JSONWebKey{Key: key})
}

// with returns m with the given members set (a nil value deletes one).
func with(t testing.TB, m map[string]any, kv ...any) string {
	t.Helper()
	change := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		change[kv[i].(string)] = kv[i+1]
	}
	b, err := json.Marshal(josetest.With(m, change))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// oddOfBits is an odd number of exactly bits bits (not a product of two
// primes, which the checks cannot and need not tell).
func oddOfBits(bits int) []byte {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.SetBit(n, 0, 1)
	n.SetBit(n, bits/2, 1)
	return n.Bytes()
}

// TestCheckJWKStructure covers the structural rules for a client's public keys: every
// bad key is refused with a fixed detail that repeats no key material.
func TestCheckJWKStructure(t *testing.T) {
	clientKeys(t)
	rsaM := jwkMembers(t, &rsa2048.PublicKey)
	ecM := jwkMembers(t, &ecP256.PublicKey)
	ec384M := jwkMembers(t, &ecP384.PublicKey)
	edM := jwkMembers(t, edKey)
	n := rsa2048.N.Bytes()
	ecD, err := ecP256.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	ecX, _ := base64.RawURLEncoding.DecodeString(ecM["x"].(string))
	ecY, _ := base64.RawURLEncoding.DecodeString(ecM["y"].(string))
	// A point off the curve: y + 1.
	yPlus := new(big.Int).Add(new(big.Int).SetBytes(ecY), big.NewInt(1)).FillBytes(make([]byte, 32))
	// x = p (a coordinate outside the field) with some y.
	pBytes := elliptic.P256().Params().P.FillBytes(make([]byte, 32))

	const (
		ok       = ""
		short    = "is an RSA key shorter than 2048 bits"
		long     = "is an RSA key longer than 4096 bits"
		badN     = "has an invalid RSA modulus (n)"
		badE     = "has an invalid RSA exponent (e)"
		crv      = "has an unsupported curve (crv)"
		coordLen = "has key coordinates of the wrong length for its curve"
		offCurve = "is an EC key whose point is not on its curve"
		private  = "must not contain private or symmetric key material"
		invalid  = "is not a valid public JWK"
	)
	cases := []struct {
		name, jwk, want string
	}{
		{"RSA 2048", with(t, rsaM), ok},
		{"RSA 4096 bits", with(t, rsaM, "n", b64(oddOfBits(4096))), ok},
		{"RSA zero modulus", with(t, rsaM, "n", b64(make([]byte, 256))), badN},
		{"RSA zero modulus short", `{"kty":"RSA","n":"AAAA","e":"AQAB"}`, badN},
		{"RSA 512 bits", with(t, rsaM, "n", b64(oddOfBits(512))), short},
		{"RSA 2047 bits", with(t, rsaM, "n", b64(oddOfBits(2047))), short},
		{"RSA 4097 bits", with(t, rsaM, "n", b64(oddOfBits(4097))), long},
		{"RSA even modulus", with(t, rsaM, "n", b64(new(big.Int).SetBit(new(big.Int).SetBytes(n), 0, 0).Bytes())), badN},
		{"RSA leading zero modulus", with(t, rsaM, "n", b64(append([]byte{0}, n...))), badN},
		{"RSA 1024 bits zero-padded to 2048", with(t, rsaM, "n", b64(append(make([]byte, 128), oddOfBits(1024)...))), badN},
		{"RSA modulus not base64url", with(t, rsaM, "n", "+/"+b64(n)[2:]), badN},
		{"RSA modulus padded base64", with(t, rsaM, "n", base64.URLEncoding.EncodeToString(n)), badN},
		{"RSA modulus a number", with(t, rsaM, "n", 5), badN},
		{"RSA no modulus", with(t, rsaM, "n", nil), badN},
		{"RSA no exponent", with(t, rsaM, "e", nil), badE},
		{"RSA exponent zero", with(t, rsaM, "e", "AA"), badE},
		{"RSA exponent empty", with(t, rsaM, "e", ""), badE},
		{"RSA exponent one", with(t, rsaM, "e", "AQ"), badE},
		{"RSA exponent even", with(t, rsaM, "e", b64([]byte{1, 0, 0})), badE},
		{"RSA exponent 3", with(t, rsaM, "e", "Aw"), ok},
		{"RSA exponent 2^31-1", with(t, rsaM, "e", b64([]byte{0x7f, 0xff, 0xff, 0xff})), ok},
		{"RSA exponent 2^31+1", with(t, rsaM, "e", b64([]byte{0x80, 0, 0, 1})), badE},
		{"RSA exponent huge", with(t, rsaM, "e", b64([]byte{1, 0, 0, 0, 0, 0, 0, 0, 1})), badE},
		{"RSA exponent leading zero", with(t, rsaM, "e", b64([]byte{0, 1, 0, 1})), badE},
		{"RSA p", with(t, rsaM, "p", "AQAB"), private},
		{"RSA d", with(t, rsaM, "d", "AQAB"), private},
		{"RSA oth", with(t, rsaM, "oth", []any{}), private},

		{"EC P-256", with(t, ecM), ok},
		{"EC P-384", with(t, ec384M), ok},
		{"EC off curve", with(t, ecM, "y", b64(yPlus)), offCurve},
		{"EC zero point", with(t, ecM, "x", b64(make([]byte, 32)), "y", b64(make([]byte, 32))), offCurve},
		{"EC x = p", with(t, ecM, "x", b64(pBytes)), offCurve},
		{"EC short x", with(t, ecM, "x", b64(ecX[1:])), coordLen},
		{"EC long y", with(t, ecM, "y", b64(append([]byte{0}, ecY...))), coordLen},
		{"EC P-256 point as P-384", with(t, ecM, "crv", "P-384"), coordLen},
		{"EC no y", with(t, ecM, "y", nil), coordLen},
		{"EC unknown curve", with(t, ecM, "crv", "secp256k1"), crv},
		{"EC no curve", with(t, ecM, "crv", nil), crv},
		{"EC d", with(t, ecM, "d", b64(ecD)), private},

		{"OKP Ed25519", with(t, edM), ok},
		{"OKP Ed25519 short", with(t, edM, "x", b64(edKey[:31])), coordLen},
		{"OKP Ed25519 low order", with(t, edM, "x", b64(make([]byte, 32))), invalid},
		{"OKP X25519", `{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`, ok},
		{"OKP X25519 long", `{"kty":"OKP","crv":"X25519","x":"` + b64(make([]byte, 33)) + `"}`, coordLen},
		{"OKP X448 short", `{"kty":"OKP","crv":"X448","x":"` + b64(make([]byte, 32)) + `"}`, coordLen},
		{"OKP unknown curve", `{"kty":"OKP","crv":"Ed1","x":"AAAA"}`, crv},
		{"OKP d", with(t, edM, "d", b64(make([]byte, 32))), private},

		{"oct", `{"kty":"oct","k":"AAAA"}`, private},
		{"unknown kty ignored", `{"kty":"future","z":"AAAA"}`, ok},
		{"unknown kty duplicate member", `{"kty":"future","z":"AAAA","z":"AAAB"}`, invalid},
		{"RSA duplicate n", `{"kty":"RSA","e":"AQAB","n":"AAAA","n":` + `"` + b64(n) + `"}`, invalid},
		{"not an object", `"x"`, "must be a JSON object"},
		{"no kty", `{"n":"AQAB"}`, "must have a string kty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := checkJWK(json.RawMessage(tc.jwk))
			if got != tc.want {
				t.Fatalf("checkJWK = %q, want %q", got, tc.want)
			}
			err := CheckPublicJWK([]byte(tc.jwk))
			if (err == nil) != (tc.want == ok) || (err != nil && err.Error() != tc.want) {
				t.Fatalf("CheckPublicJWK = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestJWKSRejectsWeakKeysThroughPipeline: the full registration pipeline
// refuses a zero-modulus and a 512-bit RSA key with invalid_client_metadata at
// jwks, naming the key's index and never repeating the key.
func TestJWKSRejectsWeakKeysThroughPipeline(t *testing.T) {
	clientKeys(t)
	rsaM := jwkMembers(t, &rsa2048.PublicKey)
	zero := `{"kty":"RSA","n":"` + strings.Repeat("A", 342) + `","e":"AQAB"}`
	small := with(t, rsaM, "n", b64(oddOfBits(512)))
	for _, tc := range []struct{ name, key, detail string }{
		{"zero modulus", zero, "keys[1] has an invalid RSA modulus (n)"},
		{"512 bits", small, "keys[1] is an RSA key shorter than 2048 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := plus(t, bodyV, `{"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[`+with(t, rsaM)+`,`+tc.key+`]}}`)
			_, errs := run(t, body, false, oauth)
			if len(errs) != 1 || errs.Code() != CodeInvalidClientMetadata || errs[0].Path() != "jwks" || errs[0].Detail != tc.detail {
				t.Fatalf("errors %s: %v", paths(errs), errs)
			}
			if errs[0].Value != "" || strings.Contains(errs.Description(), "AAAA") {
				t.Fatalf("key material repeated: %q %q", errs[0].Value, errs.Description())
			}
		})
	}
}
