package cimd

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/registrar/internal/keymaterial"
)

// Signing algorithms of the keys the operator generates for private_key_jwt.
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
)

// Algorithms lists the algorithms GenerateKey accepts, the default first.
func Algorithms() []string { return []string{AlgES256, AlgEdDSA, AlgRS256} }

// Key is a client's signing key pair. The private half is secret: never log
// it, never put it in status, events or errors.
type Key struct {
	// ID is the key's kid: its RFC 7638 thumbprint (SHA-256, base64url).
	ID string
	// Alg is the JWS algorithm the key signs with.
	Alg     string
	private crypto.Signer
}

// GenerateKey creates a key pair for alg (one of Algorithms).
func GenerateKey(alg string) (*Key, error) {
	if !slices.Contains(Algorithms(), alg) {
		return nil, fmt.Errorf("unsupported key algorithm %q (want one of %v)", alg, Algorithms())
	}
	raw, err := keymaterial.Generate(alg)
	if err != nil {
		return nil, err
	}
	return newKey(raw.(crypto.Signer), alg)
}

func newKey(priv crypto.Signer, alg string) (*Key, error) {
	kid, err := keymaterial.Thumbprint(priv)
	if err != nil {
		return nil, err
	}
	return &Key{ID: kid, Alg: alg, private: priv}, nil
}

// ParseKey reads a private JWK as PrivateJWK writes it (with kid and alg).
func ParseKey(data []byte) (*Key, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return nil, errors.New("the stored private key is not a JWK")
	}
	priv, ok := jwk.Key.(crypto.Signer)
	if !ok || jwk.IsPublic() {
		return nil, errors.New("the stored key is not a private signing key")
	}
	alg := algFor(priv)
	if alg == "" {
		return nil, errors.New("the stored key is not a key this operator makes (EC P-256, Ed25519, RSA of at least 2048 bits)")
	}
	if jwk.Algorithm != "" && jwk.Algorithm != alg {
		return nil, fmt.Errorf("the stored key's alg %q does not fit its key type", jwk.Algorithm)
	}
	k, err := newKey(priv, alg)
	if err != nil {
		return nil, err
	}
	if jwk.KeyID != "" && jwk.KeyID != k.ID {
		return nil, errors.New("the stored key's kid is not its thumbprint")
	}
	return k, nil
}

// algFor is the algorithm a key of priv's type signs with here.
func algFor(priv crypto.Signer) string {
	for _, alg := range Algorithms() {
		if keymaterial.Check(alg, priv) == nil {
			return alg
		}
	}
	return ""
}

// Signer returns the private key.
func (k *Key) Signer() crypto.Signer { return k.private }

// PrivateJWK is the private key as a JWK with kid, alg and use "sig".
func (k *Key) PrivateJWK() ([]byte, error) {
	b, err := jose.JSONWebKey{Key: k.private, KeyID: k.ID, Algorithm: k.Alg, Use: "sig"}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding the private key as a JWK: %w", err)
	}
	return b, nil
}

// PrivatePEM is the private key as a PKCS#8 PEM block ("PRIVATE KEY").
func (k *Key) PrivatePEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return nil, fmt.Errorf("encoding the private key as PKCS#8: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicJWK is the public key as a JWK with kid, alg and use "sig".
func (k *Key) PublicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.private.Public(), KeyID: k.ID, Algorithm: k.Alg, Use: "sig"}
}

// PublicJWKS is the JWK Set of keys, public halves only, in the given order.
func PublicJWKS(keys ...jose.JSONWebKey) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		if !k.IsPublic() {
			k = k.Public()
		}
		if !k.Valid() {
			return nil, fmt.Errorf("key %q is not a valid public key", k.KeyID)
		}
		set.Keys = append(set.Keys, k)
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encoding the JWK Set: %w", err)
	}
	return b, nil
}

// PublicJWKFromJSON reads a public JWK (as PublicJWK encodes it).
func PublicJWKFromJSON(data []byte) (jose.JSONWebKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return jwk, fmt.Errorf("reading a public JWK: %w", err)
	}
	return jwk.Public(), nil
}
