package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/clientreg/clientreg/registrar/metadata"
)

// Error codes used besides the RFC 7591 ones of package metadata.
const (
	// CodeInvalidRequest: malformed request (wrong method or media type, ...).
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidToken: RFC 6750 §3.1, a bad initial or registration access token.
	CodeInvalidToken = "invalid_token"
	// CodeAccessDenied: the registration quota (Policy.MaxClients) is exhausted.
	CodeAccessDenied = "access_denied"
	// CodeTemporarilyUnavailable: the store or the keys are not ready (503).
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	// CodeServerError: an unexpected failure (500); details are only logged.
	CodeServerError = "server_error"
	// CodeNotFound: no endpoint at this path (404).
	CodeNotFound = "not_found"
)

// retryAfterSeconds is the Retry-After of 503 answers.
const retryAfterSeconds = 5

// Error is an error answer of the endpoint: an HTTP status and a JSON body
// {"error": Code, "error_description": Description}. Description is fixed
// ASCII text (ERR-03) and never contains secrets or client input.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the "error" member.
	Code string
	// Description is the "error_description" member; may be empty.
	Description string
	// Bearer adds a WWW-Authenticate: Bearer challenge (RFC 6750 §3). The
	// challenge carries error=Code unless Code is "" or BearerNoError is set
	// (a request without a token, RFC 6750 §3.1).
	Bearer bool
	// BearerNoError leaves the error attribute out of the challenge.
	BearerNoError bool
	// Allow is the Allow header of a 405 answer.
	Allow string
	// RetryAfter, when positive, is the Retry-After header in seconds (429
	// answers); 503 answers always carry one.
	RetryAfter int

	cause error // logged, never sent
}

// Error returns "code: description".
func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.cause }

func newError(status int, code, desc string) *Error {
	return &Error{Status: status, Code: code, Description: desc}
}

func badRequest(code metadata.ErrorCode, desc string) *Error {
	return newError(http.StatusBadRequest, string(code), desc)
}

// invalidToken is the one answer to every registration or initial access
// token problem: unknown handle, wrong token, another client's token,
// rotated-away token (MGT-06, MGT-07, MGT-08).
func invalidToken() *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Bearer: true,
		Description: "the access token is invalid"}
}

// missingToken answers a request without a Bearer token: 401 with a bare
// challenge (RFC 6750 §3.1). The body says invalid_request ("missing a
// required parameter"), which the challenge omits as RFC 6750 asks.
func missingToken() *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidRequest, Bearer: true, BearerNoError: true,
		Description: "a Bearer access token is required"}
}

func methodNotAllowed(allow, desc string) *Error {
	return &Error{Status: http.StatusMethodNotAllowed, Code: CodeInvalidRequest, Allow: allow, Description: desc}
}

func unavailable(cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable,
		Description: "the registration service is temporarily unavailable, retry later", cause: cause}
}

func serverError(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeServerError,
		Description: "internal error", cause: cause}
}

func notFound() *Error {
	return newError(http.StatusNotFound, CodeNotFound, "no such endpoint")
}

// asError maps any error to the answer it gets. *Error stays as it is; a
// metadata.ErrorList becomes 400 with its code (ERR-01, ERR-02); ErrNotFound
// 401 invalid_token (MGT-07); ErrUnavailable and context expiry 503;
// ErrNoServer 404; everything else 500 with a generic description.
func asError(err error) *Error {
	var e *Error
	var list metadata.ErrorList
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	case errors.As(err, &list) && len(list) > 0:
		return badRequest(list.Code(), list.Description())
	case errors.Is(err, ErrNotFound):
		return invalidToken()
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return unavailable(err)
	case errors.Is(err, ErrNoServer):
		return notFound()
	}
	return serverError(err)
}

// setNoStore marks a response as not cacheable (RSP-11, ERR-07).
func setNoStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// WriteError writes err as a JSON error answer (see asError for the
// mapping), with Cache-Control: no-store. It is exported for the legacy
// registration handler.
func WriteError(w http.ResponseWriter, err error) {
	e := asError(err)
	if e == nil {
		e = serverError(errors.New("WriteError called with nil"))
	}
	h := w.Header()
	setNoStore(h)
	if e.Bearer {
		challenge := "Bearer"
		if e.Code != "" && !e.BearerNoError {
			challenge += ` error="` + e.Code + `"`
			if e.Description != "" {
				challenge += `, error_description="` + asciiOnly(e.Description) + `"`
			}
		}
		h.Set("WWW-Authenticate", challenge)
	}
	if e.Allow != "" {
		h.Set("Allow", e.Allow)
	}
	switch {
	case e.RetryAfter > 0:
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	case e.Status == http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	body := struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, asciiOnly(e.Description)}
	b, _ := json.Marshal(body) // two strings: cannot fail
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

// asciiOnly keeps only the RFC 6749 §5.2 error_description characters.
func asciiOnly(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b = append(b, c)
		}
	}
	return string(b)
}
