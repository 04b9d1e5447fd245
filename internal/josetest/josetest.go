// Package josetest builds JOSE objects for tests by hand: tokens signed or
// encrypted with whatever header, key and payload a test needs, right or
// wrong, and JSON objects (claims, metadata) changed member by member. It
// imports nothing from Kubernetes, so registrar's tests use it too. Test
// support only.
package josetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"maps"
	"regexp"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// CompactJWS and CompactJWE match the compact serializations of a JWS
// (three base64url segments) and of a JWE (five).
var (
	CompactJWS = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){2}$`)
	CompactJWE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){4}$`)
)

// P256Key returns a new ECDSA key on P-256 (ES256, ECDH-ES). Any failure
// fails t.
func P256Key(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("josetest: generating a P-256 key: %v", err)
	}
	return k
}

// Sign signs payload with key and the header options opts (nil for none)
// and returns the compact JWS. Any failure fails t.
func Sign(t testing.TB, key jose.SigningKey, opts *jose.SignerOptions, payload []byte) string {
	t.Helper()
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		t.Fatalf("josetest: signing: %v", err)
	}
	obj, err := signer.Sign(payload)
	return compact(t, "signing", obj, err)
}

// compact returns obj serialized; err, or a failure to serialize, fails t.
func compact(t testing.TB, what string, obj interface{ CompactSerialize() (string, error) }, err error) string {
	t.Helper()
	var out string
	if err == nil {
		out, err = obj.CompactSerialize()
	}
	if err != nil {
		t.Fatalf("josetest: %s: %v", what, err)
	}
	return out
}

// SignJSON is Sign of v encoded as JSON.
func SignJSON(t testing.TB, key jose.SigningKey, opts *jose.SignerOptions, v any) string {
	t.Helper()
	payload, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("josetest: encoding the payload: %v", err)
	}
	return Sign(t, key, opts, payload)
}

// Encrypt encrypts plaintext to rcpt with enc and the header options opts
// (nil for none) and returns the compact JWE. Any failure fails t.
func Encrypt(t testing.TB, enc jose.ContentEncryption, rcpt jose.Recipient, opts *jose.EncrypterOptions, plaintext []byte) string {
	t.Helper()
	e, err := jose.NewEncrypter(enc, rcpt, opts)
	if err != nil {
		t.Fatalf("josetest: encrypting: %v", err)
	}
	obj, err := e.Encrypt(plaintext)
	return compact(t, "encrypting", obj, err)
}

// Headers returns signer options that set the header members h; a member
// whose value is nil is left out.
func Headers(h map[string]any) *jose.SignerOptions {
	opts := &jose.SignerOptions{}
	for name, v := range h {
		if v != nil {
			opts.WithHeader(jose.HeaderKey(name), v)
		}
	}
	return opts
}

// With returns a copy of base with each of changes applied in turn: a member
// whose value is nil is removed, any other is set.
func With(base map[string]any, changes ...map[string]any) map[string]any {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]any{}
	}
	for _, change := range changes {
		for k, v := range change {
			if v == nil {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
	}
	return out
}

// Object returns v encoded as JSON and decoded again as a JSON object: its
// members as encoding/json sees them. A failure fails t.
func Object(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("josetest: encoding %T: %v", v, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("josetest: %T is not a JSON object: %v", v, err)
	}
	return m
}
