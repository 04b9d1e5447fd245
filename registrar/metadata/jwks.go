package metadata

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strconv"

	jose "github.com/go-jose/go-jose/v4"
)

// privateJWKMembers are JWK members that carry private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4.1; "priv" for AKP keys).
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// Limits on a client's RSA keys. RFC 7518 §3.3 requires at least 2048 bits;
// 4096 is go-jose's default MaxRSAModulusBits, so a longer key could not be
// used by the authorization servers this project feeds anyway. The exponent
// bound is the one crypto/rsa works with (a positive int32).
const (
	minRSAModulusBits = 2048
	maxRSAModulusBits = 4096
	maxRSAExponent    = 1<<31 - 1
)

// The fixed details of a refused client key. None repeats key material.
var (
	errJWKNotObject  = errors.New("must be a JSON object")
	errJWKPrivate    = errors.New("must not contain private or symmetric key material")
	errJWKNoKty      = errors.New("must have a string kty")
	errJWKOct        = errors.New("must not be a symmetric (oct) key")
	errJWKInvalid    = errors.New("is not a valid public JWK")
	errRSAShort      = errors.New("is an RSA key shorter than 2048 bits")
	errRSALong       = errors.New("is an RSA key longer than 4096 bits")
	errRSAModulus    = errors.New("has an invalid RSA modulus (n)")
	errRSAExponent   = errors.New("has an invalid RSA exponent (e)")
	errJWKCurve      = errors.New("has an unsupported curve (crv)")
	errJWKCoordinate = errors.New("has key coordinates of the wrong length for its curve")
	errECPoint       = errors.New("is an EC key whose point is not on its curve")
)

// ecCurves are the RFC 7518 §6.2.1.1 curves with their coordinate size in
// bytes.
var ecCurves = map[string]struct {
	curve ecdh.Curve
	size  int
}{
	"P-256": {ecdh.P256(), 32},
	"P-384": {ecdh.P384(), 48},
	"P-521": {ecdh.P521(), 66},
}

// okpCurves are the RFC 8037 §2 curves with their public key size in bytes.
var okpCurves = map[string]int{"Ed25519": 32, "Ed448": 57, "X25519": 32, "X448": 56}

// checkJWKS validates the jwks member (REG-15, REG-16) and returns the number
// of keys, or -1 when the set itself is malformed.
func (v *validator) checkJWKS() int {
	raw := v.m.JWKS
	bad := func(detail string) int {
		v.add(mJWKS, -1, detail, "")
		return -1
	}
	if len(raw) > v.l.jwks {
		return bad("is too large") // REG-45
	}
	var set map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &set) != nil {
		return bad("must be a JSON object containing a keys array") // REG-15
	}
	keysRaw, ok := set["keys"]
	var keys []json.RawMessage
	if !ok || len(keysRaw) == 0 || keysRaw[0] != '[' || json.Unmarshal(keysRaw, &keys) != nil {
		return bad("must be a JSON object containing a keys array") // REG-15
	}
	if len(keys) > v.l.list {
		return bad("has too many keys") // REG-45
	}
	for i, k := range keys {
		if detail := checkJWK(k); detail != "" {
			v.add(mJWKS, -1, "keys["+strconv.Itoa(i)+"] "+detail, "")
		}
	}
	return len(keys)
}

// checkJWK returns "" for an acceptable public JWK, else a fixed detail.
func checkJWK(raw json.RawMessage) string {
	if err := CheckPublicJWK(raw); err != nil {
		return err.Error()
	}
	return ""
}

// CheckPublicJWK reports whether raw is a JWK this project accepts as a
// client's public key (REG-15, REG-16). It is the one rule for the
// registration endpoint, the admission webhook and the reconciler (through
// Validate) and for the stateless minter's cnf claim.
//
// Refused: anything but a JSON object; private or symmetric members (d, p, q,
// dp, dq, qi, oth, k, priv) and oct keys; a missing kty; RSA keys whose n or e
// is missing, not strict unpadded base64url, or has leading zero octets
// (RFC 7518 §2 Base64urlUInt), whose modulus is even or outside 2048-4096 bits
// (RFC 7518 §3.3), or whose exponent is even, 1 or above 2^31-1; EC keys on a
// curve other than P-256, P-384 and P-521, with coordinates of the wrong
// length, or whose point is not on the curve; OKP keys on a curve other than
// Ed25519, Ed448, X25519 and X448 or with x of the wrong length; and any key
// of these types go-jose does not parse as a valid public key (duplicate
// member names, a low-order Ed25519 point, an x5c that does not match).
// Keys of other types are accepted unread (RFC 7517 §5) once they carry no
// private member and parse as JSON without duplicate names.
//
// The error's text is a fixed phrase that never contains key material, meant
// to follow a key's position ("keys[0] is an RSA key shorter than 2048 bits").
func CheckPublicJWK(raw []byte) error {
	raw = bytes.TrimSpace(raw)
	var members map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &members) != nil {
		return errJWKNotObject
	}
	// REG-16: no private or symmetric key material.
	for _, name := range privateJWKMembers {
		if _, ok := members[name]; ok {
			return errJWKPrivate
		}
	}
	kty, ok := jsonString(members["kty"])
	if !ok || kty == "" {
		return errJWKNoKty
	}
	var err error
	switch kty {
	case "oct":
		return errJWKOct // REG-16
	case "RSA":
		err = checkRSAMembers(members)
	case "EC":
		err = checkECMembers(members)
	case "OKP":
		err = checkOKPMembers(members)
	}
	if err != nil {
		return err
	}
	// go-jose has the last word on what it understands, so the keys accepted
	// here are exactly the keys an authorization server using it can load.
	var jwk jose.JSONWebKey
	err = jwk.UnmarshalJSON(raw)
	if errors.Is(err, jose.ErrUnsupportedKeyType) {
		// RFC 7517 §5: key types or curves we do not understand are ignored,
		// not rejected (for example OKP X25519 encryption keys).
		return nil
	}
	if err != nil || !jwk.Valid() || !jwk.IsPublic() {
		return errJWKInvalid // REG-15
	}
	return CheckPublicKey(jwk.Key)
}

// CheckPublicKey applies the rules of CheckPublicJWK that concern the key
// itself to a parsed public key: RSA moduli of 2048 to 4096 bits, odd, with an
// odd exponent above 1 and at most 2^31-1; EC points on their curve; Ed25519
// keys of 32 bytes. Other key types are accepted; private keys are refused.
func CheckPublicKey(key any) error {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return checkRSA(k.N, int64(k.E))
	case *ecdsa.PublicKey:
		// The nil checks read the deprecated coordinates only to avoid the
		// panic ECDH would raise on a key without them.
		if k.Curve == nil || k.X == nil || k.Y == nil { //nolint:staticcheck // SA1019: nil check only, see above.
			return errECPoint
		}
		// ECDH rejects a point off the curve (and the point at infinity).
		if _, err := k.ECDH(); err != nil {
			return errECPoint
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return errJWKCoordinate
		}
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey, []byte:
		return errJWKPrivate
	}
	return nil
}

// checkRSA checks a modulus and exponent.
func checkRSA(n *big.Int, e int64) error {
	switch {
	case n == nil || n.Sign() <= 0 || n.Bit(0) == 0:
		return errRSAModulus
	case n.BitLen() < minRSAModulusBits:
		return errRSAShort
	case n.BitLen() > maxRSAModulusBits:
		return errRSALong
	case e < 3 || e > maxRSAExponent || e%2 == 0:
		return errRSAExponent
	}
	return nil
}

// checkRSAMembers checks the encoding and values of n and e.
func checkRSAMembers(members map[string]json.RawMessage) error {
	n, ok := uintMember(members["n"])
	if !ok || n[0] == 0 {
		return errRSAModulus
	}
	e, ok := uintMember(members["e"])
	if !ok || e[0] == 0 || len(e) > 4 {
		return errRSAExponent
	}
	if len(n) > maxRSAModulusBits/8+1 {
		return errRSALong // before big.Int, whatever the size
	}
	return checkRSA(new(big.Int).SetBytes(n), new(big.Int).SetBytes(e).Int64())
}

// checkECMembers checks crv, the lengths of x and y, and that the point is on
// the curve.
func checkECMembers(members map[string]json.RawMessage) error {
	name, _ := jsonString(members["crv"])
	c, ok := ecCurves[name]
	if !ok {
		return errJWKCurve
	}
	x, okX := bytesMember(members["x"])
	y, okY := bytesMember(members["y"])
	if !okX || !okY || len(x) != c.size || len(y) != c.size {
		return errJWKCoordinate
	}
	point := make([]byte, 0, 1+2*c.size)
	point = append(point, 4) // SEC 1 uncompressed point
	point = append(append(point, x...), y...)
	if _, err := c.curve.NewPublicKey(point); err != nil {
		return errECPoint
	}
	return nil
}

// checkOKPMembers checks crv and the length of x.
func checkOKPMembers(members map[string]json.RawMessage) error {
	name, _ := jsonString(members["crv"])
	size, ok := okpCurves[name]
	if !ok {
		return errJWKCurve
	}
	if x, ok := bytesMember(members["x"]); !ok || len(x) != size {
		return errJWKCoordinate
	}
	return nil
}

// jsonString decodes a JSON string member.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// bytesMember decodes a member holding strict unpadded base64url (RFC 7515
// §2); it is false for anything else.
func bytesMember(raw json.RawMessage) ([]byte, bool) {
	s, ok := jsonString(raw)
	if !ok {
		return nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, false
	}
	return b, true
}

// uintMember decodes a Base64urlUInt member (RFC 7518 §2): non-empty.
// Leading zero octets are left for the caller to refuse.
func uintMember(raw json.RawMessage) ([]byte, bool) {
	b, ok := bytesMember(raw)
	return b, ok && len(b) > 0
}
