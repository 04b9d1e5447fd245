package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Decode parses a registration request body strictly.
//
// The body must be exactly one JSON object (REG-01, REG-02); duplicate member
// names and data after the object are rejected. Known members must have their
// RFC 7591 / OIDC JSON types (REG-06): a type error becomes a FieldError with
// code invalid_redirect_uri for redirect_uris and invalid_client_metadata
// otherwise, never a panic. Member names are case-sensitive (REG-05). JSON null
// counts as an absent member. An empty array counts as absent, except for
// response_types where [] is kept as a non-nil empty slice (REG-19).
//
// Language-tagged human-readable members ("client_name#en") go to Localized
// (REG-28); their tags are checked by Validate. A tag on any other member
// ("redirect_uris#en") makes it an unknown member (REG-31). Unknown members are
// kept in Extra, compacted, when keepUnknown is true and dropped otherwise
// (REG-04). Every string, member names included and at any depth, must be
// valid Unicode (ValidJSONText): an unpaired surrogate escape or an invalid
// UTF-8 byte, which encoding/json would silently replace with U+FFFD, is
// refused under the member that holds it. client_id, client_secret, client_id_issued_at,
// client_secret_expires_at, registration_access_token and
// registration_client_uri are always dropped (REG-38).
//
// On error the result is nil and the error is an ErrorList holding every
// problem found before the first JSON syntax error, sorted like Validate's.
func Decode(data []byte, keepUnknown bool) (*Metadata, error) {
	var errs ErrorList
	bodyErr := func(detail string) (*Metadata, error) {
		errs = append(errs, &FieldError{Index: -1, Code: CodeInvalidClientMetadata, Detail: detail})
		errs.sortByPrecedence()
		return nil, errs
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return bodyErr("request body is empty; it must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return bodyErr("request body is not valid JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		// REG-02: JSON, but not an object.
		return bodyErr("request body must be a JSON object")
	}

	m := &Metadata{}
	refs := map[string]memberRef{}
	for _, r := range m.members() {
		refs[r.name] = r
	}
	seen := map[string]bool{}
	for dec.More() {
		nameStart := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return bodyErr("request body is not valid JSON")
		}
		name, ok := tok.(string)
		if !ok {
			return bodyErr("request body is not valid JSON")
		}
		nameEnd := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bodyErr("request body is not valid JSON")
		}
		raw = bytes.TrimSpace(raw)
		if !ValidJSONText(data[nameStart:nameEnd]) {
			// The name as decoded is not the name as sent; never show it.
			errs = append(errs, &FieldError{Index: -1, Code: CodeInvalidClientMetadata, Detail: "a member name " + invalidUnicodeDetail})
			continue
		}
		if fe := UnicodeError(name, raw); fe != nil {
			errs = append(errs, fe)
			continue
		}
		if seen[name] {
			errs = append(errs, &FieldError{Member: name, Index: -1, Code: codeFor(name),
				Detail: "duplicate member name"})
			continue
		}
		seen[name] = true

		switch {
		case ignoredMembers[name]:
			// REG-38: the client never chooses its credentials or identifier.
		case knownMembers[name]:
			if fe := decodeMember(refs[name], raw); fe != nil {
				errs = append(errs, fe)
			}
		case isLocalizedName(name):
			// REG-28: stored verbatim, key and value.
			if isNull(raw) {
				continue
			}
			var s string
			if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
				errs = append(errs, typeError(name, -1, "must be a string"))
				continue
			}
			if m.Localized == nil {
				m.Localized = map[string]string{}
			}
			m.Localized[name] = s
		default:
			// REG-04 / REG-31: unknown members are ignored, or passed through.
			if !keepUnknown {
				continue
			}
			c, err := compactJSON(raw)
			if err != nil {
				return bodyErr("request body is not valid JSON")
			}
			if m.Extra == nil {
				m.Extra = map[string]json.RawMessage{}
			}
			m.Extra[name] = c
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return bodyErr("request body is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bodyErr("request body must contain exactly one JSON object")
	}
	if len(errs) > 0 {
		errs.sortByPrecedence()
		return nil, errs
	}
	return m, nil
}

func isNull(raw []byte) bool { return string(raw) == "null" }

// typeError is a REG-06 JSON type violation.
func typeError(member string, index int, detail string) *FieldError {
	return &FieldError{Member: member, Index: index, Code: codeFor(member), Detail: detail}
}

// decodeMember stores raw into the field r is bound to, checking its JSON type
// (REG-06).
func decodeMember(r memberRef, raw json.RawMessage) *FieldError {
	if isNull(raw) {
		return nil
	}
	switch r.kind {
	case kindString:
		if raw[0] != '"' || json.Unmarshal(raw, r.str) != nil {
			return typeError(r.name, -1, "must be a string")
		}
	case kindStrings:
		var elems []json.RawMessage
		if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
			return typeError(r.name, -1, "must be an array of strings")
		}
		out := make([]string, len(elems))
		for i, e := range elems {
			e = bytes.TrimSpace(e)
			if len(e) == 0 || e[0] != '"' || json.Unmarshal(e, &out[i]) != nil {
				return typeError(r.name, i, "must be a string")
			}
		}
		if len(out) == 0 && r.name != mResponseTypes {
			out = nil // [] is the same as absent, except for response_types (REG-19)
		}
		*r.strs = out
	case kindBool:
		var v bool
		switch string(raw) {
		case "true":
			v = true
		case "false":
		default:
			return typeError(r.name, -1, "must be a boolean")
		}
		*r.b = &v
	case kindInt:
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return typeError(r.name, -1, "must be a number")
		}
		v, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return typeError(r.name, -1, "must be an integer number of seconds")
		}
		*r.i = &v
	case kindObject:
		if raw[0] != '{' {
			return typeError(r.name, -1, "must be a JSON object")
		}
		c, err := compactJSON(raw)
		if err != nil {
			return typeError(r.name, -1, "must be a JSON object")
		}
		*r.raw = c
	}
	return nil
}

// invalidUnicodeDetail is the detail of a string that is not valid Unicode.
const invalidUnicodeDetail = "must be valid Unicode: no unpaired surrogate escapes, no invalid UTF-8"

// UnicodeError returns nil when every string in raw, the JSON value of member
// name, is valid Unicode (ValidJSONText), and otherwise the error Decode
// reports for it: invalid_client_metadata (invalid_redirect_uri for
// redirect_uris) at the first such element of an array, else at the member,
// with a fixed detail and no Value.
func UnicodeError(name string, raw json.RawMessage) *FieldError {
	if ValidJSONText(raw) {
		return nil
	}
	index := -1
	var elems []json.RawMessage
	if len(raw) > 0 && raw[0] == '[' && json.Unmarshal(raw, &elems) == nil {
		for i, e := range elems {
			if !ValidJSONText(e) {
				index = i
				break
			}
		}
	}
	return &FieldError{Member: name, Index: index, Code: codeFor(name), Detail: invalidUnicodeDetail}
}

// ValidJSONText reports whether every string in the JSON text data (member
// names and values, at any depth) is valid Unicode: data is valid UTF-8, and
// every \u escape of a UTF-16 surrogate is a high surrogate immediately
// followed by an escaped low surrogate (RFC 8259 §8.2). encoding/json
// replaces an invalid byte or an unpaired surrogate with U+FFFD, so what it
// decodes would differ from what was sent. It returns false for a malformed
// \u escape as well; other JSON syntax is not checked.
func ValidJSONText(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\':
			i++
			if i >= len(data) || data[i] != 'u' {
				continue
			}
			r, ok := hex4(data[i+1:])
			if !ok {
				return false
			}
			i += 4
			switch {
			case utf16.IsSurrogate(r) && r < 0xdc00: // high: a low escape must follow
				if i+6 >= len(data) || data[i+1] != '\\' || data[i+2] != 'u' {
					return false
				}
				lo, ok := hex4(data[i+3:])
				if !ok || utf16.DecodeRune(r, lo) == utf8.RuneError {
					return false
				}
				i += 6
			case utf16.IsSurrogate(r): // a low surrogate on its own
				return false
			}
		}
	}
	return true
}

// hex4 decodes the four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
