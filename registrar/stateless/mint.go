package stateless

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/registrar/metadata"
)

// secretDerivationLabel prefixes the subject in the HMAC input of derived
// client secrets (domain separation; versioned so the scheme can change).
const secretDerivationLabel = "clientreg/client-secret/v1\x00"

const (
	subjectBytes = 16 // 128-bit random sub (SCI-16)
	secretBytes  = 32 // 256-bit random secret in the encrypted form
)

// EncryptionConfig selects the nested (signed, then encrypted) form: the
// signed client id is encrypted to the authorization server's key.
type EncryptionConfig struct {
	// Recipient is the key to encrypt to: an EC P-256 public key
	// (ECDH-ES+A256KW), an RSA public key of at least 2048 bits
	// (RSA-OAEP-256) or a 32-byte symmetric key (A256KW). A private key is
	// accepted and reduced to its public part. If Recipient.Algorithm is set
	// it must match the key type.
	Recipient jose.JSONWebKey
	// KeyID is the "kid" of the JWE header; defaults to Recipient.KeyID. One of
	// them must be set.
	KeyID string
}

// MinterConfig configures a Minter.
type MinterConfig struct {
	// Issuer is the "iss" claim: the authorization server's issuer identifier.
	Issuer string
	// Audience is the "aud" claim; defaults to Issuer.
	Audience string
	// SigningKey is the active "sig" key, with private key and (required for
	// signed-only ids) SecretKey.
	SigningKey Key
	// Encryption, if set, selects the nested JWE form; nil means signed-only.
	Encryption *EncryptionConfig
	// Lifetime sets "exp" = "iat" + Lifetime; 0 means no "exp".
	Lifetime time.Duration
	// Clock defaults to the real time.
	Clock Clock
}

// Minter mints client ids. It is safe for concurrent use; its JOSE signer and
// encrypter are built once, by NewMinter.
type Minter struct {
	issJSON, audJSON []byte
	signer           jose.Signer
	encrypter        jose.Encrypter
	secretKey        []byte
	lifetime         time.Duration
	clock            Clock
}

// NewMinter validates cfg and builds a Minter.
func NewMinter(cfg MinterConfig) (*Minter, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("stateless: minter needs an issuer")
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
	}
	if cfg.Lifetime < 0 {
		return nil, errors.New("stateless: negative client id lifetime")
	}
	k := &cfg.SigningKey
	if k.Use != UseSignature {
		return nil, fmt.Errorf("stateless: minter needs a %q key, got %q", UseSignature, k.Use)
	}
	if err := k.validate(); err != nil {
		return nil, err
	}
	if !k.Active() {
		return nil, fmt.Errorf("stateless: signing key %q is retired", k.ID)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Private.Key},
		(&jose.SignerOptions{}).WithType(TypeClientID).WithHeader("kid", k.ID),
	)
	if err != nil {
		return nil, fmt.Errorf("stateless: signer: %w", err)
	}
	m := &Minter{
		signer:    signer,
		secretKey: bytes.Clone(k.SecretKey),
		lifetime:  cfg.Lifetime,
		clock:     cfg.Clock,
	}
	if m.clock == nil {
		m.clock = realClock{}
	}
	if m.issJSON, err = json.Marshal(cfg.Issuer); err != nil {
		return nil, err
	}
	if m.audJSON, err = json.Marshal(cfg.Audience); err != nil {
		return nil, err
	}
	if cfg.Encryption != nil {
		if m.encrypter, err = newEncrypter(cfg.Encryption); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// newEncrypter builds the JWE encrypter: cty "JWT", no zip, A256GCM.
func newEncrypter(ec *EncryptionConfig) (jose.Encrypter, error) {
	kid := ec.KeyID
	if kid == "" {
		kid = ec.Recipient.KeyID
	}
	if kid == "" {
		return nil, errors.New("stateless: encryption key needs a kid")
	}
	var (
		alg jose.KeyAlgorithm
		key any
	)
	switch rk := ec.Recipient.Key.(type) {
	case *ecdsa.PrivateKey:
		key, alg = &rk.PublicKey, jose.ECDH_ES_A256KW
	case *ecdsa.PublicKey:
		key, alg = rk, jose.ECDH_ES_A256KW
	case *rsa.PrivateKey:
		key, alg = &rk.PublicKey, jose.RSA_OAEP_256
	case *rsa.PublicKey:
		key, alg = rk, jose.RSA_OAEP_256
	case []byte:
		if len(rk) != 32 {
			return nil, errors.New("stateless: A256KW needs a 32-byte key")
		}
		key, alg = bytes.Clone(rk), jose.A256KW
	default:
		return nil, fmt.Errorf("stateless: unsupported encryption key type %T", ec.Recipient.Key)
	}
	switch pk := key.(type) {
	case *ecdsa.PublicKey:
		if pk.Curve != elliptic.P256() {
			return nil, errors.New("stateless: ECDH-ES+A256KW needs a P-256 key")
		}
	case *rsa.PublicKey:
		if pk.N.BitLen() < rsaBits {
			return nil, fmt.Errorf("stateless: RSA-OAEP-256 needs at least %d bits", rsaBits)
		}
	}
	if ec.Recipient.Algorithm != "" && ec.Recipient.Algorithm != string(alg) {
		return nil, fmt.Errorf("stateless: encryption key algorithm %q does not match key type (%s)", ec.Recipient.Algorithm, alg)
	}
	enc, err := jose.NewEncrypter(jose.A256GCM,
		jose.Recipient{Algorithm: alg, Key: key, KeyID: kid},
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("stateless: encrypter: %w", err)
	}
	return enc, nil
}

// MintRequest is one client to mint an id for.
type MintRequest struct {
	// Reg is the registered RFC 7591 metadata, a JSON object (already
	// validated and defaulted by the caller; leave defaulted members out to
	// keep the id short). "client_secret" and "registration_access_token" are
	// always removed from it, and "contacts" too in the signed-only form
	// (SCI-07).
	Reg json.RawMessage
	// Confidential asks for a client secret.
	Confidential bool
	// Confirmation is the cnf claim (see ConfirmationFor); nil for none.
	Confirmation *Confirmation
}

// Minted is the result of Mint.
type Minted struct {
	// ClientID is the compact JWS (3 segments) or JWE (5 segments).
	ClientID string
	// ClientSecret is set for confidential clients: derived from the signing
	// key's SecretKey and sub (signed-only form) or random and carried inside
	// the JWE (nested form).
	ClientSecret string
	// Subject is the random "sub".
	Subject string
	// IssuedAt is "iat" (client_id_issued_at).
	IssuedAt time.Time
	// ExpiresAt is "exp"; zero when the id never expires. Use it for
	// client_secret_expires_at (0 when zero).
	ExpiresAt time.Time
	// Encrypted reports the nested JWE form.
	Encrypted bool
}

// Mint mints a new client id: a fresh random sub (and secret), signed, and
// encrypted if configured. It returns an error wrapping ErrTooLarge when the
// id would exceed MaxClientIDLength.
func (m *Minter) Mint(req MintRequest) (*Minted, error) {
	encrypted := m.encrypter != nil
	if !req.Confirmation.empty() {
		if err := req.Confirmation.check(false); err != nil {
			return nil, fmt.Errorf("stateless: %w", err)
		}
		// Only when minting: ids issued before the rule still verify.
		if req.Confirmation.JWK != nil {
			if err := metadata.CheckPublicKey(req.Confirmation.JWK.Key); err != nil {
				return nil, fmt.Errorf("stateless: cnf.jwk: %w", err)
			}
		}
	}
	var sb [subjectBytes]byte
	if _, err := rand.Read(sb[:]); err != nil {
		return nil, err
	}
	sub := base64.RawURLEncoding.EncodeToString(sb[:])
	var secret string
	if req.Confidential {
		if encrypted {
			var b [secretBytes]byte
			if _, err := rand.Read(b[:]); err != nil {
				return nil, err
			}
			secret = base64.RawURLEncoding.EncodeToString(b[:])
		} else {
			if len(m.secretKey) == 0 {
				return nil, errors.New("stateless: signing key has no secretKey")
			}
			secret = deriveSecret(m.secretKey, sub)
		}
	}

	now := m.clock.Now()
	iat := now.Unix()
	var exp int64
	if m.lifetime > 0 {
		exp = time.Unix(iat, 0).Add(m.lifetime).Unix()
		if exp <= iat {
			exp = iat + 1
		}
	}

	var buf bytes.Buffer
	buf.Grow(160 + len(m.issJSON) + len(m.audJSON) + len(req.Reg) + len(secret))
	buf.WriteString(`{"iss":`)
	buf.Write(m.issJSON)
	buf.WriteString(`,"sub":"`)
	buf.WriteString(sub)
	buf.WriteString(`","aud":`)
	buf.Write(m.audJSON)
	var num [20]byte
	buf.WriteString(`,"iat":`)
	buf.Write(strconv.AppendInt(num[:0], iat, 10))
	if exp != 0 {
		buf.WriteString(`,"exp":`)
		buf.Write(strconv.AppendInt(num[:0], exp, 10))
	}
	buf.WriteString(`,"reg":`)
	if err := appendReg(&buf, req.Reg, encrypted); err != nil {
		return nil, err
	}
	if !req.Confirmation.empty() {
		cnf, err := json.Marshal(req.Confirmation)
		if err != nil {
			return nil, fmt.Errorf("stateless: cnf: %w", err)
		}
		buf.WriteString(`,"cnf":`)
		buf.Write(cnf)
	}
	if encrypted && secret != "" {
		buf.WriteString(`,"client_secret":"`)
		buf.WriteString(secret)
		buf.WriteByte('"')
	}
	buf.WriteByte('}')
	payload := buf.Bytes()

	// Cheap early bound: the payload alone, base64url-encoded, must fit.
	if base64.RawURLEncoding.EncodedLen(len(payload)) > MaxClientIDLength {
		return nil, fmt.Errorf("%w (payload of %d bytes)", ErrTooLarge, len(payload))
	}

	jws, err := m.signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("stateless: sign: %w", err)
	}
	id, err := jws.CompactSerialize()
	if err != nil {
		return nil, fmt.Errorf("stateless: sign: %w", err)
	}
	if encrypted {
		jwe, err := m.encrypter.Encrypt([]byte(id))
		if err != nil {
			return nil, fmt.Errorf("stateless: encrypt: %w", err)
		}
		if id, err = jwe.CompactSerialize(); err != nil {
			return nil, fmt.Errorf("stateless: encrypt: %w", err)
		}
	}
	if len(id) > MaxClientIDLength {
		return nil, fmt.Errorf("%w (%d > %d bytes)", ErrTooLarge, len(id), MaxClientIDLength)
	}
	out := &Minted{
		ClientID:     id,
		ClientSecret: secret,
		Subject:      sub,
		IssuedAt:     time.Unix(iat, 0).UTC(),
		Encrypted:    encrypted,
	}
	if exp != 0 {
		out.ExpiresAt = time.Unix(exp, 0).UTC()
	}
	return out, nil
}

// Members of reg that never go into a client id (secrets belong in their own
// claim), and those that only go into an encrypted one (personal data).
var (
	regAlwaysStripped     = []string{"client_secret", "registration_access_token"}
	regStrippedWhenSigned = []string{"contacts"}
)

// appendReg validates that reg is a JSON object and appends it, compact and
// without the members that must not appear, to buf. The common case (already
// compact, nothing to strip) is one validating scan and a copy.
func appendReg(buf *bytes.Buffer, reg json.RawMessage, encrypted bool) error {
	reg = bytes.TrimSpace(reg)
	compact, strip, err := scanObject(reg, func(name string) bool {
		return slices.Contains(regAlwaysStripped, name) ||
			(!encrypted && slices.Contains(regStrippedWhenSigned, name))
	})
	if err != nil {
		return errors.New("stateless: reg must be a JSON object")
	}
	switch {
	case !strip && compact:
		buf.Write(reg)
		return nil
	case !strip:
		return json.Compact(buf, reg)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(reg, &members); err != nil {
		return fmt.Errorf("stateless: reg: %w", err)
	}
	for _, name := range regAlwaysStripped {
		delete(members, name)
	}
	if !encrypted {
		for _, name := range regStrippedWhenSigned {
			delete(members, name)
		}
	}
	b, err := json.Marshal(members) // sorted keys, compact
	if err != nil {
		return fmt.Errorf("stateless: reg: %w", err)
	}
	buf.Write(b)
	return nil
}

// deriveSecret computes the client secret of a signed-only client id:
// base64url(HMAC-SHA256(secretKey, "clientreg/client-secret/v1\x00" || sub)).
func deriveSecret(secretKey []byte, sub string) string {
	mac := hmac.New(sha256.New, secretKey)
	mac.Write([]byte(secretDerivationLabel))
	mac.Write([]byte(sub))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(mac.Sum(sum[:0]))
}
