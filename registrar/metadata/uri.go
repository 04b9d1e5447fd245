package metadata

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// uriRule selects the checks checkURI applies on top of the common ones
// (non-empty, length, no whitespace or control characters, parseable, absolute,
// no forbidden scheme, no wildcard host, valid port, host and no user
// information for http(s)).
type uriRule struct {
	httpsOnly          bool // only https
	httpAnyHost        bool // http allowed for any host (web pages, REG-24)
	httpLoopback       bool // http allowed for loopback hosts (REG-09)
	privateUseScheme   bool // reverse-domain private-use schemes allowed (REG-10)
	allowFragment      bool // a fragment is allowed (request_uris, web pages)
	strictASCII        bool // only RFC 3986 characters (exact-match URIs)
	noLoopbackHost     bool // https host must not be localhost or loopback (REG-12)
	noPrivateTarget    bool // the server fetches it: no local or private hosts (SEC-13)
	allowPrivateTarget bool // Policy.AllowPrivateFetchTargets
	allowLocalhostName bool // Policy.AllowLocalhostName
}

// forbiddenSchemes can run script or reach local resources in a user agent
// (REG-09, REG-24).
var forbiddenSchemes = map[string]bool{
	"javascript": true, "vbscript": true, "data": true, "file": true,
	"about": true, "blob": true, "filesystem": true, "view-source": true,
}

// ValidateRedirectURI checks one redirect URI (REG-08 to REG-12, REG-45) and
// returns nil or a FieldError with Member "redirect_uris", Index -1 and code
// invalid_redirect_uri; Validate sets the index. It is exported so that the
// webhook and CEL-equivalent rules agree with Validate.
//
// The URI is checked as a raw string and never re-serialized (REG-11). It must
// be an absolute RFC 3986 URI of at most Policy.MaxStringLength bytes, with only
// ASCII URI characters, no fragment (REG-08) and no '*' in the host (REG-11),
// and one of (REG-09, REG-10):
//   - https with a host and no user information;
//   - http with a loopback host: an IPv4 127.0.0.0/8 or [::1] literal, or
//     "localhost" when Policy.AllowLocalhostName is set;
//   - a private-use scheme in reverse domain name form (it contains a '.').
//
// javascript:, data:, vbscript:, file:, about:, blob: and similar schemes are
// always rejected. With Policy.OIDC (REG-12): a web client (applicationType
// "web" or "") using the implicit grant (implicit = true) may use only https,
// with neither localhost nor a loopback address; a native client may use
// private-use schemes, http loopback, and also claimed https URIs (RFC 8252
// §7.2; docs/requirements.md B.6 decision: allowed). Without OIDC,
// applicationType and implicit are ignored.
func ValidateRedirectURI(raw string, applicationType string, implicit bool, p Policy) *FieldError {
	r := uriRule{
		strictASCII:        true,
		httpLoopback:       true,
		privateUseScheme:   true,
		allowLocalhostName: p.AllowLocalhostName,
	}
	if p.OIDC && implicit && (applicationType == "" || applicationType == ApplicationTypeWeb) {
		// REG-12: web clients using implicit: https only, never localhost.
		r.httpsOnly, r.httpLoopback, r.privateUseScheme, r.noLoopbackHost = true, false, false, true
	}
	// REG-12 native: custom schemes, http loopback and (RFC 8252 §7.2) claimed
	// https are exactly the base rules, so nothing changes for native.
	if detail := checkURI(raw, r, p.limits().str); detail != "" {
		return &FieldError{Member: mRedirectURIs, Index: -1, Code: CodeInvalidRedirectURI,
			Detail: detail, Value: shown(raw)}
	}
	return nil
}

// checkURI returns "" when raw satisfies r, else a fixed ASCII detail.
func checkURI(raw string, r uriRule, maxLen int) string {
	if raw == "" {
		return "must not be empty"
	}
	if len(raw) > maxLen {
		return "is too long" // REG-45
	}
	if !utf8.ValidString(raw) {
		return "must be valid UTF-8"
	}
	for _, c := range raw {
		if unicode.IsSpace(c) || unicode.IsControl(c) {
			return "must not contain whitespace or control characters"
		}
	}
	if r.strictASCII {
		for i := 0; i < len(raw); i++ {
			if !isURIChar(raw[i]) {
				return "must contain only ASCII characters allowed in an RFC 3986 URI"
			}
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URI"
	}
	if !u.IsAbs() {
		return "must be an absolute URI" // REG-08
	}
	if !r.allowFragment && (u.Fragment != "" || u.RawFragment != "" || strings.Contains(raw, "#")) {
		return "must not contain a fragment" // REG-08
	}
	scheme := u.Scheme // url.Parse lower-cases the scheme
	if forbiddenSchemes[scheme] {
		return "uses a forbidden URI scheme" // REG-09, REG-24
	}
	if strings.Contains(u.Host, "*") {
		return "must not contain a wildcard in the host" // REG-11
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "has an invalid port"
		}
	}
	host := u.Hostname()
	switch scheme {
	case "https", "http":
		if host == "" {
			return "must have a host" // REG-09
		}
		if u.User != nil {
			return "must not contain user information"
		}
		if scheme == "http" {
			switch {
			case r.httpsOnly:
				return "must use https"
			case r.httpAnyHost:
			case r.httpLoopback && isLoopback(host, r.allowLocalhostName):
			case r.httpLoopback:
				return "must use https; http is allowed only for loopback hosts" // REG-09
			default:
				return "must use https"
			}
			break
		}
		if r.noLoopbackHost && isLocalHost(host) {
			return "must not use localhost or a loopback address" // REG-12
		}
		if r.noPrivateTarget && !r.allowPrivateTarget && isPrivateTarget(host) {
			return "must not point to a local or private address" // SEC-13
		}
	default:
		switch {
		case r.httpsOnly:
			return "must use https"
		case r.httpAnyHost:
			return "must use http or https"
		case !r.privateUseScheme:
			return "must use https"
		case !strings.Contains(scheme, "."):
			return "private-use URI scheme must be in reverse domain name form (contain a '.')" // REG-10
		}
	}
	return ""
}

// isURIChar reports whether c may appear in an RFC 3986 URI (unreserved,
// reserved or '%').
func isURIChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0
}

// isLoopback reports whether host (without brackets) is a loopback host for an
// http redirect URI: an IPv4 127.0.0.0/8 or IPv6 ::1 literal (no zone, no
// IPv4-mapped form), or "localhost" when allowName is set (REG-09, REG-13).
func isLoopback(host string, allowName bool) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" || a.Is4In6() {
			return false
		}
		return a.IsLoopback()
	}
	return allowName && strings.EqualFold(host, "localhost")
}

// isLocalHost reports whether host is localhost in any spelling (including
// *.localhost, RFC 6761 §6.3) or any loopback address.
func isLocalHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().IsLoopback()
	}
	return false
}

// cgnat is the RFC 6598 shared address space, not covered by netip.IsPrivate.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// isPrivateTarget reports whether a host the server will fetch from is
// obviously local or private: localhost, a non-global IP literal, or a name
// whose last label is numeric (inet_aton forms such as 2130706433 or 0x7f.1).
// DNS names are not resolved here; the fetcher must check resolved addresses.
func isPrivateTarget(host string) bool {
	if isLocalHost(host) {
		return true
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		return !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() ||
			a.IsLinkLocalUnicast() || cgnat.Contains(a) || a.Zone() != ""
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	last := strings.ToLower(labels[len(labels)-1])
	if strings.HasPrefix(last, "0x") {
		return true
	}
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	return false
}
