package stateless

import (
	"errors"
	"time"
)

// TypeClientID is the "typ" header of the (inner) JWS of every stateless client
// id. It keeps client ids apart from ID tokens ("JWT"), access tokens ("at+jwt")
// and any other JWT the same keys might sign (RFC 8725 §3.11, SCI-06).
const TypeClientID = "client-id+jwt"

// MaxClientIDLength is the documented maximum length, in bytes, of a client id
// minted or accepted by this package (RFC 6749 §2.2, SCI-17). Mint returns
// ErrTooLarge rather than produce a longer id, and Verify rejects longer input
// before parsing it.
const MaxClientIDLength = 8192

// ErrInvalidClientID is wrapped by every error Verify returns; test with
// errors.Is. Callers answer it with invalid_client and must not echo the
// wrapped detail to the client.
var ErrInvalidClientID = errors.New("invalid client id")

// ErrInvalidClientSecret is returned (possibly wrapped) by Verifier.CheckSecret
// when the presented secret does not match.
var ErrInvalidClientSecret = errors.New("invalid client secret")

// ErrTooLarge is returned (wrapped) by Minter.Mint when the client id would be
// longer than MaxClientIDLength. The registration endpoint answers it with
// invalid_client_metadata.
var ErrTooLarge = errors.New("client id would exceed the maximum length")

// errUndecryptable is the single error returned for every failure to parse or
// decrypt the outer JWE of a nested client id, whatever the cause (bad
// base64, bad header, unknown kid, wrong algorithm, bad IV, tag or ciphertext),
// so that no decryption oracle exists (RFC 7516 §11.5, SCI-19).
var errUndecryptable = wrapInvalid("undecryptable")

// Clock tells the time. k8s.io/utils/clock.PassiveClock satisfies it.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// invalidError is a verification failure: it prints as
// "invalid client id: <reason>" and unwraps to ErrInvalidClientID.
type invalidError struct{ reason string }

func (e *invalidError) Error() string { return ErrInvalidClientID.Error() + ": " + e.reason }
func (e *invalidError) Unwrap() error { return ErrInvalidClientID }

func wrapInvalid(reason string) error { return &invalidError{reason: reason} }
