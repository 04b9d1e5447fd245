package metadata

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrorCode is an RFC 7591 §3.2.2 error code.
type ErrorCode string

// The RFC 7591 §3.2.2 registration error codes.
const (
	// CodeInvalidRedirectURI means the value of one or more redirection URIs is invalid.
	CodeInvalidRedirectURI ErrorCode = "invalid_redirect_uri"
	// CodeInvalidClientMetadata means the value of a client metadata field other
	// than redirect_uris is invalid.
	CodeInvalidClientMetadata ErrorCode = "invalid_client_metadata"
	// CodeInvalidSoftwareStatement means the software statement is invalid.
	CodeInvalidSoftwareStatement ErrorCode = "invalid_software_statement"
	// CodeUnapprovedSoftwareStatement means the software statement is not approved
	// for use by this authorization server.
	CodeUnapprovedSoftwareStatement ErrorCode = "unapproved_software_statement"
)

// rank orders codes by precedence for ErrorList.Code; lower wins.
func (c ErrorCode) rank() int {
	switch c {
	case CodeInvalidSoftwareStatement:
		return 0
	case CodeUnapprovedSoftwareStatement:
		return 1
	case CodeInvalidRedirectURI:
		return 2
	case CodeInvalidClientMetadata:
		return 3
	default:
		return 4
	}
}

// FieldError is one violation.
//
// Member is the JSON member name ("redirect_uris", "client_name#ja-Jpan-JP"), or
// "" for a problem with the body as a whole. Index is the list index, or -1.
// Code is the RFC 7591 error code. Detail is a fixed ASCII message that never
// contains client input or secrets. Value is the offending value when it is
// safe to show (for example a URI or a grant type), truncated; it is never a
// secret, a software statement or key material, and it may contain any
// Unicode, so escape it before putting it into HTML or an error_description.
type FieldError struct {
	Member string
	Index  int
	Code   ErrorCode
	Detail string
	Value  string
}

// Path returns the location of the violation, for example "redirect_uris[2]"
// or "jwks"; it is "" for a problem with the body as a whole.
func (e *FieldError) Path() string {
	if e.Index < 0 {
		return e.Member
	}
	return e.Member + "[" + strconv.Itoa(e.Index) + "]"
}

// Error returns "path: detail" (or only the detail when the path is empty). It
// does not include Value.
func (e *FieldError) Error() string {
	if p := e.Path(); p != "" {
		return p + ": " + e.Detail
	}
	return e.Detail
}

// ErrorList collects every violation at once.
type ErrorList []*FieldError

// maxErrorsInMessage bounds ErrorList.Error output.
const maxErrorsInMessage = 10

// Error joins the entries with "; ", listing at most ten.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i == maxErrorsInMessage {
			b.WriteString("; and ")
			b.WriteString(strconv.Itoa(len(l) - i))
			b.WriteString(" more")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Code returns the single RFC 7591 error code for the whole list, by the
// precedence invalid_software_statement > unapproved_software_statement >
// invalid_redirect_uri > invalid_client_metadata: any redirect URI problem makes
// the response invalid_redirect_uri (ERR-02), even when other members are wrong
// too. It returns "" for an empty list.
func (l ErrorList) Code() ErrorCode {
	if p := l.Primary(); p != nil {
		return p.Code
	}
	return ""
}

// Primary returns the first entry whose code equals l.Code(), or nil for an
// empty list. Lists returned by Validate are sorted so that this is l[0].
func (l ErrorList) Primary() *FieldError {
	var best *FieldError
	for _, e := range l {
		if best == nil || e.Code.rank() < best.Code.rank() {
			best = e
		}
	}
	return best
}

// Err returns nil when the list is empty, else the list itself.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Description returns a text for the error_description response member built
// from the primary error: only the characters RFC 6749 §5.2 allows (%x20-21 /
// %x23-5B / %x5D-7E); anything else in a client-chosen member name is replaced
// by '?' (ERR-03).
func (l ErrorList) Description() string {
	p := l.Primary()
	if p == nil {
		return ""
	}
	msg := p.Error()
	if n := len(l) - 1; n > 0 {
		msg += " (and " + strconv.Itoa(n) + " more)"
	}
	return asciiSafe(msg)
}

// sortByPrecedence stably orders l so that the highest-precedence code comes first.
func (l ErrorList) sortByPrecedence() {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Code.rank() < l[j].Code.rank() })
}

// asciiSafe maps s onto the RFC 6749 §5.2 error_description character set.
func asciiSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// maxValueBytes bounds FieldError.Value.
const maxValueBytes = 256

// shown truncates a client value for FieldError.Value at a rune boundary.
func shown(s string) string {
	s = RedactUserinfo(s)
	if len(s) <= maxValueBytes {
		return s
	}
	cut := maxValueBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// codeFor returns the error code for problems with member.
func codeFor(member string) ErrorCode {
	if member == mRedirectURIs {
		return CodeInvalidRedirectURI
	}
	return CodeInvalidClientMetadata
}

// RedactUserinfo replaces the user information of a hierarchical URI
// ("https://user:password@host/...") with "REDACTED", so an error that
// repeats a rejected value never repeats a credential written into it. Text
// that is not such a URI is returned unchanged. Every error of the project
// that shows a URL shows it through this function.
func RedactUserinfo(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return s
	}
	return s[:i+3] + "REDACTED@" + rest[at+1:]
}
