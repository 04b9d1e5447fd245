package oidcprovider

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/clientreg/clientreg/hack/interop/testcerts"
)

// CIMD configures OAuth Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document, node-oidc-provider's
// features.clientIdMetadataDocument, draft 02): a client_id that is an https
// URL is fetched (GET, Accept: application/json, an empty User-Agent, 2.5s
// timeout, redirects never followed, at most 5 KiB) and its JSON object is
// the client's metadata, cached as its Cache-Control max-age says within
// [CacheMin, CacheMax].
//
// With CIMD the provider also accepts private_key_jwt and none at the token
// endpoint, requires PKCE, and logs in headlessly: GET /interaction/{uid}
// logs in "user-1" and grants openid and every scope the request asked for
// (resource scopes included), so an authorization code flow needs no
// browser (see AuthorizationCodePKCE).
type CIMD struct {
	// Hosts maps hostnames to the IP address that document (and jwks_uri)
	// fetches to them connect to, e.g. {"clients.test": "127.0.0.1"}.
	// node-oidc-provider refuses to fetch from special-use addresses such as
	// 127.0.0.1; the mapped hostnames get a connection of their own, which
	// trusts CAPEM only. Other hostnames are fetched as node-oidc-provider
	// does by default (public addresses only, system CAs).
	Hosts map[string]string
	// CAPEM holds the CA certificates (PEM) that fetches to Hosts trust,
	// e.g. a DocumentServer's CAPEM.
	CAPEM []byte
	// CacheMin and CacheMax bound how long a fetched document is used
	// before it is fetched again: its Cache-Control max-age (or Expires),
	// CacheMin when it has neither, clamped to [CacheMin, CacheMax].
	// Rounded down to seconds; 0 keeps node-oidc-provider's 30s and 24h.
	// Failed fetches are not cached.
	CacheMin, CacheMax time.Duration
	// Resources are the resource servers (RFC 8707 resource indicators)
	// that get access tokens; more can be added with AddResource. Any
	// client may get any of a resource's scope (client_credentials
	// included): the provider's policy, which no document can widen.
	Resources []Resource
	// ClientAuthSigningAlgs, if set, are the JWS algorithms the token
	// endpoint accepts for client assertions (private_key_jwt); empty keeps
	// node-oidc-provider's: HS256, RS256, PS256, ES256, Ed25519, EdDSA.
	ClientAuthSigningAlgs []string
}

// Resource is a resource server whose access tokens are JWTs signed RS256
// with the provider's key (its JWKS at <URL>/jwks), with aud = URL, iss = the
// provider's issuer, client_id, sub (the user, or the client_id for
// client_credentials) and scope: those of Scope that were asked for.
type Resource struct {
	// URL is the resource indicator, exactly as clients send it in the
	// resource parameter (e.g. http://127.0.0.1:8080/mcp).
	URL string
	// Scope is the space-separated scope values the resource accepts.
	Scope string
	// AccessTokenTTL is the access token lifetime; 0 means 10 minutes.
	AccessTokenTTL time.Duration
}

type cimdConfig struct {
	Hosts                      map[string]string `json:"hosts,omitempty"`
	CA                         string            `json:"ca,omitempty"`
	CacheDuration              *cacheDuration    `json:"cacheDuration,omitempty"`
	Resources                  []resourceConfig  `json:"resources,omitempty"`
	ClientAuthSigningAlgValues []string          `json:"clientAuthSigningAlgValues,omitempty"`
}

type cacheDuration struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

type resourceConfig struct {
	URL            string `json:"url"`
	Scope          string `json:"scope"`
	AccessTokenTTL int64  `json:"accessTokenTTL,omitempty"`
}

func (r Resource) config() (resourceConfig, error) {
	u, err := url.Parse(r.URL)
	if err != nil || !u.IsAbs() || u.Fragment != "" {
		return resourceConfig{}, fmt.Errorf("resource %q: not an absolute URL without a fragment", r.URL)
	}
	if strings.TrimSpace(r.Scope) == "" {
		return resourceConfig{}, fmt.Errorf("resource %s: no scope", r.URL)
	}
	return resourceConfig{URL: r.URL, Scope: r.Scope, AccessTokenTTL: int64(r.AccessTokenTTL / time.Second)}, nil
}

// config is the provider.mjs CONFIG_FILE member "cimd".
func (c *CIMD) config() (*cimdConfig, error) {
	out := &cimdConfig{Hosts: c.Hosts, CA: string(c.CAPEM), ClientAuthSigningAlgValues: c.ClientAuthSigningAlgs}
	for host, ip := range c.Hosts {
		if net.ParseIP(ip) == nil {
			return nil, fmt.Errorf("CIMD.Hosts[%q] = %q: not an IP address", host, ip)
		}
	}
	if c.CacheMin != 0 || c.CacheMax != 0 {
		d := cacheDuration{Min: 30, Max: 86400}
		if c.CacheMin != 0 {
			d.Min = int64(c.CacheMin / time.Second)
		}
		if c.CacheMax != 0 {
			d.Max = int64(c.CacheMax / time.Second)
		}
		if d.Min < 0 || d.Max < d.Min {
			return nil, fmt.Errorf("CIMD cache duration: min %ds, max %ds", d.Min, d.Max)
		}
		out.CacheDuration = &d
	}
	for _, r := range c.Resources {
		rc, err := r.config()
		if err != nil {
			return nil, fmt.Errorf("CIMD.Resources: %w", err)
		}
		out.Resources = append(out.Resources, rc)
	}
	return out, nil
}

// AddResource adds a resource server to a provider started with
// ClientIDMetadataDocument (the running process only: Restart forgets it).
func (p *Provider) AddResource(ctx context.Context, r Resource) error {
	rc, err := r.config()
	if err != nil {
		return err
	}
	body, err := json.Marshal(rc)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/__admin/resources", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Admin-Token", p.adminToken)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("adding resource %s: %w%s", r.URL, err, p.stderrSuffix())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("adding resource %s: status %d: %s", r.URL, resp.StatusCode, b)
	}
	return nil
}

// CIMDFetches returns how many times the running provider process fetched
// each URL (client_id metadata documents, and jwks_uri of document clients),
// whatever the outcome. It fails t without ClientIDMetadataDocument.
func (p *Provider) CIMDFetches(t testing.TB) map[string]int {
	t.Helper()
	return adminGet[map[string]int](t, p, "/__admin/cimd-fetches")
}

// FlowError is a failed step of AuthorizationCodePKCE before the token
// request: an answer that is neither a redirect nor the final redirect with
// a code.
type FlowError struct {
	// Step is "authorization" (the provider's answer to GET /auth or an
	// interaction) or "redirect" (the redirect to the redirect_uri carried
	// an error or a wrong state / iss).
	Step string
	// Status is the HTTP status of the answer (0 for Step "redirect").
	Status int
	// Code and Description are the OAuth error and error_description, from
	// the redirect's query or the answer's JSON body.
	Code, Description string
	// Body is the answer's body (Step "authorization").
	Body []byte
}

func (e *FlowError) Error() string {
	return fmt.Sprintf("authorization code flow: %s: status %d, error %q (%s)", e.Step, e.Status, e.Code, e.Description)
}

// AuthorizationCodePKCE drives an authorization code flow with PKCE (S256)
// as a public client (token_endpoint_auth_method none): GET /auth, the
// provider's headless interactions, and the redirect to redirectURI, which
// is not followed (the code is read from its Location); then it posts the
// code with its code_verifier to the token endpoint. scope "" means
// "openid"; resource "" sends no resource indicator (RFC 8707), otherwise
// both the authorization and the token request carry it, and the access
// token is a JWT for it (see VerifyAccessToken).
//
// It needs a provider started with ClientIDMetadataDocument or Stateless
// (the headless login). It returns the token endpoint's status and body; a
// failure before the token request is a *FlowError (e.g. Code
// "invalid_client" for a refused client_id, "invalid_redirect_uri").
func (p *Provider) AuthorizationCodePKCE(ctx context.Context, clientID, redirectURI, scope, resource string) (int, []byte, error) {
	if scope == "" {
		scope = "openid"
	}
	redirect, err := url.Parse(redirectURI)
	if err != nil {
		return 0, nil, fmt.Errorf("redirect_uri: %w", err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return 0, nil, err
	}
	hc := &http.Client{
		Transport:     p.client.Transport,
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	verifier, state := randomURLToken(), randomURLToken()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {clientID}, "response_type": {"code"}, "scope": {scope}, "redirect_uri": {redirectURI},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"state": {state},
	}
	if resource != "" {
		q.Set("resource", resource)
	}
	next, err := url.Parse(p.URL + "/auth?" + q.Encode())
	if err != nil {
		return 0, nil, err
	}
	var code string
	for hop := 0; code == ""; hop++ {
		if hop == 10 {
			return 0, nil, fmt.Errorf("authorization code flow: no redirect to %s after %d hops", redirectURI, hop)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil)
		if err != nil {
			return 0, nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, fmt.Errorf("authorization code flow: GET %s: %w%s", next.Path, err, p.stderrSuffix())
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			fe := &FlowError{Step: "authorization", Status: resp.StatusCode, Body: body}
			var e struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(body, &e) == nil {
				fe.Code, fe.Description = e.Error, e.Description
			}
			return 0, nil, fe
		}
		loc, err := next.Parse(resp.Header.Get("Location"))
		if err != nil {
			return 0, nil, fmt.Errorf("authorization code flow: Location: %w", err)
		}
		if loc.Scheme == redirect.Scheme && loc.Host == redirect.Host && loc.Path == redirect.Path {
			lq := loc.Query()
			if e := lq.Get("error"); e != "" {
				return 0, nil, &FlowError{Step: "redirect", Code: e, Description: lq.Get("error_description")}
			}
			if lq.Get("state") != state || lq.Get("iss") != p.URL {
				return 0, nil, &FlowError{Step: "redirect", Description: fmt.Sprintf("state matches %v, iss %q", lq.Get("state") == state, lq.Get("iss"))}
			}
			if code = lq.Get("code"); code == "" {
				return 0, nil, &FlowError{Step: "redirect", Description: "no code"}
			}
			break
		}
		next = loc
	}
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"code_verifier": {verifier}, "client_id": {clientID},
	}
	if resource != "" {
		form.Set("resource", resource)
	}
	return p.postToken(ctx, form)
}

// TokenWithPrivateKeyJWT posts a client_credentials request authenticated
// with private_key_jwt (RFC 7523 §2.2): a client assertion signed with key
// (an *ecdsa.PrivateKey, *rsa.PrivateKey or ed25519.PrivateKey) and alg,
// with header kid when kid is not "" and typ JWT, and claims iss = sub =
// clientID, aud = the token endpoint, a random jti, iat and exp (one minute).
// scope and resource are sent when not "". It returns the token endpoint's
// status and body.
func (p *Provider) TokenWithPrivateKeyJWT(ctx context.Context, clientID string, key crypto.Signer, kid, alg, scope, resource string) (int, []byte, error) {
	assertion, err := ClientAssertion(clientID, p.URL+"/token", key, kid, alg)
	if err != nil {
		return 0, nil, err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	if resource != "" {
		form.Set("resource", resource)
	}
	return p.postToken(ctx, form)
}

// ClientAssertion returns a private_key_jwt client assertion: iss = sub =
// clientID, aud, a random jti, iat and exp (one minute), signed with key
// and alg, with header typ JWT and kid when not "".
func ClientAssertion(clientID, aud string, key crypto.Signer, kid, alg string) (string, error) {
	sk := jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}
	if kid != "" {
		sk.Key = jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg}
	}
	signer, err := jose.NewSigner(sk, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("client assertion signer (%s): %w", alg, err)
	}
	now := time.Now()
	claims := jwt.Claims{
		Issuer: clientID, Subject: clientID, Audience: jwt.Audience{aud}, ID: randomURLToken(),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("signing the client assertion: %w", err)
	}
	return raw, nil
}

func (p *Provider) postToken(ctx context.Context, form url.Values) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST /token: %w%s", err, p.stderrSuffix())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("POST /token: reading the answer: %w", err)
	}
	return resp.StatusCode, body, nil
}

// VerifyAccessToken checks a JWT access token: its signature against the
// provider's JWKS (<URL>/jwks), typ at+jwt, iss = the provider's issuer,
// aud containing audience, and exp; it returns its claims.
func (p *Provider) VerifyAccessToken(ctx context.Context, raw, audience string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/jwks", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /jwks: %w", err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("GET /jwks: %w", err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA})
	if err != nil {
		return nil, fmt.Errorf("access token: %w", err)
	}
	if typ, _ := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") {
		return nil, fmt.Errorf("access token: typ %q, want at+jwt", typ)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) == 0 {
		return nil, fmt.Errorf("access token: kid %q is not in the provider's JWKS", tok.Headers[0].KeyID)
	}
	var std jwt.Claims
	claims := map[string]any{}
	if err := tok.Claims(keys[0].Key, &std, &claims); err != nil {
		return nil, fmt.Errorf("access token signature: %w", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: p.URL, AnyAudience: jwt.Audience{audience}, Time: time.Now()}, 5*time.Second); err != nil {
		return nil, fmt.Errorf("access token claims: %w", err)
	}
	return claims, nil
}

// HostCertificate returns a fresh test CA (PEM) and a TLS server
// certificate it signed for the hostnames (IP literals become IP SANs) and
// 127.0.0.1, e.g. for a document server at https://clients.test:<port>/
// that CIMD.Hosts maps to 127.0.0.1.
func HostCertificate(hostnames ...string) (caPEM []byte, cert tls.Certificate, err error) {
	now := time.Now()
	caKey, caCert, err := testcerts.Issue(testcerts.CATemplate("clientreg cimd test CA"), nil, nil)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("test CA: %w", err)
	}
	var dnsNames []string
	ips := []net.IP{net.IPv4(127, 0, 0, 1)}
	for _, h := range hostnames {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			dnsNames = append(dnsNames, h)
		}
	}
	leafKey, leaf, err := testcerts.Issue(&x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano() + 1),
		Subject:      pkix.Name{CommonName: strings.Join(hostnames, " ")},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}, caCert, caKey)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("test server certificate: %w", err)
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})
	return caPEM, tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: leafKey, Leaf: leaf}, nil
}

// DocumentServer is a TLS server on 127.0.0.1 with a certificate for one
// hostname, serving client ID metadata documents (or anything) set by the
// test, and counting requests by path. Point the provider at it with
// CIMD(): its URLs are https://<hostname>:<port>/<path>.
type DocumentServer struct {
	// Hostname is the name in the certificate and the URLs.
	Hostname string
	// CAPEM is the PEM of the CA that signed the certificate.
	CAPEM []byte
	// Port is the port it listens on (127.0.0.1).
	Port int

	srv  *httptest.Server
	mu   sync.Mutex
	docs map[string]Document
	hits map[string]int
}

// Document is one answer of a DocumentServer.
type Document struct {
	// Status defaults to 200.
	Status int
	// Header is sent as is (e.g. Content-Type, Cache-Control, Location).
	Header http.Header
	// Body is the answer's body.
	Body []byte
}

// StartDocumentServer starts a DocumentServer for hostname and registers
// t.Cleanup to stop it. Unknown paths are 404.
func StartDocumentServer(t testing.TB, hostname string) *DocumentServer {
	t.Helper()
	caPEM, cert, err := HostCertificate(hostname)
	if err != nil {
		t.Fatalf("oidcprovider: %v", err)
	}
	s := &DocumentServer{Hostname: hostname, CAPEM: caPEM, docs: map[string]Document{}, hits: map[string]int{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	s.Port = s.srv.Listener.Addr().(*net.TCPAddr).Port
	return s
}

func (s *DocumentServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	d, ok := s.docs[r.URL.Path]
	s.mu.Unlock()
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	for k, v := range d.Header {
		w.Header()[k] = slices.Clone(v)
	}
	status := d.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(d.Body)))
	w.WriteHeader(status)
	_, _ = w.Write(d.Body)
}

// URL returns https://<Hostname>:<Port><path>; path starts with "/".
func (s *DocumentServer) URL(path string) string {
	return "https://" + net.JoinHostPort(s.Hostname, strconv.Itoa(s.Port)) + path
}

// Set makes path answer d.
func (s *DocumentServer) Set(path string, d Document) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs[path] = d
}

// SetJSON makes path answer 200 with doc as JSON (Content-Type
// application/json) and, when cacheControl is not "", that Cache-Control.
// doc may be []byte or json.RawMessage (sent as is) or any value.
func (s *DocumentServer) SetJSON(path string, doc any, cacheControl string) error {
	var body []byte
	switch d := doc.(type) {
	case []byte:
		body = d
	case json.RawMessage:
		body = d
	default:
		b, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("encoding the document for %s: %w", path, err)
		}
		body = b
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if cacheControl != "" {
		h.Set("Cache-Control", cacheControl)
	}
	s.Set(path, Document{Header: h, Body: body})
	return nil
}

// Hits returns how many requests path received.
func (s *DocumentServer) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// CIMD returns the provider configuration that fetches from s: Hosts maps
// s.Hostname to 127.0.0.1, CAPEM is s.CAPEM. Set the cache bounds and the
// resources on the result.
func (s *DocumentServer) CIMD() *CIMD {
	return &CIMD{Hosts: map[string]string{s.Hostname: "127.0.0.1"}, CAPEM: s.CAPEM}
}

// PublicJWK returns the public JWK of key as JSON, for a document's
// jwks.keys: use "sig", and kid and alg when not "".
func PublicJWK(key crypto.Signer, kid, alg string) (json.RawMessage, error) {
	jwk := jose.JSONWebKey{Key: key.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}
	b, err := jwk.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("public JWK: %w", err)
	}
	return b, nil
}

// randomURLToken returns 43 random base64url characters (256 bits), long
// enough for a PKCE code_verifier.
func randomURLToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
