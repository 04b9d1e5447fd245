package dcr

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultUserAgent        = "clientreg"
	DefaultMaxResponseBytes = 1 << 20
)

// Config builds a Client. Zero values get defaults.
type Config struct {
	// CABundle is PEM; nil (or empty) = system roots. When set, it replaces
	// the system roots, unless WithSystemRoots.
	CABundle []byte
	// WithSystemRoots trusts the system roots as well as CABundle.
	WithSystemRoots bool
	// Timeout bounds each method call (also http.Client.Timeout); default 30s.
	Timeout time.Duration
	// UserAgent is sent with every request; default "clientreg".
	UserAgent string
	// HTTPClient is an optional override (tests); if set, CABundle is ignored.
	// It is copied: its CheckRedirect is replaced (redirects are never
	// followed) and a zero Timeout is set to Timeout.
	HTTPClient *http.Client
	// MaxResponseBytes caps every response body; default 1 MiB.
	MaxResponseBytes int64
	// AllowInsecureHTTP permits http:// URLs (tests, local interop peers).
	// By default only https is used (RFC 7591 §5, RFC 7592 §5).
	AllowInsecureHTTP bool
}

// Client is the RFC 7591/7592 client for remote authorization servers. It is
// safe for concurrent use and holds one http.Client (one connection pool).
type Client struct {
	hc        *http.Client
	timeout   time.Duration
	userAgent string
	maxBody   int64
	allowHTTP bool
	now       func() time.Time
}

// NewClient builds a Client with one http.Client: TLS 1.2 minimum, the CA
// bundle (or system roots), proxy from the environment, keep-alives, and
// timeouts. It fails on a CA bundle without any certificate or on negative
// limits.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("dcr: negative Timeout %v", cfg.Timeout)
	}
	if cfg.MaxResponseBytes < 0 {
		return nil, fmt.Errorf("dcr: negative MaxResponseBytes %d", cfg.MaxResponseBytes)
	}
	c := &Client{
		timeout:   cfg.Timeout,
		userAgent: cfg.UserAgent,
		maxBody:   cfg.MaxResponseBytes,
		allowHTTP: cfg.AllowInsecureHTTP,
		now:       time.Now,
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.maxBody == 0 {
		c.maxBody = DefaultMaxResponseBytes
	}

	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient
		hc.CheckRedirect = noRedirects
		if hc.Timeout == 0 {
			hc.Timeout = c.timeout
		}
		c.hc = &hc
		return c, nil
	}

	hc, err := newHTTPClient(cfg, c.timeout)
	if err != nil {
		return nil, err
	}
	c.hc = hc
	return c, nil
}

// NewHTTPClient is the http.Client NewClient builds for cfg (cfg.HTTPClient
// aside), for other requests to the same server: TLS 1.2 minimum, the CA
// bundle (or system roots), proxy from the environment, keep-alives,
// timeouts, and redirects never followed.
func NewHTTPClient(cfg Config) (*http.Client, error) {
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("dcr: negative Timeout %v", cfg.Timeout)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return newHTTPClient(cfg, timeout)
}

func newHTTPClient(cfg Config, timeout time.Duration) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(cfg.CABundle) > 0 {
		pool := x509.NewCertPool()
		if cfg.WithSystemRoots {
			if sys, err := x509.SystemCertPool(); err == nil {
				pool = sys
			}
		}
		if !pool.AppendCertsFromPEM(cfg.CABundle) {
			return nil, errors.New("dcr: CABundle holds no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	dialTimeout := min(timeout, 10*time.Second)
	transport := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   dialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   dialTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: noRedirects,
	}, nil
}

// CloseIdleConnections closes the idle connections of the Client's pool; call
// it when a Client is replaced (for example after a CA bundle change).
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// noRedirects makes http.Client return 3xx responses as they are.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Operation names, the Op of an Error.
const (
	opDiscover = "discover"
	opRegister = "register"
	opRead     = "read"
	opUpdate   = "update"
	opDelete   = "delete"
)

// call is one HTTP exchange to make.
type call struct {
	op       string
	method   string
	url      *url.URL
	token    string   // Bearer token; "" for none
	body     []byte   // JSON body; nil for none
	secrets  []string // redacted from anything stored in an Error
	noReplay bool     // forbid net/http from resending the request
	ok       []int    // success statuses
}

// response is a success response, body fully read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// newError returns an *Error for cl with the URL made safe to print.
func (cl *call) newError(kind Kind, description string) *Error {
	e := &Error{Op: cl.op, Kind: kind}
	if cl.url != nil {
		e.URL = safeURL(cl.url)
	}
	e.Description = sanitize(description, maxDescription, cl.secrets)
	return e
}

// safeURL renders u without userinfo, query and fragment.
func safeURL(u *url.URL) string {
	v := *u
	v.User = nil
	v.RawQuery = ""
	v.ForceQuery = false
	v.Fragment = ""
	v.RawFragment = ""
	return v.String()
}

// noReplayBody is a non-nil, empty request body without GetBody: net/http
// sends no body for it (the GET probe sees EOF) and, having no way to rewind
// it, never resends the request on a broken reused connection (see the
// http.Transport documentation on retries).
type noReplayBody struct{}

func (noReplayBody) Read([]byte) (int, error) { return 0, io.EOF }
func (noReplayBody) Close() error             { return nil }

// do performs cl within ctx and c.timeout. It returns the response when its
// status is one of cl.ok and its body was read within the size cap, and an
// *Error otherwise.
func (c *Client) do(ctx context.Context, cl *call) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var sent atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				sent.Store(true)
			}
		},
	})

	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, cl.url.String(), body)
	if err != nil {
		e := cl.newError(KindInvalidArgument, "cannot build the request")
		return nil, e
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.token != "" {
		req.Header.Set("Authorization", "Bearer "+cl.token)
	}
	if cl.noReplay && cl.body == nil {
		req.Body, req.GetBody, req.ContentLength = noReplayBody{}, nil, 0
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		e := cl.newError(KindTransient, transportDescription(ctx, err, sent.Load()))
		e.Sent = sent.Load()
		e.Err = unwrapURLError(err)
		return nil, e
	}
	defer resp.Body.Close()

	data, readErr := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	tooLarge := int64(len(data)) > c.maxBody
	if tooLarge {
		data = nil
	}
	success := false
	for _, s := range cl.ok {
		success = success || resp.StatusCode == s
	}

	switch {
	case success && readErr != nil:
		// The server acted, but its answer (possibly with new credentials)
		// was lost: report it as uncertain, not as a status.
		e := cl.newError(KindTransient, fmt.Sprintf("the server answered HTTP %d but the response body could not be read", resp.StatusCode))
		e.Sent = true
		e.Err = unwrapURLError(readErr)
		return nil, e
	case success && tooLarge:
		e := cl.newError(KindProtocol, fmt.Sprintf("response body larger than %d bytes", c.maxBody))
		e.StatusCode, e.Sent = resp.StatusCode, true
		return nil, e
	case success:
		return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
	}

	e := cl.newError(kindForStatus(resp.StatusCode), "")
	e.StatusCode, e.Sent = resp.StatusCode, true
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if d, ok := parseRetryAfter(ra, c.now()); ok {
			e.RetryAfter = d
			if resp.StatusCode == http.StatusServiceUnavailable {
				e.Kind = KindRateLimited
			}
		}
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		desc := "redirect not followed"
		if loc, err := resp.Location(); err == nil {
			desc = "redirect to " + safeURL(loc) + " not followed"
		}
		e.Description = sanitize(desc, maxDescription, cl.secrets)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		e.Description = sanitize(fmt.Sprintf("unexpected success status %d", resp.StatusCode), maxDescription, cl.secrets)
	case tooLarge:
		e.Description = sanitize(fmt.Sprintf("error response body larger than %d bytes", c.maxBody), maxDescription, cl.secrets)
	case readErr != nil:
		e.Description = "error response body could not be read"
		e.Err = unwrapURLError(readErr)
	default:
		code, desc := parseErrorBody(resp.Header.Get("Content-Type"), data)
		if code == "" && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			if wcode, wdesc := parseBearerChallenge(resp.Header.Values("WWW-Authenticate")); wcode != "" {
				code = wcode
				if desc == "" {
					desc = wdesc
				}
			}
		}
		e.Code = sanitize(code, 64, cl.secrets)
		e.Description = sanitize(desc, maxDescription, cl.secrets)
	}
	return nil, e
}

// transportDescription explains a failed round trip without echoing the URL
// (which *url.Error would).
func transportDescription(ctx context.Context, err error, sent bool) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()):
		return "timed out"
	case sent:
		return "connection lost before a response"
	default:
		return "request not sent"
	}
}

// unwrapURLError drops *url.Error, whose message repeats the full URL (query
// included), and keeps its cause.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// parseErrorBody extracts (error, error_description) from a JSON error body
// (RFC 7591 §3.2.2, other members ignored), or returns the body text as the
// description. It is tried as JSON when the Content-Type is JSON or the body
// starts with "{": servers are not consistent about the header.
func parseErrorBody(contentType string, body []byte) (code, description string) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return "", ""
	}
	mediaType, _, _ := mime.ParseMediaType(contentType)
	isJSON := mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
	if isJSON || trimmed[0] == '{' {
		var obj map[string]json.RawMessage
		if json.Unmarshal(trimmed, &obj) == nil && obj != nil {
			code = jsonString(obj["error"])
			description = jsonString(obj["error_description"])
			if code != "" || description != "" {
				return code, description
			}
		}
	}
	text := string(trimmed)
	if strings.HasPrefix(mediaType, "text/html") || trimmed[0] == '<' {
		text = htmlText(text)
	}
	return "", text
}

// jsonString returns raw as a string when it is a JSON string, else "".
func jsonString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

var (
	htmlDropped = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)\s*>`)
	htmlTag     = regexp.MustCompile(`(?s)<[^>]*>`)
	htmlTitle   = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
)

// htmlText reduces an HTML page to its text, enough for an error description.
func htmlText(s string) string {
	if m := htmlTitle.FindStringSubmatch(s); m != nil {
		rest := htmlTag.ReplaceAllString(htmlDropped.ReplaceAllString(s, " "), " ")
		return strings.TrimSpace(m[1]) + ": " + strings.TrimSpace(rest)
	}
	return htmlTag.ReplaceAllString(htmlDropped.ReplaceAllString(s, " "), " ")
}

var authParam = regexp.MustCompile(`([A-Za-z0-9_!#$%&'*+.^` + "`" + `|~-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)`)

// parseBearerChallenge returns the error and error_description attributes of
// a Bearer challenge (RFC 6750 §3), if any.
func parseBearerChallenge(values []string) (code, description string) {
	for _, v := range values {
		i := strings.Index(strings.ToLower(v), "bearer")
		if i < 0 {
			continue
		}
		for _, m := range authParam.FindAllStringSubmatch(v[i+len("bearer"):], -1) {
			val := m[2]
			if strings.HasPrefix(val, `"`) {
				val = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(val[1 : len(val)-1])
			}
			switch strings.ToLower(m[1]) {
			case "error":
				code = val
			case "error_description":
				description = val
			}
		}
		if code != "" {
			return code, description
		}
	}
	return "", ""
}

// checkURL validates a URL the caller gave for op: absolute, https (or http
// when allowed), a host, no userinfo. what names it in the error.
func (c *Client) checkURL(op, raw, what string) (*url.URL, error) {
	fail := func(u *url.URL, desc string) (*url.URL, error) {
		cl := &call{op: op, url: u}
		return nil, cl.newError(KindInvalidArgument, desc)
	}
	if raw == "" {
		return fail(nil, what+" is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fail(nil, what+" is not a valid URL")
	}
	if u.User != nil {
		return fail(u, what+" must not contain userinfo")
	}
	if !u.IsAbs() || u.Host == "" {
		return fail(u, what+" is not an absolute URL with a host")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !c.allowHTTP {
			return fail(u, what+" is http; only https is allowed (Config.AllowInsecureHTTP permits http)")
		}
	default:
		return fail(u, what+" has scheme "+u.Scheme+"; only https is allowed")
	}
	return u, nil
}

// checkToken validates a Bearer token's characters (visible ASCII, RFC 6750
// §2.1 b64token is narrower) without echoing it.
func checkToken(op string, u *url.URL, token, what string, required bool) error {
	if token == "" {
		if required {
			return (&call{op: op, url: u}).newError(KindInvalidArgument, what+" is empty")
		}
		return nil
	}
	for i := 0; i < len(token); i++ {
		if token[i] <= 0x20 || token[i] >= 0x7f {
			return (&call{op: op, url: u}).newError(KindInvalidArgument, what+" contains characters not allowed in a Bearer token")
		}
	}
	return nil
}
