package stateless_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// Keys as JWKs, the JSON a server's spec.stateless.encryption.recipientKey
// holds.

// jwkOf is key as a JWK with kid and no use.
func jwkOf(t *testing.T, key any, kid string) []byte {
	t.Helper()
	raw, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// ecJWK is a new ECDSA key on curve as an encryption JWK (the public key
// unless private), and the key.
func ecJWK(t *testing.T, curve elliptic.Curve, kid string, private bool) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var key any = &priv.PublicKey
	if private {
		key = priv
	}
	raw, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Use: "enc"})
	if err != nil {
		t.Fatal(err)
	}
	return raw, priv
}

// rsaJWK is the public key of a new RSA key of bits bits as a JWK.
func rsaJWK(t *testing.T, bits int, kid string) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return jwkOf(t, &k.PublicKey, kid)
}

// ed25519JWK is the public key of a new Ed25519 key as a JWK.
func ed25519JWK(t *testing.T, kid string) []byte {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jwkOf(t, pub, kid)
}
