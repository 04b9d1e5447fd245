package cimd

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ValidateBaseURL checks a base URL under which documents are published: an
// absolute https URL with a host name (authorization servers refuse IP
// literals, and any host resolving to a private address), an optional port
// and path, and no user info, query or fragment. Client ids are the base URL
// followed by "/<namespace>/<name>", so a base URL that passes yields client
// ids that pass ValidateClientIDURL.
func ValidateBaseURL(raw string) error {
	u, err := parseHTTPS(raw)
	if err != nil {
		return err
	}
	if u.RawQuery != "" || u.ForceQuery {
		return errors.New("must not have a query: client ids are the base URL followed by a path")
	}
	return nil
}

// ValidateClientIDURL checks a client id URL by the draft's rules: https, a
// host name (not an IP literal), a path component, no single- or double-dot
// path segments, no fragment, no user info. A query is allowed by the draft
// (it says SHOULD NOT); this operator never makes one.
func ValidateClientIDURL(raw string) error {
	u, err := parseHTTPS(raw)
	if err != nil {
		return err
	}
	if u.EscapedPath() == "" || u.EscapedPath() == "/" {
		return errors.New("must have a path component")
	}
	return nil
}

// parseHTTPS applies the rules base URLs and client ids share.
func parseHTTPS(raw string) (*url.URL, error) {
	for _, r := range raw {
		if r <= 0x20 || r == 0x7f || r == '\\' {
			return nil, errors.New("must not contain spaces, control characters or backslashes")
		}
	}
	if strings.Contains(raw, "#") {
		return nil, errors.New("must not have a fragment")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("is not a URL: %w", err)
	}
	switch {
	case u.Scheme != "https":
		return nil, errors.New("must use the https scheme")
	case u.Opaque != "" || u.Host == "":
		return nil, errors.New("must be an absolute URL with a host")
	case u.User != nil:
		return nil, errors.New("must not have user info")
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("must have a host name")
	}
	if net.ParseIP(host) != nil || strings.HasPrefix(u.Host, "[") {
		return nil, errors.New("must use a host name, not an IP address: authorization servers refuse IP literals")
	}
	if host != strings.ToLower(host) {
		return nil, errors.New("must use a lower-case host name (client ids are compared as strings)")
	}
	if p := u.Port(); p != "" && p == "443" {
		return nil, errors.New("must not name the default port 443 (client ids are compared as strings)")
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if s := strings.ReplaceAll(strings.ToLower(seg), "%2e", "."); s == "." || s == ".." {
			return nil, errors.New("must not have dot segments (. or ..) in its path")
		}
	}
	return u, nil
}

// ClientIDURL returns the client id of the client name in namespace under
// base (a base URL that passed ValidateBaseURL).
func ClientIDURL(base, namespace, name string) string {
	return strings.TrimSuffix(base, "/") + "/" + url.PathEscape(namespace) + "/" + url.PathEscape(name)
}

// JWKSURL returns the same-origin jwks_uri published for clientID.
func JWKSURL(clientID string) string { return clientID + "/" + jwksSuffix }

// jwksSuffix is the last path segment of a client's jwks_uri.
const jwksSuffix = "jwks"

// RequestURL returns the public URL a request asked for, as documents are
// indexed: https, the Host header in lower case without the default port,
// the escaped path. Proxies in front of the manager must keep Host and path.
func RequestURL(host, escapedPath string) string {
	host = strings.ToLower(host)
	host = strings.TrimSuffix(host, ":443")
	return "https://" + host + escapedPath
}
