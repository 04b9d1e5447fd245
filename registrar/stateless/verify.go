package stateless

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DefaultAlgorithms is the signature algorithm allow-list used when
// VerifierConfig.Algorithms is nil.
var DefaultAlgorithms = []string{AlgES256, AlgEdDSA, AlgRS256}

// supportedSignatureAlgorithms are the asymmetric algorithms an allow-list may
// name. HMAC algorithms and "none" are never accepted (RFC 8725 §3.1, §3.2).
var supportedSignatureAlgorithms = map[jose.SignatureAlgorithm]bool{
	jose.ES256: true, jose.ES384: true, jose.ES512: true, jose.EdDSA: true,
	jose.RS256: true, jose.RS384: true, jose.RS512: true,
	jose.PS256: true, jose.PS384: true, jose.PS512: true,
}

var contentEncryptions = []jose.ContentEncryption{jose.A256GCM}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// TrustedIssuers maps each trusted "iss" to its public verification keys
	// (for this server: KeySet.PublicKeySet). A client id is accepted only if
	// the key named by its kid belongs to the set of the issuer it names.
	// Keys with use "enc" are ignored; every other key needs a kid; symmetric
	// keys are refused.
	TrustedIssuers map[string]jose.JSONWebKeySet
	// Audience is the required "aud" value (the server's issuer identifier).
	Audience string
	// Algorithms is the signature algorithm allow-list; nil means
	// DefaultAlgorithms. Only asymmetric algorithms may be listed.
	Algorithms []string
	// DecryptionKeys are the private (or symmetric A256KW) keys of nested
	// client ids, selected by kid. Without them 5-segment ids are refused.
	DecryptionKeys []jose.JSONWebKey
	// SecretKeys maps a signing kid to its Key.SecretKey, needed to check the
	// derived secrets of signed-only client ids.
	SecretKeys map[string][]byte
	// Clock defaults to the real time.
	Clock Clock
	// Leeway is the clock skew allowed on "exp" and "nbf".
	Leeway time.Duration
}

type verificationKey struct {
	issuer string
	key    any // *ecdsa.PublicKey, ed25519.PublicKey or *rsa.PublicKey
	algs   []jose.SignatureAlgorithm
}

type decryptionKey struct {
	alg jose.KeyAlgorithm
	key any // *ecdsa.PrivateKey, *rsa.PrivateKey or []byte
}

// Verifier verifies client ids and checks client secrets. It is immutable
// and safe for concurrent use.
type Verifier struct {
	keys       map[string][]verificationKey // by kid
	algs       []jose.SignatureAlgorithm
	decKeys    map[string]decryptionKey // by kid
	keyAlgs    []jose.KeyAlgorithm
	secretKeys map[string][]byte
	audience   string
	clock      Clock
	leeway     time.Duration
}

// NewVerifier validates cfg and builds a Verifier. Key material is parsed
// once here, not per verification.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Audience == "" {
		return nil, errors.New("stateless: verifier needs an audience")
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("stateless: negative leeway")
	}
	v := &Verifier{
		keys:       map[string][]verificationKey{},
		decKeys:    map[string]decryptionKey{},
		secretKeys: make(map[string][]byte, len(cfg.SecretKeys)),
		audience:   cfg.Audience,
		clock:      cfg.Clock,
		leeway:     cfg.Leeway,
	}
	if v.clock == nil {
		v.clock = realClock{}
	}
	algs := cfg.Algorithms
	if algs == nil {
		algs = DefaultAlgorithms
	}
	for _, a := range algs {
		sa := jose.SignatureAlgorithm(a)
		if !supportedSignatureAlgorithms[sa] {
			return nil, fmt.Errorf("stateless: signature algorithm %q cannot be allowed", a)
		}
		if !slices.Contains(v.algs, sa) {
			v.algs = append(v.algs, sa)
		}
	}
	if len(v.algs) == 0 {
		return nil, errors.New("stateless: empty algorithm allow-list")
	}
	for iss, set := range cfg.TrustedIssuers {
		if iss == "" {
			return nil, errors.New("stateless: empty trusted issuer")
		}
		for i := range set.Keys {
			jwk := &set.Keys[i]
			if jwk.Use == string(UseEncryption) {
				continue
			}
			if jwk.KeyID == "" {
				return nil, fmt.Errorf("stateless: issuer %q: key %d has no kid", iss, i)
			}
			pub, kalgs, err := verificationAlgs(jwk)
			if err != nil {
				return nil, fmt.Errorf("stateless: issuer %q key %q: %w", iss, jwk.KeyID, err)
			}
			var usable []jose.SignatureAlgorithm
			for _, a := range kalgs {
				if slices.Contains(v.algs, a) {
					usable = append(usable, a)
				}
			}
			if len(usable) == 0 {
				continue // not usable under this allow-list
			}
			v.keys[jwk.KeyID] = append(v.keys[jwk.KeyID], verificationKey{issuer: iss, key: pub, algs: usable})
		}
	}
	if len(v.keys) == 0 {
		return nil, errors.New("stateless: no usable verification keys")
	}
	for i := range cfg.DecryptionKeys {
		jwk := &cfg.DecryptionKeys[i]
		if jwk.KeyID == "" {
			return nil, fmt.Errorf("stateless: decryption key %d has no kid", i)
		}
		if _, dup := v.decKeys[jwk.KeyID]; dup {
			return nil, fmt.Errorf("stateless: duplicate decryption kid %q", jwk.KeyID)
		}
		dk, err := decryptionKeyFor(jwk)
		if err != nil {
			return nil, fmt.Errorf("stateless: decryption key %q: %w", jwk.KeyID, err)
		}
		v.decKeys[jwk.KeyID] = dk
		if !slices.Contains(v.keyAlgs, dk.alg) {
			v.keyAlgs = append(v.keyAlgs, dk.alg)
		}
	}
	for kid, sk := range cfg.SecretKeys {
		if len(sk) < secretKeySize {
			return nil, fmt.Errorf("stateless: secret key %q shorter than %d bytes", kid, secretKeySize)
		}
		v.secretKeys[kid] = bytes.Clone(sk)
	}
	return v, nil
}

// verificationAlgs returns the public key of jwk and the signature
// algorithms it may be used with: its "alg" if set (one key, one algorithm),
// otherwise those its type allows.
func verificationAlgs(jwk *jose.JSONWebKey) (any, []jose.SignatureAlgorithm, error) {
	var (
		pub  any
		algs []jose.SignatureAlgorithm
	)
	switch k := jwk.Key.(type) {
	case *ecdsa.PrivateKey:
		return verificationAlgs(&jose.JSONWebKey{Key: &k.PublicKey, Algorithm: jwk.Algorithm})
	case ed25519.PrivateKey:
		return verificationAlgs(&jose.JSONWebKey{Key: k.Public(), Algorithm: jwk.Algorithm})
	case *rsa.PrivateKey:
		return verificationAlgs(&jose.JSONWebKey{Key: &k.PublicKey, Algorithm: jwk.Algorithm})
	case *ecdsa.PublicKey:
		pub = k
		switch k.Curve {
		case elliptic.P256():
			algs = []jose.SignatureAlgorithm{jose.ES256}
		case elliptic.P384():
			algs = []jose.SignatureAlgorithm{jose.ES384}
		case elliptic.P521():
			algs = []jose.SignatureAlgorithm{jose.ES512}
		default:
			return nil, nil, errors.New("unsupported curve")
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, nil, errors.New("bad Ed25519 key")
		}
		pub, algs = k, []jose.SignatureAlgorithm{jose.EdDSA}
	case *rsa.PublicKey:
		if k.N.BitLen() < rsaBits {
			return nil, nil, fmt.Errorf("RSA key shorter than %d bits", rsaBits)
		}
		pub = k
		algs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512}
	case []byte:
		return nil, nil, errors.New("symmetric keys cannot verify client ids")
	default:
		return nil, nil, fmt.Errorf("unsupported key type %T", jwk.Key)
	}
	if jwk.Algorithm != "" {
		a := jose.SignatureAlgorithm(jwk.Algorithm)
		if !slices.Contains(algs, a) {
			return nil, nil, fmt.Errorf("alg %q does not fit the key type", jwk.Algorithm)
		}
		algs = []jose.SignatureAlgorithm{a}
	}
	return pub, algs, nil
}

func decryptionKeyFor(jwk *jose.JSONWebKey) (decryptionKey, error) {
	var dk decryptionKey
	switch k := jwk.Key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return dk, errors.New("ECDH-ES+A256KW needs a P-256 key")
		}
		dk = decryptionKey{alg: jose.ECDH_ES_A256KW, key: k}
	case *rsa.PrivateKey:
		if k.N.BitLen() < rsaBits {
			return dk, fmt.Errorf("RSA key shorter than %d bits", rsaBits)
		}
		dk = decryptionKey{alg: jose.RSA_OAEP_256, key: k}
	case []byte:
		if len(k) != 32 {
			return dk, errors.New("A256KW needs a 32-byte key")
		}
		dk = decryptionKey{alg: jose.A256KW, key: bytes.Clone(k)}
	default:
		return dk, fmt.Errorf("unsupported decryption key type %T (need a private or symmetric key)", jwk.Key)
	}
	if jwk.Algorithm != "" && jwk.Algorithm != string(dk.alg) {
		return dk, fmt.Errorf("alg %q does not fit the key type (%s)", jwk.Algorithm, dk.alg)
	}
	return dk, nil
}

// VerifierFromKeySet builds a Verifier for this server's own client ids: it
// trusts issuer with the public keys of s, and takes the decryption keys and
// secret keys of every (unpruned) generation in s. audience defaults to issuer.
func VerifierFromKeySet(issuer, audience string, s *KeySet, clk Clock) (*Verifier, error) {
	if s == nil {
		return nil, errors.New("stateless: nil key set")
	}
	if audience == "" {
		audience = issuer
	}
	cfg := VerifierConfig{
		TrustedIssuers: map[string]jose.JSONWebKeySet{issuer: s.PublicKeySet()},
		Audience:       audience,
		SecretKeys:     map[string][]byte{},
		Clock:          clk,
	}
	for i := range s.Keys {
		k := &s.Keys[i]
		switch k.Use {
		case UseSignature:
			if len(k.SecretKey) > 0 {
				cfg.SecretKeys[k.ID] = k.SecretKey
			}
		case UseEncryption:
			cfg.DecryptionKeys = append(cfg.DecryptionKeys, k.Private)
		}
	}
	return NewVerifier(cfg)
}

// Client is a verified client id.
type Client struct {
	// Issuer is "iss", a trusted issuer.
	Issuer string
	// Subject is "sub".
	Subject string
	// Audience is the matched "aud" value (VerifierConfig.Audience).
	Audience string
	// IssuedAt is "iat" (zero if absent).
	IssuedAt time.Time
	// ExpiresAt is "exp" (zero if the id never expires).
	ExpiresAt time.Time
	// Reg is the registered metadata, a JSON object.
	Reg json.RawMessage
	// Confirmation is "cnf", nil if absent.
	Confirmation *Confirmation
	// KeyID is the kid of the key that signed the id.
	KeyID string
	// Encrypted reports the nested JWE form.
	Encrypted bool

	secret string // client_secret claim (nested form only)
}

// Static verification failures.
var (
	errMalformed     = wrapInvalid("malformed")
	errAlgorithm     = wrapInvalid("algorithm not allowed")
	errCrit          = wrapInvalid("critical header not supported")
	errType          = wrapInvalid(`typ is not "` + TypeClientID + `"`)
	errNoKid         = wrapInvalid("missing kid")
	errUnknownKid    = wrapInvalid("unknown kid")
	errSignature     = wrapInvalid("bad signature")
	errIssuer        = wrapInvalid("issuer not trusted for this key")
	errAudience      = wrapInvalid("wrong audience")
	errExpired       = wrapInvalid("expired")
	errNotYetValid   = wrapInvalid("not yet valid")
	errClaims        = wrapInvalid("malformed claims")
	errReg           = wrapInvalid("reg is not a JSON object")
	errSecretInClear = wrapInvalid("signed-only client id carries a client secret")
	errNested        = wrapInvalid("nested payload is not a compact JWS")
)

// Verify validates a client id and returns its client. Order (SCI-10): size
// and character set; 3 segments = JWS, 5 = JWE (else rejected); for a JWE:
// alg/enc allow-list, cty "JWT", no zip, no crit, kid lookup, decrypt (every
// failure so far is one identical error); for the (inner) JWS: alg allow-list,
// no crit, kid lookup, signature, iss must own the key, typ, aud, exp/nbf
// (with leeway), sub, reg an object, cnf, and client_secret only when
// encrypted. Every error wraps ErrInvalidClientID.
func (v *Verifier) Verify(clientID string) (*Client, error) {
	dots, ok := compactShape(clientID)
	if !ok {
		return nil, errMalformed
	}
	switch dots {
	case 2:
		return v.verifyJWS(clientID, false)
	case 4:
		return v.verifyJWE(clientID)
	}
	return nil, errMalformed
}

// compactShape checks length and alphabet (base64url without padding and
// dots only) and counts the dots. It also requires every segment to be
// canonical base64url (no length ≡ 1 mod 4, unused trailing bits zero): Go's
// decoder ignores those bits, which would otherwise give one client id
// several spellings.
func compactShape(s string) (int, bool) {
	if len(s) == 0 || len(s) > MaxClientIDLength {
		return 0, false
	}
	dots, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if !canonicalSegment(s[start:i]) {
				return 0, false
			}
			if i < len(s) {
				dots++
			}
			start = i + 1
			continue
		}
		if b64Values[s[i]] < 0 {
			return 0, false
		}
	}
	return dots, true
}

// b64Values maps a byte to its base64url value, or -1.
var b64Values = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = int8(i)
	}
	return t
}()

func canonicalSegment(seg string) bool {
	switch len(seg) % 4 {
	case 1:
		return false
	case 2:
		return b64Values[seg[len(seg)-1]]&0x0f == 0
	case 3:
		return b64Values[seg[len(seg)-1]]&0x03 == 0
	}
	return true
}

func (v *Verifier) verifyJWE(s string) (*Client, error) {
	if len(v.decKeys) == 0 {
		return nil, errUndecryptable
	}
	obj, err := jose.ParseEncryptedCompact(s, v.keyAlgs, contentEncryptions)
	if err != nil {
		return nil, errUndecryptable
	}
	h := &obj.Header
	if cty, _ := h.ExtraHeaders[jose.HeaderContentType].(string); !strings.EqualFold(cty, "JWT") {
		return nil, errUndecryptable
	}
	if _, ok := h.ExtraHeaders["zip"]; ok {
		return nil, errUndecryptable
	}
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, errUndecryptable
	}
	dk, ok := v.decKeys[h.KeyID]
	if !ok || h.Algorithm != string(dk.alg) {
		return nil, errUndecryptable
	}
	pt, err := obj.Decrypt(dk.key)
	if err != nil {
		return nil, errUndecryptable
	}
	inner := string(pt)
	if dots, ok := compactShape(inner); !ok || dots != 2 {
		return nil, errNested
	}
	return v.verifyJWS(inner, true)
}

// claimSet holds the claims parseClaims reads; raw members alias the payload.
type claimSet struct {
	Iss, Sub      string
	Aud           json.RawMessage // string or array of strings
	Iat, Exp, Nbf json.Number     // "" when absent
	Reg, Cnf      json.RawMessage // nil when absent
	ClientSecret  *string         // nil when absent
}

func (v *Verifier) verifyJWS(s string, encrypted bool) (*Client, error) {
	obj, err := jose.ParseSignedCompact(s, v.algs)
	if err != nil {
		var ua *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &ua) {
			return nil, errAlgorithm
		}
		return nil, errMalformed
	}
	h := &obj.Signatures[0].Protected
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, errCrit
	}
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return nil, errCrit
	}
	if h.KeyID == "" {
		return nil, errNoKid
	}
	cands := v.keys[h.KeyID]
	if len(cands) == 0 {
		return nil, errUnknownKid
	}
	alg := jose.SignatureAlgorithm(h.Algorithm)
	var (
		payload []byte
		owners  []string // issuers whose key verified the signature
	)
	for i := range cands {
		c := &cands[i]
		if !slices.Contains(c.algs, alg) {
			continue
		}
		p, err := obj.Verify(c.key)
		if err != nil {
			continue
		}
		payload = p
		owners = append(owners, c.issuer)
	}
	if payload == nil {
		return nil, errSignature
	}

	var cl claimSet
	if err := parseClaims(payload, &cl); err != nil {
		return nil, errClaims
	}
	if cl.Iss == "" || !slices.Contains(owners, cl.Iss) {
		return nil, errIssuer
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, TypeClientID) && !strings.EqualFold(typ, "application/"+TypeClientID) {
		return nil, errType
	}
	if !v.audienceMatches(cl.Aud) {
		return nil, errAudience
	}
	now := v.clock.Now()
	c := &Client{
		Issuer:    cl.Iss,
		Subject:   cl.Sub,
		Audience:  v.audience,
		KeyID:     h.KeyID,
		Encrypted: encrypted,
	}
	if cl.Exp != "" {
		exp, err := numericDate(cl.Exp)
		if err != nil {
			return nil, errClaims
		}
		if !now.Before(exp.Add(v.leeway)) {
			return nil, errExpired
		}
		c.ExpiresAt = exp
	}
	if cl.Nbf != "" {
		nbf, err := numericDate(cl.Nbf)
		if err != nil {
			return nil, errClaims
		}
		if now.Add(v.leeway).Before(nbf) {
			return nil, errNotYetValid
		}
	}
	if cl.Iat != "" {
		if c.IssuedAt, err = numericDate(cl.Iat); err != nil {
			return nil, errClaims
		}
	}
	if cl.Sub == "" {
		return nil, errClaims
	}
	if len(cl.Reg) == 0 || cl.Reg[0] != '{' {
		return nil, errReg
	}
	c.Reg = cl.Reg
	if len(cl.Cnf) > 0 && string(cl.Cnf) != "null" {
		var cnf Confirmation
		if err := json.Unmarshal(cl.Cnf, &cnf); err != nil {
			return nil, errClaims
		}
		if err := cnf.check(encrypted); err != nil {
			return nil, wrapInvalid(err.Error())
		}
		if !cnf.empty() {
			c.Confirmation = &cnf
		}
	}
	if cl.ClientSecret != nil {
		if !encrypted {
			return nil, errSecretInClear
		}
		if *cl.ClientSecret == "" {
			return nil, errClaims
		}
		c.secret = *cl.ClientSecret
	}
	return c, nil
}

func (v *Verifier) audienceMatches(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	switch raw[0] {
	case '"':
		s := jscan{b: raw}
		str, err := s.stringValue()
		return err == nil && str == v.audience
	case '[':
		var list []string
		return json.Unmarshal(raw, &list) == nil && slices.Contains(list, v.audience)
	}
	return false
}

// numericDate parses an RFC 7519 NumericDate (seconds, possibly fractional).
func numericDate(n json.Number) (time.Time, error) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return time.Unix(i, 0).UTC(), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64/2 || f < math.MinInt64/2 {
		return time.Time{}, errors.New("bad NumericDate")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// CheckSecret checks a client secret presented by c (already form-urldecoded
// from HTTP Basic, RFC 6749 §2.3.1) in constant time. For a nested id it is
// compared with the client_secret claim; for a signed-only id with the
// secret derived from the signing key's SecretKey (kid c.KeyID) and c.Subject.
// Whether the client may authenticate with a secret at all (its
// token_endpoint_auth_method) is the caller's decision. Errors wrap
// ErrInvalidClientSecret.
func (v *Verifier) CheckSecret(c *Client, presented string) error {
	if c == nil || presented == "" {
		return ErrInvalidClientSecret
	}
	var expected string
	if c.Encrypted {
		if c.secret == "" {
			return fmt.Errorf("%w: client id carries no secret", ErrInvalidClientSecret)
		}
		expected = c.secret
	} else {
		sk, ok := v.secretKeys[c.KeyID]
		if !ok {
			return fmt.Errorf("%w: no secret key for signing key %q", ErrInvalidClientSecret, c.KeyID)
		}
		expected = deriveSecret(sk, c.Subject)
	}
	if subtle.ConstantTimeCompare([]byte(presented), []byte(expected)) != 1 {
		return ErrInvalidClientSecret
	}
	return nil
}
