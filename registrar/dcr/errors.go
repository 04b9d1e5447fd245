package dcr

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind classifies an outcome.
type Kind int

// The kinds of failure. The zero Kind is never used.
const (
	// KindInvalidMetadata is a 400 (invalid_client_metadata,
	// invalid_redirect_uri, invalid_software_statement,
	// unapproved_software_statement, or any other 400), or a 409, 413 or 422:
	// the server refuses the request as built. Permanent until the input
	// changes.
	KindInvalidMetadata Kind = iota + 1
	// KindUnauthorized is a 401. Under RFC 7592 it means the client no longer
	// exists OR the token is invalid, expired or revoked; the two cannot be
	// told apart.
	KindUnauthorized
	// KindGone is a 404 or 410 from a lax server (RFC 7592 servers answer 401).
	KindGone
	// KindForbidden is a 403: the operation is not permitted (RFC 7592 §2).
	KindForbidden
	// KindRateLimited is a 429, or a 503 with a Retry-After header.
	// Error.RetryAfter holds the server's delay when it sent one.
	KindRateLimited
	// KindTransient is a 5xx (other than 503 with Retry-After), a 408, a
	// network error, a timeout or a canceled context, and a 2xx whose body
	// could not be read. Retry with backoff; check Error.Uncertain first.
	KindTransient
	// KindProtocol is a response the client cannot use: a 2xx that is not a
	// JSON object, lacks a string client_id, has members of the wrong type or
	// is too large; an unexpected 2xx status; a redirect (never followed); any
	// 4xx not listed above (405, 415, ...). See Error.Partial.
	KindProtocol
	// KindInvalidArgument means the call was refused before anything was sent:
	// a malformed or non-https URL, metadata that is not a JSON object, an
	// empty client ID or token, a token that cannot go in a header. Permanent
	// until the input changes.
	KindInvalidArgument
)

// String returns the name of the kind without the "Kind" prefix, suitable as
// a condition reason ("Unauthorized").
func (k Kind) String() string {
	switch k {
	case KindInvalidMetadata:
		return "InvalidMetadata"
	case KindUnauthorized:
		return "Unauthorized"
	case KindGone:
		return "Gone"
	case KindForbidden:
		return "Forbidden"
	case KindRateLimited:
		return "RateLimited"
	case KindTransient:
		return "Transient"
	case KindProtocol:
		return "Protocol"
	case KindInvalidArgument:
		return "InvalidArgument"
	default:
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// MaxRetryAfter caps Error.RetryAfter: a server asking for a longer delay is
// asked again after this long.
const MaxRetryAfter = time.Hour

// maxDescription is the maximum length, in characters, of Error.Description.
const maxDescription = 200

// Error is every failure of Client's methods. Its Error() never contains a
// token, secret or request body; Description is truncated (<=200 chars) and
// stripped of control characters.
type Error struct {
	// Op is the operation: "discover" | "register" | "read" | "update" | "delete".
	Op string
	// Kind classifies the failure.
	Kind Kind
	// URL is the request URL without userinfo, query or fragment; empty when
	// the URL was refused before parsing.
	URL string
	// StatusCode is the HTTP status; 0 when no (complete) response arrived.
	StatusCode int
	// Code is the RFC error code from a JSON body (or a Bearer
	// WWW-Authenticate header), if any.
	Code string
	// Description is the server's error_description or error text, or this
	// package's account of the problem; sanitized and redacted.
	Description string
	// RetryAfter is the server's Retry-After, clamped to [1s, MaxRetryAfter];
	// 0 when absent.
	RetryAfter time.Duration
	// Sent is true when the whole request was written to the connection
	// (httptrace WroteRequest without error): the server may have acted on it
	// even though no response arrived.
	Sent bool
	// Err is the underlying cause (network error, context error, TLS error), if any.
	Err error
	// Partial is set for a KindProtocol error on a 2xx whose body was a JSON
	// object: the members that could be read, credentials included. Callers
	// should persist new credentials from it as from a success. Error() never
	// prints it.
	Partial *Registration
}

// Error describes the failure without any token, secret or request body.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("dcr: ")
	b.WriteString(e.Op)
	if e.URL != "" {
		b.WriteString(" ")
		b.WriteString(e.URL)
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.String())
	switch {
	case e.StatusCode != 0 && e.Code != "":
		b.WriteString(" (HTTP " + strconv.Itoa(e.StatusCode) + ", " + e.Code + ")")
	case e.StatusCode != 0:
		b.WriteString(" (HTTP " + strconv.Itoa(e.StatusCode) + ")")
	case e.Code != "":
		b.WriteString(" (" + e.Code + ")")
	}
	if e.Uncertain() {
		b.WriteString(" (request sent, no response: the server may have acted on it)")
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after " + e.RetryAfter.String() + ")")
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Uncertain reports whether the server may have acted although no response
// arrived (Sent && StatusCode == 0). After an uncertain Register, a client may
// exist on the server; after an uncertain Read or Update, the server may have
// rotated the registration access token or the secret.
func (e *Error) Uncertain() bool { return e.Sent && e.StatusCode == 0 }

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e, true
	}
	return nil, false
}

// IsKind reports whether err's chain holds an *Error of kind k.
func IsKind(err error, k Kind) bool {
	e, ok := AsError(err)
	return ok && e.Kind == k
}

// kindForStatus maps an HTTP status to a Kind; 503 is refined by the caller
// when Retry-After is present.
func kindForStatus(status int) Kind {
	switch {
	case status == 400, status == 409, status == 413, status == 422:
		return KindInvalidMetadata
	case status == 401:
		return KindUnauthorized
	case status == 403:
		return KindForbidden
	case status == 404, status == 410:
		return KindGone
	case status == 429:
		return KindRateLimited
	case status == 408, status >= 500:
		return KindTransient
	default:
		return KindProtocol
	}
}

// parseRetryAfter parses a Retry-After value (RFC 9110 §10.2.3: delay-seconds
// or HTTP-date) relative to now, clamped to [1s, MaxRetryAfter]. ok is false
// when the value is absent or unparsable.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return clampRetry(time.Duration(n) * time.Second), true
	} else if allDigits(v) {
		// Overflowing delta-seconds: a very long delay.
		return MaxRetryAfter, true
	}
	t, err := http.ParseTime(v) // IMF-fixdate, RFC 850 or asctime
	if err != nil {
		return 0, false
	}
	return clampRetry(t.Sub(now)), true
}

func clampRetry(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Second
	}
	if d > MaxRetryAfter {
		return MaxRetryAfter
	}
	return d
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// sanitize makes server-supplied text safe for Error(): every secret is
// replaced by "[REDACTED]", invalid UTF-8 is replaced, control and format
// characters become spaces, runs of white space collapse, and the result is
// cut to limit characters (the last one an ellipsis when cut).
func sanitize(s string, limit int, secrets []string) string {
	s = redact(s, secrets)
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if utf8.RuneCountInString(out) <= limit {
		return out
	}
	runes := []rune(out)
	return string(runes[:limit-1]) + "…"
}

// redact replaces every non-empty secret in s by "[REDACTED]".
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}
