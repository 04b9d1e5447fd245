package stateless

import (
	"errors"
	"fmt"
	"time"
)

// ErrKeysNotReady means a key set lacks an active key the settings need
// (not generated yet, or of another algorithm): wait for it.
var ErrKeysNotReady = errors.New("stateless keys are not ready")

// IDSettings are the settings of one server's client ids.
type IDSettings struct {
	// Issuer and Audience are the iss and aud claims (Audience defaults to Issuer).
	Issuer, Audience string
	// Lifetime sets exp = iat + Lifetime; 0 means no exp.
	Lifetime time.Duration
	// Algorithm, when set, is the algorithm the active signing key must have.
	Algorithm string
	// EncryptToKeySet encrypts ids to the key set's active encryption key.
	EncryptToKeySet bool
	// Recipient, when set, encrypts ids to a key outside the key set (the
	// authorization server's); such ids cannot be read back, so Crypto has
	// no Verifier.
	Recipient *EncryptionConfig
	// Clock defaults to the real time.
	Clock Clock
}

// Crypto mints and verifies the client ids of one key set and settings.
// It is safe for concurrent use; build it once per version of the key set
// (NewCrypto) and share it.
type Crypto struct {
	// Minter mints ids with the active signing key.
	Minter *Minter
	// Verifier verifies ids signed with any published key; nil with
	// IDSettings.Recipient.
	Verifier *Verifier
	// SigningKey is the active signing key.
	SigningKey *Key
}

// NewCrypto builds the minter and verifier of keys for s: the one way the
// operator's reconciler and its registration endpoint make them. A key set
// without the active keys s needs yields ErrKeysNotReady.
func NewCrypto(keys *KeySet, s IDSettings) (*Crypto, error) {
	if keys == nil {
		return nil, fmt.Errorf("%w: no key set", ErrKeysNotReady)
	}
	sig, ok := keys.Active(UseSignature)
	if !ok || (s.Algorithm != "" && sig.Algorithm != s.Algorithm) {
		return nil, fmt.Errorf("%w: no active %s signing key", ErrKeysNotReady, s.Algorithm)
	}
	cfg := MinterConfig{Issuer: s.Issuer, Audience: s.Audience, SigningKey: *sig, Lifetime: s.Lifetime, Clock: s.Clock}
	switch {
	case s.Recipient != nil:
		cfg.Encryption = s.Recipient
	case s.EncryptToKeySet:
		ec, ok := keys.EncryptionConfig()
		if !ok {
			return nil, fmt.Errorf("%w: no active encryption key", ErrKeysNotReady)
		}
		cfg.Encryption = ec
	}
	minter, err := NewMinter(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the client id minter: %w", err)
	}
	c := &Crypto{Minter: minter, SigningKey: sig}
	if s.Recipient == nil {
		if c.Verifier, err = VerifierFromKeySet(s.Issuer, s.Audience, keys, s.Clock); err != nil {
			return nil, fmt.Errorf("building the client id verifier: %w", err)
		}
	}
	return c, nil
}
