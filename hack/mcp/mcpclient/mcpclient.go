// Package mcpclient runs a real MCP client (npm @modelcontextprotocol/sdk,
// pinned exactly in hack/mcp/package.json and package-lock.json) against a
// protected MCP server, both in one node process (hack/mcp/mcp.mjs), for Go
// tests of OAuth clients identified by client ID metadata documents.
//
// The MCP server listens on a socket Run opens on 127.0.0.1 and passes to
// node, at http://127.0.0.1:<port>/mcp (Streamable HTTP, one tool
// "whoami"). It accepts only JWT access tokens (typ at+jwt) that the
// authorization server at Options.Issuer signed (its JWKS), with aud = that
// URL and Options.Scope, and serves RFC 9728 protected resource metadata
// naming Options.Issuer. The client discovers the authorization server from
// there, gets a token as Options.Mode says, and calls the tool; Run returns
// what happened.
//
// The authorization server must issue such tokens for the MCP server's URL,
// which is known only when Run has opened the socket: Options.RegisterResource
// is called with it first (e.g. oidcprovider's Provider.AddResource).
package mcpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
)

// PinnedSDKVersion is the exact @modelcontextprotocol/sdk version in
// hack/mcp/package.json.
const PinnedSDKVersion = "1.32.2"

// DefaultTimeout bounds a Run whose Options.Timeout is 0.
const DefaultTimeout = 60 * time.Second

// Mode is how the MCP client authenticates.
type Mode string

const (
	// ModePrivateKeyJWT is a confidential client: the SDK's
	// PrivateKeyJwtProvider, client_credentials with a private_key_jwt
	// client assertion (iss = sub = ClientID, aud = the authorization
	// server's issuer, header alg and typ JWT, no kid).
	ModePrivateKeyJWT Mode = "private_key_jwt"
	// ModePublic is a public client: an OAuthClientProvider whose
	// clientMetadataUrl is ClientID, so the SDK uses that URL as the
	// client_id (the authorization server advertises
	// client_id_metadata_document_supported); authorization code with PKCE
	// and token_endpoint_auth_method none. The "browser" is headless: the
	// authorization URL is fetched, the authorization server's redirects
	// followed with cookies, and the code read from the redirect to
	// RedirectURI, which is never fetched.
	ModePublic Mode = "public"
)

// Options configures Run.
type Options struct {
	// Mode is ModePrivateKeyJWT or ModePublic.
	Mode Mode
	// ClientID is the client_id, the https URL of the client's metadata
	// document.
	ClientID string
	// KeyFile (ModePrivateKeyJWT) holds the private key: PEM, PKCS #8
	// ("PRIVATE KEY") for RS*, PS* and ES* algorithms, or a private JWK
	// (JSON) for any algorithm the SDK's jose accepts (EdDSA / Ed25519 need
	// the JWK: the SDK imports PEM only for RS*, PS*, ES*).
	KeyFile string
	// Alg (ModePrivateKeyJWT) is the JWS algorithm of the client
	// assertion, e.g. ES256.
	Alg string
	// Issuer is the authorization server's issuer URL
	// (https://127.0.0.1:<port> for oidcprovider).
	Issuer string
	// CAPEM holds the CA certificates (PEM) node trusts for the
	// authorization server, besides the system roots (NODE_EXTRA_CA_CERTS).
	CAPEM []byte
	// Scope is the scope the MCP server requires and the client asks for;
	// "" means "mcp".
	Scope string
	// RedirectURI (ModePublic) is the client's redirect URI, which its
	// document must list; "" means https://app.test/cb.
	RedirectURI string
	// RegisterResource, if set, is called with the MCP server's URL (the
	// resource indicator the client will send) and Scope before the client
	// starts, so that the authorization server issues tokens for it.
	RegisterResource func(ctx context.Context, resourceURL, scope string) error
	// Timeout bounds the run; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Result is what the MCP client reported.
type Result struct {
	// OK is true when the tool call succeeded.
	OK bool
	// Error is the client's error when not OK (e.g. "InvalidClientError:
	// client authentication failed" from the token endpoint).
	Error string
	// WhoAmI is the tool's answer: the access token the MCP server
	// accepted, as it saw it.
	WhoAmI WhoAmI
	// ResourceURL is the MCP server's URL, the resource indicator.
	ResourceURL string
	// TokenRequests are the requests the SDK sent to the token endpoint.
	TokenRequests []TokenRequest
	// Unauthorized and Authorized count the MCP server's answers to POST
	// /mcp: refused (401/403) or let through to the MCP transport.
	Unauthorized, Authorized int
	// Stderr is the tail of node's stderr (diagnostics).
	Stderr string
}

// WhoAmI is the whoami tool's answer.
type WhoAmI struct {
	ClientID string `json:"client_id"`
	Sub      string `json:"sub"`
	Scope    string `json:"scope"`
	// Aud is the token's aud: a string or a list.
	Aud any `json:"aud"`
}

// TokenRequest is one request the SDK sent to the token endpoint.
type TokenRequest struct {
	// Form is the form parameters, client_assertion left out.
	Form map[string]string
	// Assertion is the decoded client_assertion (nil when there was none).
	Assertion *Assertion
	// BasicAuth reports an Authorization: Basic header.
	BasicAuth bool
	// Status is the token endpoint's answer.
	Status int
}

// Assertion is a decoded client assertion (its signature is not checked).
type Assertion struct {
	Header map[string]any `json:"header"`
	Claims map[string]any `json:"claims"`
}

// ErrNoNode is returned (wrapped) by Run when node is not on PATH.
var ErrNoNode = oidcprovider.ErrNoNode

const tailBytes = 32 << 10

// Run starts hack/mcp/mcp.mjs (installing its npm dependencies first when
// needed), waits for its result and returns it. The error is for the
// harness (node missing, npm ci failed, no result line, timeout), not for
// the MCP flow, whose failure is a Result with OK false. node is killed when
// ctx ends, the timeout passes or Run returns.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	dir, err := oidcprovider.NodeProject(findDir, ensureDeps)
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	scope := opts.Scope
	if scope == "" {
		scope = "mcp"
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("opening the MCP server's socket: %w", err)
	}
	defer func() { _ = ln.Close() }()
	lnFile, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, fmt.Errorf("the MCP server's socket: %w", err)
	}
	defer func() { _ = lnFile.Close() }()
	resourceURL := "http://" + ln.Addr().String() + "/mcp"
	if opts.RegisterResource != nil {
		if err := opts.RegisterResource(ctx, resourceURL, scope); err != nil {
			return nil, fmt.Errorf("registering the resource %s: %w", resourceURL, err)
		}
	}

	tmp, err := os.MkdirTemp("", "clientreg-mcpclient-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	env := []string{
		"MODE=" + string(opts.Mode),
		"CLIENT_ID=" + opts.ClientID,
		"ISSUER=" + opts.Issuer,
		"SCOPE=" + scope,
		"LISTEN_FD=3", // ExtraFiles[0]
		"EXIT_ON_STDIN_EOF=1",
		// mcp.mjs gives up a little before the harness kills it, so that
		// its result line says how far it got.
		"TIMEOUT_MS=" + strconv.FormatInt(max(timeout-2*time.Second, timeout/2).Milliseconds(), 10),
	}
	if opts.Mode == ModePrivateKeyJWT {
		env = append(env, "KEY_FILE="+opts.KeyFile, "ALG="+opts.Alg)
	}
	if opts.RedirectURI != "" {
		env = append(env, "REDIRECT_URI="+opts.RedirectURI)
	}
	if len(opts.CAPEM) > 0 {
		caFile := filepath.Join(tmp, "ca.pem")
		if err := os.WriteFile(caFile, opts.CAPEM, 0o600); err != nil {
			return nil, fmt.Errorf("writing the CA file: %w", err)
		}
		env = append(env, "NODE_EXTRA_CA_CERTS="+caFile)
	}

	cmd := exec.CommandContext(ctx, "node", "mcp.mjs")
	cmd.Dir = dir
	cmd.Env = append(oidcprovider.EnvWithout("MODE", "CLIENT_ID", "ISSUER", "SCOPE", "LISTEN_FD", "PORT",
		"EXIT_ON_STDIN_EOF", "TIMEOUT_MS", "KEY_FILE", "ALG", "REDIRECT_URI",
		"NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED", "NODE_OPTIONS",
		"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "MCP_DANGEROUSLY_ALLOW_INSECURE_ISSUER_URL"), env...)
	cmd.ExtraFiles = []*os.File{lnFile}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout bytes.Buffer
	stderr := oidcprovider.NewTailBuffer(tailBytes)
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe() // closed when Run returns: mcp.mjs then exits
	if err != nil {
		return nil, err
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting node mcp.mjs: %w", err)
	}
	// node holds its own copy of the socket now.
	_ = lnFile.Close()
	_ = ln.Close()
	waitErr := cmd.Wait()

	line := lastLine(stdout.Bytes())
	if len(line) == 0 {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("node mcp.mjs: %w; stderr:\n%s", ctx.Err(), stderr.String())
		}
		return nil, fmt.Errorf("node mcp.mjs printed no result (%v); stderr:\n%s", waitErr, stderr.String())
	}
	res, err := parseResult(line)
	if err != nil {
		return nil, fmt.Errorf("node mcp.mjs: %w; stderr:\n%s", err, stderr.String())
	}
	res.Stderr = stderr.String()
	if res.ResourceURL != "" && res.ResourceURL != resourceURL {
		return res, fmt.Errorf("the MCP server is at %s, want %s", res.ResourceURL, resourceURL)
	}
	var exit *exec.ExitError
	if waitErr != nil && !(errors.As(waitErr, &exit) && exit.ExitCode() == 1 && !res.OK) {
		return res, fmt.Errorf("node mcp.mjs: %w", waitErr)
	}
	return res, nil
}

func (o Options) check() error {
	switch {
	case o.Mode != ModePrivateKeyJWT && o.Mode != ModePublic:
		return fmt.Errorf("mcpclient: Mode %q", o.Mode)
	case o.ClientID == "":
		return errors.New("mcpclient: no ClientID")
	case o.Issuer == "":
		return errors.New("mcpclient: no Issuer")
	case o.Mode == ModePrivateKeyJWT && (o.KeyFile == "" || o.Alg == ""):
		return errors.New("mcpclient: ModePrivateKeyJWT needs KeyFile and Alg")
	}
	return nil
}

// result is mcp.mjs's result line.
type result struct {
	OK            bool   `json:"ok"`
	Error         string `json:"error"`
	Result        WhoAmI `json:"result"`
	Resource      string `json:"resource"`
	TokenRequests []struct {
		Form      map[string]json.RawMessage `json:"form"`
		BasicAuth bool                       `json:"basicAuth"`
		Status    int                        `json:"status"`
	} `json:"tokenRequests"`
	ResourceServer struct {
		Unauthorized int `json:"unauthorized"`
		Authorized   int `json:"authorized"`
	} `json:"resourceServer"`
}

func parseResult(line []byte) (*Result, error) {
	var r result
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("result line %q: %w", line, err)
	}
	out := &Result{
		OK: r.OK, Error: r.Error, WhoAmI: r.Result, ResourceURL: r.Resource,
		Unauthorized: r.ResourceServer.Unauthorized, Authorized: r.ResourceServer.Authorized,
	}
	for _, tr := range r.TokenRequests {
		req := TokenRequest{Form: map[string]string{}, BasicAuth: tr.BasicAuth, Status: tr.Status}
		for k, v := range tr.Form {
			if k == "client_assertion" {
				var a Assertion
				if err := json.Unmarshal(v, &a); err != nil {
					return nil, fmt.Errorf("result line: client_assertion: %w", err)
				}
				req.Assertion = &a
				continue
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("result line: form parameter %s: %w", k, err)
			}
			req.Form[k] = s
		}
		out.TokenRequests = append(out.TokenRequests, req)
	}
	return out, nil
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return bytes.TrimSpace(lines[len(lines)-1])
}

// ensureDeps installs hack/mcp's pinned npm packages when missing, and
// checks that package.json pins the SDK at PinnedSDKVersion.
func ensureDeps(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return fmt.Errorf("reading %s/package.json: %w", dir, err)
	}
	var manifest struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		return fmt.Errorf("%s/package.json: %w", dir, err)
	}
	if v := manifest.Dependencies["@modelcontextprotocol/sdk"]; v != PinnedSDKVersion {
		return fmt.Errorf("%s/package.json pins @modelcontextprotocol/sdk %q, want %s", dir, v, PinnedSDKVersion)
	}
	return oidcprovider.EnsurePinnedDeps(dir)
}

// Dir returns hack/mcp, where mcp.mjs and its npm project live.
func Dir() (string, error) { return findDir() }

// findDir locates hack/mcp from this source file's path.
func findDir() (string, error) { return oidcprovider.ParentDirWith("mcp.mjs") }
