package endpoint

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// maxTokenLength bounds a presented Bearer token. Stateless registration
// access tokens are JWTs of a few hundred bytes; nothing longer is accepted.
const maxTokenLength = 4096

// tokenBytes is the entropy of an opaque registration access token: 256 bits
// (RFC 6749 §10.10, MGT-19, SEC-12).
const tokenBytes = 32

// bearerToken returns the RFC 6750 §2.1 Bearer token of r. present is false
// when there is no Authorization header or it uses another scheme (then the
// answer is a bare challenge, RFC 6750 §3.1). A malformed Bearer credential
// is an invalid token; several Authorization headers are a malformed request.
func bearerToken(r *http.Request) (token string, present bool, err *Error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Bearer: true,
			Description: "more than one Authorization header"}
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, nil
	}
	tok := strings.Trim(rest, " ")
	if tok == "" || len(tok) > maxTokenLength || !isB64Token(tok) {
		return "", true, invalidToken()
	}
	return tok, true, nil
}

// requiredBearer is bearerToken for a request that must carry a token: a
// missing one is the bare challenge of missingToken.
func requiredBearer(r *http.Request) (string, *Error) {
	tok, present, e := bearerToken(r)
	if e != nil {
		return "", e
	}
	if !present {
		return "", missingToken()
	}
	return tok, nil
}

// isB64Token reports whether s matches RFC 6750 §2.1 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/':
		default:
			return false
		}
	}
	return true
}

// hashToken is the SHA-256 under which tokens are stored and compared.
func hashToken(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }

// hashMatches compares two token hashes in constant time. The all-zero hash
// (a store that lost it) never matches.
func hashMatches(a, b [32]byte) bool {
	var zero [32]byte
	eq := subtle.ConstantTimeCompare(a[:], b[:])
	isZero := subtle.ConstantTimeCompare(b[:], zero[:])
	return eq == 1 && isZero == 0
}

// newOpaqueToken returns 256 random bits, base64url without padding (43
// characters).
func newOpaqueToken() (string, error) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating a token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// CheckInitialAccessToken authorizes a registration request (RFC 7591 §3,
// REG-36): on an open server always; otherwise the request must carry
// "Authorization: Bearer <token>" whose SHA-256 equals one of
// srv.InitialAccessTokenHashes (compared in constant time, every hash
// examined). It returns nil or an *Error: 401 with a bare Bearer challenge
// for a missing token, 401 invalid_token for a wrong one. It is exported for
// the legacy registration handler.
func CheckInitialAccessToken(srv *Server, r *http.Request) error {
	if srv.Open {
		return nil
	}
	tok, e := requiredBearer(r)
	if e != nil {
		return e
	}
	sum := hashToken(tok)
	found := 0
	for _, h := range srv.InitialAccessTokenHashes {
		if hashMatches(sum, h) {
			found = 1
		}
	}
	if found != 1 {
		return invalidToken()
	}
	return nil
}
