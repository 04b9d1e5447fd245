package stateless

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// A small validating JSON scanner for the two hot paths: reading the claims
// of a client id (Verify) and checking the reg object (Mint). It accepts
// exactly RFC 8259 JSON in UTF-8 (unlike encoding/json, it rejects invalid
// UTF-8 rather than replacing it) and
// avoids the double scan and reflection of encoding/json. FuzzClaims checks
// it against encoding/json.

const maxJSONDepth = 128

var errJSON = errors.New("invalid JSON")

type jscan struct {
	b      []byte
	i      int
	sawWS  bool // whitespace was skipped somewhere (the input is not compact)
	escape bool // the last string scanned had an escape sequence
}

func (s *jscan) ws() {
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
			continue
		}
		break
	}
	if s.i != start {
		s.sawWS = true
	}
}

// str scans a string starting at s.i (which must be '"') and returns the
// bounds of its contents (without quotes).
func (s *jscan) str() (int, int, error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return 0, 0, errJSON
	}
	s.i++
	start := s.i
	s.escape = false
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			end := s.i
			s.i++
			return start, end, nil
		case c == '\\':
			s.escape = true
			s.i++
			if s.i >= len(s.b) {
				return 0, 0, errJSON
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+4 >= len(s.b) {
					return 0, 0, errJSON
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return 0, 0, errJSON
					}
				}
				s.i += 5
			default:
				return 0, 0, errJSON
			}
		case c < 0x20:
			return 0, 0, errJSON
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size == 1 {
				return 0, 0, errJSON // invalid UTF-8 (RFC 8259 §8.1)
			}
			s.i += size
		default:
			s.i++
		}
	}
	return 0, 0, errJSON
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jscan) number() error {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return errJSON
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return errJSON
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return errJSON
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	s.i = i
	return nil
}

func (s *jscan) literal(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return errJSON
	}
	s.i += len(word)
	return nil
}

// value skips (and validates) one value starting at s.i.
func (s *jscan) value(depth int) error {
	if s.i >= len(s.b) {
		return errJSON
	}
	switch c := s.b[s.i]; {
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return errJSON
		}
		closer := byte(']')
		if c == '{' {
			closer = '}'
		}
		if s.open(closer) {
			return nil
		}
		for {
			if c == '{' {
				if _, _, err := s.str(); err != nil {
					return err
				}
				if err := s.colon(); err != nil {
					return err
				}
			}
			if err := s.value(depth + 1); err != nil {
				return err
			}
			if done, err := s.next(closer); done || err != nil {
				return err
			}
		}
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || isDigit(c):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return errJSON
}

// members iterates over the members of the top-level object in b, calling
// fn with each member name (unescaped) and the scanner positioned at its
// value; fn must consume the value (s.value, s.str, ...). It checks that
// nothing but whitespace follows the object.
func (s *jscan) members(fn func(name string) error) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return errJSON
	}
	if !s.open('}') {
		for {
			start, end, err := s.str()
			if err != nil {
				return err
			}
			name := string(s.b[start:end])
			if s.escape {
				if name, err = unquote(s.b[start-1 : end+1]); err != nil {
					return err
				}
			}
			if err := s.colon(); err != nil {
				return err
			}
			if err := fn(name); err != nil {
				return err
			}
			done, err := s.next('}')
			if err != nil {
				return err
			}
			if done {
				break
			}
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return errJSON
	}
	return nil
}

// open steps over the opening bracket at s.i and reports whether closer
// follows at once (an empty object or array), stepping over it too.
func (s *jscan) open(closer byte) bool {
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == closer {
		s.i++
		return true
	}
	return false
}

// colon steps over the ':' after a member name and the whitespace around it.
func (s *jscan) colon() error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return errJSON
	}
	s.i++
	s.ws()
	return nil
}

// next steps over what follows an element of an object or array: a ','
// (more elements follow) or closer (done).
func (s *jscan) next(closer byte) (done bool, err error) {
	s.ws()
	if s.i >= len(s.b) {
		return false, errJSON
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		s.ws()
		return false, nil
	case closer:
		s.i++
		return true, nil
	}
	return false, errJSON
}

// stringValue scans a string value and returns it unescaped.
func (s *jscan) stringValue() (string, error) {
	start, end, err := s.str()
	if err != nil {
		return "", err
	}
	if !s.escape {
		return string(s.b[start:end]), nil
	}
	return unquote(s.b[start-1 : end+1])
}

func unquote(quoted []byte) (string, error) {
	var v string
	if err := json.Unmarshal(quoted, &v); err != nil {
		return "", errJSON
	}
	return v, nil
}

// Claim bits for duplicate detection.
const (
	claimIss = 1 << iota
	claimSub
	claimAud
	claimIat
	claimExp
	claimNbf
	claimReg
	claimCnf
	claimSecret
)

func claimBit(name string) int {
	switch name {
	case "iss":
		return claimIss
	case "sub":
		return claimSub
	case "aud":
		return claimAud
	case "iat":
		return claimIat
	case "exp":
		return claimExp
	case "nbf":
		return claimNbf
	case "reg":
		return claimReg
	case "cnf":
		return claimCnf
	case "client_secret":
		return claimSecret
	}
	return 0
}

// parseClaims reads the claims of a client id. Known claims must have the
// right JSON type (iss, sub, client_secret: string; iat, exp, nbf: number)
// and appear at most once (RFC 7519 §4); other members are skipped. Raw
// values (aud, reg, cnf) alias b.
func parseClaims(b []byte, cl *claimSet) error {
	s := jscan{b: b}
	seen := 0
	return s.members(func(name string) error {
		bit := claimBit(name)
		if bit == 0 {
			return s.value(1)
		}
		if seen&bit != 0 {
			return errJSON // duplicate claim
		}
		seen |= bit
		var err error
		start := s.i
		switch bit {
		case claimIss:
			cl.Iss, err = s.stringValue()
		case claimSub:
			cl.Sub, err = s.stringValue()
		case claimSecret:
			var v string
			if v, err = s.stringValue(); err == nil {
				cl.ClientSecret = &v
			}
		case claimIat, claimExp, claimNbf:
			if err = s.number(); err == nil {
				n := json.Number(b[start:s.i])
				switch bit {
				case claimIat:
					cl.Iat = n
				case claimExp:
					cl.Exp = n
				default:
					cl.Nbf = n
				}
			}
		default: // aud, reg, cnf: raw
			if err = s.value(1); err == nil {
				raw := json.RawMessage(b[start:s.i:s.i])
				switch bit {
				case claimAud:
					cl.Aud = raw
				case claimReg:
					cl.Reg = raw
				default:
					cl.Cnf = raw
				}
			}
		}
		return err
	})
}

// scanObject validates that b is exactly one JSON object (surrounding
// whitespace allowed), and reports whether it is compact (no whitespace
// outside strings) and whether any top-level member name satisfies match.
func scanObject(b []byte, match func(name string) bool) (compact, matched bool, err error) {
	s := jscan{b: b}
	err = s.members(func(name string) error {
		if match(name) {
			matched = true
		}
		return s.value(1)
	})
	return !s.sawWS, matched, err
}
