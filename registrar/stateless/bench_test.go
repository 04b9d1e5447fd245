package stateless

import (
	"encoding/json"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// benchReg is a typical registration: fixture V plus the usual members.
const benchReg = `{"redirect_uris":["https://client.example.org/cb","https://client.example.org/cb2"],` +
	`"client_name":"Billing","grant_types":["authorization_code","refresh_token"],"response_types":["code"],` +
	`"token_endpoint_auth_method":"client_secret_basic","scope":"openid profile email"}`

var benchCases = []struct{ name, sig, enc string }{
	{"ES256", AlgES256, ""},
	{"EdDSA", AlgEdDSA, ""},
	{"RS256", AlgRS256, ""},
	{"nested", AlgES256, AlgECDHESA256KW},
}

// interleave runs n calls of a and n calls of b in alternating chunks (so
// load from other processes hits both alike) and returns ns per call of each.
func interleave(n int, a, b func()) (aNS, bNS float64) {
	const chunk = 50
	var da, db time.Duration
	for done, round := 0, 0; done < n; round++ {
		k := min(chunk, n-done)
		runA := func() {
			start := time.Now()
			for range k {
				a()
			}
			da += time.Since(start)
		}
		runB := func() {
			start := time.Now()
			for range k {
				b()
			}
			db += time.Since(start)
		}
		if round%2 == 0 {
			runA()
			runB()
		} else {
			runB()
			runA()
		}
		done += k
	}
	return float64(da.Nanoseconds()) / float64(n), float64(db.Nanoseconds()) / float64(n)
}

func report(b *testing.B, name string, ours, raw float64) {
	b.ReportMetric(0, "ns/op") // the built-in figure would be the sum of both
	b.ReportMetric(ours, name+"-ns/op")
	b.ReportMetric(raw, "raw-ns/op")
	b.ReportMetric(ours/raw, "x-raw")
}

// rawSigner builds the go-jose signer Mint uses, outside the Minter.
func rawSigner(b *testing.B, k Key) jose.Signer {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Private.Key},
		(&jose.SignerOptions{}).WithType(TypeClientID).WithHeader("kid", k.ID))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func rawEncrypter(b *testing.B, k *Key) jose.Encrypter {
	pub := must(k.PublicJWK())
	e, err := jose.NewEncrypter(jose.A256GCM,
		jose.Recipient{Algorithm: jose.KeyAlgorithm(k.Algorithm), Key: pub.Key, KeyID: k.ID},
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkMint compares Minter.Mint with the bare go-jose work on the same
// payload bytes: Sign + CompactSerialize (and Encrypt + CompactSerialize for
// the nested form).
func BenchmarkMint(b *testing.B) {
	for _, tc := range benchCases {
		b.Run(tc.name, func(b *testing.B) {
			f := newFixture(b, tc.sig, tc.enc, time.Hour)
			req := MintRequest{Reg: json.RawMessage(benchReg), Confidential: true}
			payload := f.payloadOf(b, f.mint(b, benchReg, true).ClientID)
			signer := rawSigner(b, f.sig)
			var enc jose.Encrypter
			if f.enc != nil {
				enc = rawEncrypter(b, f.enc)
			}
			mint := func() {
				if _, err := f.minter.Mint(req); err != nil {
					b.Fatal(err)
				}
			}
			raw := func() {
				jws, err := signer.Sign(payload)
				if err != nil {
					b.Fatal(err)
				}
				s, err := jws.CompactSerialize()
				if err != nil {
					b.Fatal(err)
				}
				if enc != nil {
					jwe, err := enc.Encrypt([]byte(s))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := jwe.CompactSerialize(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ResetTimer()
			ours, bare := interleave(b.N, mint, raw)
			report(b, "mint", ours, bare)
		})
	}
}

// BenchmarkVerify compares Verifier.Verify with the bare go-jose work on the
// same client id: ParseSignedCompact + Verify (preceded, for the nested form,
// by ParseEncryptedCompact + Decrypt).
func BenchmarkVerify(b *testing.B) {
	for _, tc := range benchCases {
		b.Run(tc.name, func(b *testing.B) {
			f := newFixture(b, tc.sig, tc.enc, time.Hour)
			id := f.mint(b, benchReg, true).ClientID
			if _, err := f.ver.Verify(id); err != nil {
				b.Fatal(err)
			}
			pub := must(f.sig.PublicJWK()).Key
			sigAlgs := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(f.sig.Algorithm)}
			var (
				keyAlgs []jose.KeyAlgorithm
				decKey  any
			)
			if f.enc != nil {
				keyAlgs = []jose.KeyAlgorithm{jose.KeyAlgorithm(f.enc.Algorithm)}
				decKey = f.enc.Private.Key
			}
			verify := func() {
				if _, err := f.ver.Verify(id); err != nil {
					b.Fatal(err)
				}
			}
			raw := func() {
				jws := id
				if decKey != nil {
					obj, err := jose.ParseEncryptedCompact(id, keyAlgs, contentEncryptions)
					if err != nil {
						b.Fatal(err)
					}
					pt, err := obj.Decrypt(decKey)
					if err != nil {
						b.Fatal(err)
					}
					jws = string(pt)
				}
				obj, err := jose.ParseSignedCompact(jws, sigAlgs)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := obj.Verify(pub); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			ours, bare := interleave(b.N, verify, raw)
			report(b, "verify", ours, bare)
		})
	}
}
