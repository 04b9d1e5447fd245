// Package keymaterial generates and checks the private key material of the
// keys the operator makes itself (the stateless backend's signing and
// encryption keys, the metadata document clients' keys), so that both make
// and accept the same key types for an algorithm and name them the same way.
package keymaterial

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// RSABits is the size of generated RSA keys, and the least size accepted.
const RSABits = 2048

// symmetricSize is the size in bytes of a generated A256KW key.
const symmetricSize = 32

// Generate creates private key material for the JWS or JWE algorithm alg:
// an EC P-256 key for ES256 and ECDH-ES+A256KW, an Ed25519 key for EdDSA,
// an RSA key of RSABits for RS256 and RSA-OAEP-256, 32 random bytes for
// A256KW.
func Generate(alg string) (any, error) {
	var (
		raw any
		err error
	)
	switch alg {
	case string(jose.ES256), string(jose.ECDH_ES_A256KW):
		raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case string(jose.EdDSA):
		_, raw, err = ed25519.GenerateKey(rand.Reader)
	case string(jose.RS256), string(jose.RSA_OAEP_256):
		raw, err = rsa.GenerateKey(rand.Reader, RSABits)
	case string(jose.A256KW):
		raw, err = Random(symmetricSize)
	default:
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generating a %s key: %w", alg, err)
	}
	return raw, nil
}

// Check reports why raw is not private key material Generate could have
// made for alg; nil when it is.
func Check(alg string, raw any) error {
	switch alg {
	case string(jose.ES256), string(jose.ECDH_ES_A256KW):
		// k.D is read only to tell a private key without its scalar.
		if k, ok := raw.(*ecdsa.PrivateKey); ok && k.Curve == elliptic.P256() && k.D != nil { //nolint:staticcheck // SA1019: nil check only.
			return nil
		}
		return fmt.Errorf("%s needs an EC P-256 private key", alg)
	case string(jose.EdDSA):
		if k, ok := raw.(ed25519.PrivateKey); ok && len(k) == ed25519.PrivateKeySize {
			return nil
		}
		return fmt.Errorf("%s needs an Ed25519 private key", alg)
	case string(jose.RS256), string(jose.RSA_OAEP_256):
		if k, ok := raw.(*rsa.PrivateKey); ok && k.D != nil && k.N.BitLen() >= RSABits {
			return nil
		}
		return fmt.Errorf("%s needs an RSA private key of at least %d bits", alg, RSABits)
	case string(jose.A256KW):
		if k, ok := raw.([]byte); ok && len(k) == symmetricSize {
			return nil
		}
		return fmt.Errorf("%s needs a %d-byte symmetric key", alg, symmetricSize)
	}
	return fmt.Errorf("unsupported algorithm %q", alg)
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of an asymmetric key's
// public half (key may be the private or the public key), base64url-encoded:
// the key id of the keys made here, and the id of a key given by someone
// else that has none.
func Thumbprint(key any) (string, error) {
	if s, ok := key.(crypto.Signer); ok {
		key = s.Public()
	}
	tp, err := (&jose.JSONWebKey{Key: key}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("computing the key's thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// Random returns n bytes from crypto/rand.
func Random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	return b, nil
}
