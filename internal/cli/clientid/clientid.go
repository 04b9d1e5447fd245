// Package clientid decodes stateless client ids for people: the JOSE
// segments of a signed (JWS) or nested (JWE) id as JSON, verification
// against the JWK Set a server publishes in its status, and masking of
// secrets for display. It is shared by clientregctl and the demo.
package clientid

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	sci "github.com/clientreg/clientreg/registrar/stateless"
)

// Form is the compact serialization of a client id.
type Form int

const (
	// Opaque is a client id that is not a compact JOSE object (for example
	// one issued by a remote server through dynamic registration).
	Opaque Form = iota
	// Signed is a compact JWS (3 segments): readable by anyone, no secret inside.
	Signed
	// Encrypted is a compact JWE (5 segments) wrapping a signed id.
	Encrypted
)

// String names the form.
func (f Form) String() string {
	switch f {
	case Signed:
		return "signed (JWS)"
	case Encrypted:
		return "encrypted (nested JWE)"
	default:
		return "opaque"
	}
}

// Split returns the form of id and its dot-separated segments. A client id
// with other than 3 or 5 segments is Opaque.
func Split(id string) (Form, []string) {
	segs := strings.Split(id, ".")
	switch len(segs) {
	case 3:
		return Signed, segs
	case 5:
		return Encrypted, segs
	default:
		return Opaque, segs
	}
}

// SegmentsError is the error for a stateless client id that is neither a
// JWS nor a JWE.
func SegmentsError(n int) error {
	return fmt.Errorf("the client id has %d segments, not 3 (JWS) or 5 (JWE)", n)
}

// DecodeSegment base64url-decodes one JOSE segment holding a JSON object and
// returns its members.
func DecodeSegment(title, seg string) (map[string]json.RawMessage, error) {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, fmt.Errorf("decoding the %s: %w", title, err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, fmt.Errorf("the %s is not a JSON object: %w", title, err)
	}
	return members, nil
}

// PrintSegment base64url-decodes one JOSE segment and prints it as indented
// JSON under "<indent><title>:". A client_secret member, which a well-formed
// signed id never carries, is replaced by mask(value) all the same.
func PrintSegment(out io.Writer, indent, title, seg string, mask func(string) string) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("decoding the %s: %w", title, err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return fmt.Errorf("the %s is not a JSON object: %w", title, err)
	}
	if s, ok := members["client_secret"]; ok {
		var v string
		_ = json.Unmarshal(s, &v)
		members["client_secret"], _ = json.Marshal(mask(v))
		if raw, err = json.Marshal(members); err != nil {
			return fmt.Errorf("re-encoding the %s: %w", title, err)
		}
	}
	fmt.Fprintf(out, "%s%s:\n", indent, title)
	return PrintJSON(out, indent+"  ", raw)
}

// PrintJSON prints raw indented, every line prefixed with indent.
func PrintJSON(out io.Writer, indent string, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, indent, "  "); err != nil {
		return fmt.Errorf("formatting JSON: %w", err)
	}
	fmt.Fprintf(out, "%s%s\n", indent, buf.String())
	return nil
}

// PublicVerifier builds a verifier that trusts only what a server
// publishes: its issuer and the JWK Set in its status.jwks, as a third-party
// authorization server would. decryptionKeys are needed for nested ids only
// (they are never published); the signature is still checked with the
// published keys. A JWK Set that holds a private key is refused.
func PublicVerifier(issuer, audience, jwks string, decryptionKeys []jose.JSONWebKey) (*sci.Verifier, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(jwks), &set); err != nil {
		return nil, fmt.Errorf("status.jwks is not a JWK Set: %w", err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return nil, fmt.Errorf("status.jwks publishes a private key (kid %q)", k.KeyID)
		}
	}
	v, err := sci.NewVerifier(sci.VerifierConfig{
		TrustedIssuers: map[string]jose.JSONWebKeySet{issuer: set},
		Audience:       audience,
		DecryptionKeys: decryptionKeys,
	})
	if err != nil {
		return nil, fmt.Errorf("building a verifier from status.jwks: %w", err)
	}
	return v, nil
}

// Claims is the printed form of a verified client id. It has no member for
// a client secret.
type Claims struct {
	Issuer       string            `json:"iss"`
	Subject      string            `json:"sub"`
	Audience     string            `json:"aud"`
	IssuedAt     int64             `json:"iat,omitempty"`
	ExpiresAt    int64             `json:"exp,omitempty"`
	Confirmation *sci.Confirmation `json:"cnf,omitempty"`
	Reg          json.RawMessage   `json:"reg"`
}

// ClaimsOf returns the printable claims of a verified client id.
func ClaimsOf(c *sci.Client) Claims {
	return Claims{
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience,
		IssuedAt: unixTime(c.IssuedAt), ExpiresAt: unixTime(c.ExpiresAt),
		Confirmation: c.Confirmation, Reg: c.Reg,
	}
}

func unixTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// Fingerprint describes a secret without revealing it: its length and the
// first 8 hex digits of its SHA-256, enough to tell two values apart or to
// compare with `printf %s "$value" | sha256sum`, nothing to recover it from.
func Fingerprint(v string) string {
	if v == "" {
		return "empty"
	}
	sum := sha256.Sum256([]byte(v))
	return fmt.Sprintf("%d chars, sha256:%s…", len(v), hex.EncodeToString(sum[:4]))
}
