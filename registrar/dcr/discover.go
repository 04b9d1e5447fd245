package dcr

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// Well-known paths of the two metadata documents.
const (
	oidcWellKnown    = "/.well-known/openid-configuration"       // OIDC Discovery §4
	rfc8414WellKnown = "/.well-known/oauth-authorization-server" // RFC 8414 §3
)

// Discover fetches <issuer>/.well-known/openid-configuration, then the RFC
// 8414 path (/.well-known/oauth-authorization-server inserted before the
// issuer's path, RFC 8414 §3.1). The document's issuer must equal issuer
// exactly (RFC 8414 §3.3, OIDC Discovery §4.3): no normalization of case or
// trailing slash. issuer must be an https URL (see Config.AllowInsecureHTTP)
// without query or fragment. The fallback and error rules are in the package
// documentation. Redirects are not followed.
func (c *Client) Discover(ctx context.Context, issuer string) (*ServerMetadata, error) {
	u, err := c.checkURL(opDiscover, issuer, "issuer")
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(issuer, "#") {
		return nil, (&call{op: opDiscover, url: u}).newError(KindInvalidArgument, "issuer must not have a query or fragment (RFC 8414 §2)")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	first, err := c.fetchMetadata(ctx, issuer, strings.TrimSuffix(issuer, "/")+oidcWellKnown)
	if err == nil {
		return first, nil
	}
	if ctx.Err() != nil || IsKind(err, KindTransient) || IsKind(err, KindRateLimited) {
		return nil, err
	}
	second, err2 := c.fetchMetadata(ctx, issuer, rfc8414URL(u))
	if err2 == nil {
		return second, nil
	}
	if IsKind(err, KindGone) {
		return nil, err2
	}
	return nil, err
}

// rfc8414URL inserts the RFC 8414 well-known segment between the issuer's
// host and path, dropping a terminating "/" (RFC 8414 §3.1).
func rfc8414URL(issuer *url.URL) string {
	return issuer.Scheme + "://" + issuer.Host + rfc8414WellKnown + strings.TrimSuffix(issuer.EscapedPath(), "/")
}

// fetchMetadata GETs one metadata document and checks its issuer.
func (c *Client) fetchMetadata(ctx context.Context, issuer, docURL string) (*ServerMetadata, error) {
	u, err := url.Parse(docURL)
	if err != nil {
		return nil, (&call{op: opDiscover}).newError(KindInvalidArgument, "cannot build the metadata URL")
	}
	cl := &call{op: opDiscover, method: http.MethodGet, url: u, ok: []int{http.StatusOK}}
	resp, err := c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	protocolErr := func(desc string) error {
		e := cl.newError(KindProtocol, desc)
		e.StatusCode, e.Sent = resp.status, true
		return e
	}
	trimmed := bytes.TrimSpace(resp.body)
	var members map[string]json.RawMessage
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &members) != nil {
		return nil, protocolErr("metadata document is not a JSON object")
	}
	md := &ServerMetadata{Raw: json.RawMessage(bytes.Clone(resp.body))}
	if isAbsent(members["issuer"]) {
		return nil, protocolErr("metadata document has no issuer")
	}
	if !optionalString(members["issuer"], &md.Issuer) {
		return nil, protocolErr("metadata issuer is not a string")
	}
	if md.Issuer != issuer {
		return nil, protocolErr("issuer mismatch: the document names " + quoteShort(md.Issuer) + ", expected " + quoteShort(issuer))
	}
	if !optionalString(members["registration_endpoint"], &md.RegistrationEndpoint) {
		return nil, protocolErr("registration_endpoint is not a string")
	}
	if !optionalString(members["token_endpoint"], &md.TokenEndpoint) {
		return nil, protocolErr("token_endpoint is not a string")
	}
	if !optionalString(members["authorization_endpoint"], &md.AuthorizationEndpoint) {
		return nil, protocolErr("authorization_endpoint is not a string")
	}
	// The endpoints are published further (in status and in the embedded
	// endpoint's discovery documents): one that is not a URL the client
	// itself would call (absolute, https, a host, no userinfo, no fragment)
	// is left out rather than passed on.
	for _, ep := range []*string{&md.TokenEndpoint, &md.AuthorizationEndpoint} {
		if u, err := c.checkURL(opDiscover, *ep, "endpoint"); *ep != "" && (err != nil || u.Fragment != "" || strings.Contains(*ep, "#")) {
			*ep = ""
		}
	}
	return md, nil
}

// quoteShort quotes s, cut to 80 bytes, for a description.
func quoteShort(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return `"` + s + `"`
}
