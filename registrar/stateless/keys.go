package stateless

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/registrar/internal/keymaterial"
)

// KeyUse is the use of a key: UseSignature or UseEncryption (the JWK "use"
// values of RFC 7517 §4.2).
type KeyUse string

const (
	// UseSignature marks a key that signs client ids.
	UseSignature KeyUse = "sig"
	// UseEncryption marks a key that client ids are encrypted to (nested form).
	UseEncryption KeyUse = "enc"
)

// Supported algorithms. Signing keys: AlgES256 (the default), AlgEdDSA
// (Ed25519), AlgRS256 (RSA 2048). Encryption keys: AlgECDHESA256KW (EC P-256,
// the default), AlgRSAOAEP256 (RSA 2048), AlgA256KW (32-byte symmetric key).
// Content encryption is always A256GCM.
const (
	AlgES256        = string(jose.ES256)
	AlgEdDSA        = string(jose.EdDSA)
	AlgRS256        = string(jose.RS256)
	AlgECDHESA256KW = string(jose.ECDH_ES_A256KW)
	AlgRSAOAEP256   = string(jose.RSA_OAEP_256)
	AlgA256KW       = string(jose.A256KW)
)

const (
	secretKeySize = 32
	rsaBits       = keymaterial.RSABits
)

// Key is one generation of key material. Private holds the private (or, for
// A256KW, symmetric) JWK with kid, alg and use set. Keys are secret: persist
// them only in a Kubernetes Secret.
type Key struct {
	// ID is the key id ("kid"): the RFC 7638 SHA-256 thumbprint (base64url)
	// of the public key, or 128 random bits (base64url) for a symmetric key.
	ID string `json:"kid"`
	// Use is "sig" or "enc".
	Use KeyUse `json:"use"`
	// Algorithm is ES256, EdDSA or RS256 for "sig" keys; ECDH-ES+A256KW,
	// RSA-OAEP-256 or A256KW for "enc" keys.
	Algorithm string `json:"alg"`
	// Private is the private or symmetric JWK.
	Private jose.JSONWebKey `json:"key"`
	// SecretKey is 32 random bytes from which the client secrets of signed-only
	// client ids signed by this key are derived. "sig" keys only.
	SecretKey []byte `json:"secretKey,omitempty"`
	// CreatedAt is when the key was generated.
	CreatedAt time.Time `json:"createdAt"`
	// RetiredAt is set when the key stops being used for new client ids.
	RetiredAt *time.Time `json:"retiredAt,omitempty"`
	// PublishUntil is set on retirement to RetiredAt + client-id lifetime: the
	// key stays in the key set (and the published JWKS) until then. Nil on a
	// retired key means "keep forever" (client ids without exp).
	PublishUntil *time.Time `json:"publishUntil,omitempty"`
}

// Active reports whether the key is not retired.
func (k *Key) Active() bool { return k.RetiredAt == nil }

// PublicJWK returns the public JWK of k (kid, alg and use set). It returns
// false for a symmetric key, which has no public part.
func (k *Key) PublicJWK() (jose.JSONWebKey, bool) {
	if _, ok := k.Private.Key.([]byte); ok {
		return jose.JSONWebKey{}, false
	}
	pub := k.Private.Public()
	if !pub.Valid() || !pub.IsPublic() {
		return jose.JSONWebKey{}, false
	}
	pub.Certificates = nil
	pub.CertificateThumbprintSHA1 = nil
	pub.CertificateThumbprintSHA256 = nil
	pub.CertificatesURL = nil
	return pub, true
}

// defaultAlg returns the default algorithm for use.
func defaultAlg(use KeyUse) string {
	if use == UseEncryption {
		return AlgECDHESA256KW
	}
	return AlgES256
}

func checkUseAlg(use KeyUse, alg string) error {
	switch use {
	case UseSignature:
		switch alg {
		case AlgES256, AlgEdDSA, AlgRS256:
			return nil
		}
	case UseEncryption:
		switch alg {
		case AlgECDHESA256KW, AlgRSAOAEP256, AlgA256KW:
			return nil
		}
	default:
		return fmt.Errorf("stateless: unknown key use %q", use)
	}
	return fmt.Errorf("stateless: algorithm %q not supported for use %q", alg, use)
}

// GenerateKey generates a fresh key generation for use with algorithm alg (""
// selects the default: ES256 for "sig", ECDH-ES+A256KW for "enc"). The kid is
// the RFC 7638 SHA-256 thumbprint of the public key (random for a symmetric
// key, whose thumbprint would be a hash of the secret). Signing keys get a
// fresh 32-byte SecretKey.
func GenerateKey(use KeyUse, alg string, now time.Time) (Key, error) {
	if alg == "" {
		alg = defaultAlg(use)
	}
	if err := checkUseAlg(use, alg); err != nil {
		return Key{}, err
	}
	raw, err := keymaterial.Generate(alg)
	if err != nil {
		return Key{}, fmt.Errorf("stateless: %w", err)
	}
	jwk := jose.JSONWebKey{Key: raw, Algorithm: alg, Use: string(use)}
	if _, sym := raw.([]byte); sym {
		b, err := randomBytes(16)
		if err != nil {
			return Key{}, err
		}
		jwk.KeyID = base64.RawURLEncoding.EncodeToString(b)
	} else if jwk.KeyID, err = keymaterial.Thumbprint(raw); err != nil {
		return Key{}, fmt.Errorf("stateless: %w", err)
	}
	k := Key{
		ID:        jwk.KeyID,
		Use:       use,
		Algorithm: alg,
		Private:   jwk,
		CreatedAt: now.UTC(),
	}
	if use == UseSignature {
		if k.SecretKey, err = randomBytes(secretKeySize); err != nil {
			return Key{}, err
		}
	}
	return k, nil
}

// validate checks that k is internally consistent: use/alg supported, key
// material private and of the right type and size, kid present and matching.
func (k *Key) validate() error {
	if k.ID == "" {
		return errors.New("stateless: key without kid")
	}
	if err := checkUseAlg(k.Use, k.Algorithm); err != nil {
		return fmt.Errorf("key %q: %w", k.ID, err)
	}
	if k.Private.KeyID != k.ID {
		return fmt.Errorf("stateless: key %q: JWK kid %q does not match", k.ID, k.Private.KeyID)
	}
	if k.Private.Algorithm != "" && k.Private.Algorithm != k.Algorithm {
		return fmt.Errorf("stateless: key %q: JWK alg %q does not match %q", k.ID, k.Private.Algorithm, k.Algorithm)
	}
	if k.Private.Use != "" && k.Private.Use != string(k.Use) {
		return fmt.Errorf("stateless: key %q: JWK use %q does not match %q", k.ID, k.Private.Use, k.Use)
	}
	if err := keymaterial.Check(k.Algorithm, k.Private.Key); err != nil {
		return fmt.Errorf("stateless: key %q: %w", k.ID, err)
	}
	switch k.Use {
	case UseSignature:
		if len(k.SecretKey) != secretKeySize {
			return fmt.Errorf("stateless: signing key %q: secretKey must be %d bytes", k.ID, secretKeySize)
		}
	case UseEncryption:
		if len(k.SecretKey) != 0 {
			return fmt.Errorf("stateless: encryption key %q must not have a secretKey", k.ID)
		}
	}
	if k.PublishUntil != nil && k.RetiredAt == nil {
		return fmt.Errorf("stateless: key %q: publishUntil without retiredAt", k.ID)
	}
	return nil
}

// KeySet is the persisted key state: all unpruned generations of signing and
// encryption keys, with at most one active (non-retired) key per use. Its
// methods are not safe for concurrent use; the controller owns it.
type KeySet struct {
	// Keys holds all generations, newest first.
	Keys []Key `json:"keys"`
}

// ParseKeySet decodes and validates a key set produced by Marshal.
func ParseKeySet(data []byte) (*KeySet, error) {
	var s KeySet
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("stateless: parse key set: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validate checks every key, that kids are unique and that at most one key
// per use is active.
func (s *KeySet) Validate() error {
	seen := make(map[string]bool, len(s.Keys))
	active := map[KeyUse]bool{}
	for i := range s.Keys {
		k := &s.Keys[i]
		if err := k.validate(); err != nil {
			return err
		}
		if seen[k.ID] {
			return fmt.Errorf("stateless: duplicate kid %q", k.ID)
		}
		seen[k.ID] = true
		if k.Active() {
			if active[k.Use] {
				return fmt.Errorf("stateless: more than one active %q key", k.Use)
			}
			active[k.Use] = true
		}
	}
	return nil
}

// Marshal encodes the key set (private key material included) as JSON.
func (s *KeySet) Marshal() ([]byte, error) {
	if s.Keys == nil {
		return []byte(`{"keys":[]}`), nil
	}
	return json.Marshal(s)
}

// Active returns the active key of use, if any. The pointer stays valid until
// the set is next changed.
func (s *KeySet) Active(use KeyUse) (*Key, bool) {
	for i := range s.Keys {
		if s.Keys[i].Use == use && s.Keys[i].Active() {
			return &s.Keys[i], true
		}
	}
	return nil, false
}

// Ensure makes sure an active key of use with algorithm alg ("" = default)
// exists: it generates one if there is none, and rotates (see Rotate) when the
// active key has a different algorithm. It reports whether the set changed.
func (s *KeySet) Ensure(use KeyUse, alg string, now time.Time, idLifetime time.Duration) (bool, error) {
	if alg == "" {
		alg = defaultAlg(use)
	}
	if err := checkUseAlg(use, alg); err != nil {
		return false, err
	}
	if k, ok := s.Active(use); ok && k.Algorithm == alg {
		return false, nil
	}
	if err := s.Rotate(use, alg, now, idLifetime); err != nil {
		return false, err
	}
	return true, nil
}

// Rotate retires the active key of use, if any (RetiredAt = now, PublishUntil
// = now + idLifetime; idLifetime 0 means client ids never expire, so the key
// is kept forever: PublishUntil stays nil) and activates a freshly generated
// key with algorithm alg ("" = default). On error the set is unchanged.
func (s *KeySet) Rotate(use KeyUse, alg string, now time.Time, idLifetime time.Duration) error {
	if idLifetime < 0 {
		return errors.New("stateless: negative client id lifetime")
	}
	k, err := GenerateKey(use, alg, now)
	if err != nil {
		return err
	}
	if old, ok := s.Active(use); ok {
		retired := now.UTC()
		old.RetiredAt = &retired
		if idLifetime > 0 {
			until := retired.Add(idLifetime)
			old.PublishUntil = &until
		}
	}
	s.Keys = append([]Key{k}, s.Keys...)
	return nil
}

// Prune drops retired keys whose PublishUntil is not after now. It reports
// whether the set changed.
func (s *KeySet) Prune(now time.Time) bool {
	kept := s.Keys[:0]
	for _, k := range s.Keys {
		if k.RetiredAt != nil && k.PublishUntil != nil && !k.PublishUntil.After(now) {
			continue
		}
		kept = append(kept, k)
	}
	changed := len(kept) != len(s.Keys)
	clear(s.Keys[len(kept):])
	s.Keys = kept
	return changed
}

// NextPrune returns the earliest PublishUntil among retired keys, that is the
// time at which Prune will next change something (it may already have passed
// if Prune has not run since). It returns the zero time when no key will ever
// be pruned. Requeue the controller for this time.
func (s *KeySet) NextPrune() time.Time {
	var next time.Time
	for _, k := range s.Keys {
		if k.RetiredAt != nil && k.PublishUntil != nil && (next.IsZero() || k.PublishUntil.Before(next)) {
			next = *k.PublishUntil
		}
	}
	return next
}

// ordered returns the keys in publication order: active keys first ("sig"
// before "enc"), then retired keys, most recently retired first; ties by kid.
func (s *KeySet) ordered() []*Key {
	out := make([]*Key, len(s.Keys))
	for i := range s.Keys {
		out[i] = &s.Keys[i]
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Active() != b.Active() {
			return a.Active()
		}
		if a.Active() {
			if a.Use != b.Use {
				return a.Use == UseSignature
			}
		} else if !a.RetiredAt.Equal(*b.RetiredAt) {
			return a.RetiredAt.After(*b.RetiredAt)
		}
		return a.ID < b.ID
	})
	return out
}

// PublicKeySet returns the public keys (signing and asymmetric encryption keys)
// of all keys in the set, in the order of PublicJWKS. Symmetric keys are never
// included.
func (s *KeySet) PublicKeySet() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range s.ordered() {
		if pub, ok := k.PublicJWK(); ok {
			set.Keys = append(set.Keys, pub)
		}
	}
	return set
}

// PublicJWKS returns PublicKeySet as JSON (RFC 7517 JWK Set), suitable for the
// server's jwks_uri. The output is deterministic and has no private members.
func (s *KeySet) PublicJWKS() ([]byte, error) {
	return json.Marshal(s.PublicKeySet())
}

// EncryptionConfig returns the MinterConfig.Encryption for the active "enc"
// key: its public key, or the symmetric key for A256KW.
func (s *KeySet) EncryptionConfig() (*EncryptionConfig, bool) {
	k, ok := s.Active(UseEncryption)
	if !ok {
		return nil, false
	}
	rcpt, ok := k.PublicJWK()
	if !ok {
		rcpt = k.Private
	}
	return &EncryptionConfig{Recipient: rcpt, KeyID: k.ID}, true
}

func randomBytes(n int) ([]byte, error) {
	b, err := keymaterial.Random(n)
	if err != nil {
		return nil, fmt.Errorf("stateless: %w", err)
	}
	return b, nil
}
