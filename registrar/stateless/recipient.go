package stateless

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/registrar/internal/keymaterial"
)

// Recipient is the public key client ids are encrypted to when they are
// encrypted to a key the issuer does not hold (the operator's mode
// RecipientKey): the authorization server's own key.
type Recipient struct {
	// Key is the public JWK; its kid defaults to Thumbprint.
	Key jose.JSONWebKey
	// Algorithm is the key management algorithm its type implies:
	// ECDH-ES+A256KW for an EC P-256 key, RSA-OAEP-256 for an RSA key.
	Algorithm string
	// Thumbprint is the key's RFC 7638 SHA-256 thumbprint (base64url).
	Thumbprint string
}

// ParseRecipient reads a recipient's public JWK. It refuses private and
// symmetric keys, EC curves other than P-256, RSA keys under 2048 bits, and
// an alg or use that does not fit: every key the minter would refuse.
// Errors begin with name, where the key came from (a field path).
func ParseRecipient(name string, raw []byte) (*Recipient, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("%s is not a valid JWK: %w", name, err)
	}
	if !k.IsPublic() {
		return nil, fmt.Errorf("%s must be a public key; never put private keys in a spec", name)
	}
	r := &Recipient{}
	switch pub := k.Key.(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%s: EC keys must use P-256, not %s", name, pub.Curve.Params().Name)
		}
		r.Algorithm = AlgECDHESA256KW
	case *rsa.PublicKey:
		if pub.N.BitLen() < keymaterial.RSABits {
			return nil, fmt.Errorf("%s: RSA keys need at least %d bits, this one has %d", name, keymaterial.RSABits, pub.N.BitLen())
		}
		r.Algorithm = AlgRSAOAEP256
	default:
		return nil, fmt.Errorf("%s: unsupported key type %T (use EC P-256 or RSA)", name, k.Key)
	}
	if k.Algorithm != "" && k.Algorithm != r.Algorithm {
		return nil, fmt.Errorf("%s: alg %q does not match the key type (want %s)", name, k.Algorithm, r.Algorithm)
	}
	if k.Use != "" && k.Use != string(UseEncryption) {
		return nil, fmt.Errorf("%s: use %q is not enc", name, k.Use)
	}
	var err error
	if r.Thumbprint, err = keymaterial.Thumbprint(k.Key); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if k.KeyID == "" {
		k.KeyID = r.Thumbprint
	}
	r.Key = k
	return r, nil
}
