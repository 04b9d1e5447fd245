// Package oidcprovider runs a real node-oidc-provider (npm package
// oidc-provider, pinned exactly in hack/interop/package.json and
// package-lock.json) on 127.0.0.1 over TLS as an RFC 7591 / RFC 7592 peer for
// Go tests.
//
// Start installs the npm dependencies when hack/interop/node_modules is
// missing or stale (npm ci), generates a throw-away CA and a server
// certificate for 127.0.0.1, starts `node hack/interop/provider.mjs` and waits
// for it to listen. The provider keeps all state (clients, tokens) in memory:
// Restart loses it, which is what tests of "the server forgot my client" need.
//
// Endpoints (oidc-provider defaults): discovery
// <URL>/.well-known/openid-configuration, registration POST <URL>/reg,
// management <URL>/reg/{client_id}, token POST <URL>/token. Test-only admin
// endpoints (GET /__admin/clients, GET /__admin/stats, GET
// /__admin/client-metadata, DELETE /__admin/clients/{id}, GET
// /__admin/reads) are guarded by a random per-provider token and are reached
// through Clients, Stats, ClientsInfo, DeleteClient and Reads.
//
// Tests that use Start are skipped when `node` is not on PATH, unless the CI
// environment variable is set, in which case they fail. Programs (hack/demo)
// use New and Close instead.
package oidcprovider

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clientreg/clientreg/hack/interop/testcerts"
)

// PinnedVersion is the exact oidc-provider version in hack/interop/package.json.
const PinnedVersion = "9.13.3"

const (
	// startTimeout is per attempt: a healthy start takes under 2s even on
	// a loaded 2-core machine; a stalled one is killed and started again.
	startTimeout = 12 * time.Second
	// startAttempts bounds the attempts.
	startAttempts = 4
	stopTimeout   = 10 * time.Second
	tailBytes     = 16 << 10
)

// Options configures a provider.
type Options struct {
	// InitialAccessToken, if non-empty, is the static initial access token
	// that registration requires (features.registration.initialAccessToken).
	// Empty means open registration.
	InitialAccessToken string
	// RotateRegistrationAccessToken rotates the registration access token on
	// every RFC 7592 PUT (features.registrationManagement.rotateRegistrationAccessToken).
	RotateRegistrationAccessToken bool
	// Port to listen on; 0 picks a free port.
	Port int
	// Stateless, if set, makes the provider accept clientreg's stateless
	// client ids through integrations/oidc-provider (its adapter for the
	// Client model). It also turns on private_key_jwt, introspection,
	// revocation, required PKCE, scope openid and a headless login: GET
	// /interaction/{uid} logs in "user-1" and grants openid, so an
	// authorization code flow needs no browser.
	Stateless *Stateless
	// Discovery holds members added to the provider's discovery document
	// (node-oidc-provider's `discovery` option). The provider only adds
	// members it does not set itself: registration_endpoint is taken from
	// here only with DisableRegistration.
	Discovery map[string]any
	// DisableRegistration turns the provider's own registration and
	// registration management off (features.registration.enabled false).
	DisableRegistration bool
	// TrustPEM holds CA certificates (PEM) that the provider's outgoing
	// requests trust besides the system roots (NODE_EXTRA_CA_CERTS), e.g.
	// the operator endpoint's CA for Stateless.JWKSURI.
	TrustPEM []byte
	// ClientIDMetadataDocument, if set, turns on OAuth Client ID Metadata
	// Documents (features.clientIdMetadataDocument): a client_id that is an
	// https URL is fetched and its JSON is the client's metadata. See CIMD.
	ClientIDMetadataDocument *CIMD
}

// Stateless configures integrations/oidc-provider's
// createStatelessClientAdapter. The integration's npm dependencies are
// installed (npm ci) when missing.
type Stateless struct {
	// Issuer is the trusted iss; empty means the provider's own issuer
	// (https://127.0.0.1:<port>).
	Issuer string `json:"issuer,omitempty"`
	// Audience is the required aud; empty means Issuer.
	Audience string `json:"audience,omitempty"`
	// JWKSURI is where the published keys are fetched (the operator
	// endpoint's <issuer>/jwks); or JWKS gives them inline (a server's
	// status.jwks).
	JWKSURI string          `json:"jwksUri,omitempty"`
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	// KeySetFile is a file holding the key Secret's keys.json (secret
	// derivation keys, Generated encryption keys); it is re-read when it
	// changes.
	KeySetFile string `json:"keySetFile,omitempty"`
	// DecryptionKeys are private JWKs (with kid) of nested ids, the
	// authorization server's own (RecipientKey mode).
	DecryptionKeys []json.RawMessage `json:"decryptionKeys,omitempty"`
	// KeySetReloadInterval, JWKSRefetchInterval and JWKSCacheMaxAge tune the
	// integration (0 keeps its defaults: 10s, 30s and 5m).
	KeySetReloadInterval time.Duration `json:"-"`
	JWKSRefetchInterval  time.Duration `json:"-"`
	JWKSCacheMaxAge      time.Duration `json:"-"`
}

// config is provider.mjs's CONFIG_FILE.
type config struct {
	Stateless    map[string]any `json:"stateless,omitempty"`
	Discovery    map[string]any `json:"discovery,omitempty"`
	Registration *bool          `json:"registration,omitempty"`
	CIMD         *cimdConfig    `json:"cimd,omitempty"`
}

// configJSON returns the CONFIG_FILE contents for opts, nil when none is
// needed (the provider then runs exactly as before these options existed).
func configJSON(opts Options) ([]byte, error) {
	var c config
	if opts.Stateless != nil {
		raw, err := json.Marshal(opts.Stateless)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &c.Stateless); err != nil {
			return nil, err
		}
		for name, d := range map[string]time.Duration{
			"keySetReloadInterval": opts.Stateless.KeySetReloadInterval,
			"jwksRefetchInterval":  opts.Stateless.JWKSRefetchInterval,
			"jwksCacheMaxAge":      opts.Stateless.JWKSCacheMaxAge,
		} {
			if d > 0 {
				c.Stateless[name] = d.Milliseconds()
			}
		}
	}
	c.Discovery = opts.Discovery
	if opts.DisableRegistration {
		c.Registration = new(bool)
	}
	if opts.ClientIDMetadataDocument != nil {
		cimd, err := opts.ClientIDMetadataDocument.config()
		if err != nil {
			return nil, err
		}
		c.CIMD = cimd
	}
	if c.Stateless == nil && c.Discovery == nil && c.Registration == nil && c.CIMD == nil {
		return nil, nil
	}
	return json.Marshal(c)
}

// Stats counts the requests the provider received, by operation. Requests are
// counted whatever their outcome.
type Stats struct {
	Register int `json:"register"` // POST /reg
	Read     int `json:"read"`     // GET /reg/{id}
	Update   int `json:"update"`   // PUT /reg/{id}
	Delete   int `json:"delete"`   // DELETE /reg/{id}
	Token    int `json:"token"`    // POST /token
}

// Provider is a running node-oidc-provider.
type Provider struct {
	// URL is the issuer, https://127.0.0.1:<port>, without a trailing slash.
	URL string
	// CAPEM is the PEM of the self-signed CA that signed the server certificate.
	CAPEM []byte
	// Port the provider listens on; it is kept across Restart.
	Port int

	opts       Options
	dir        string // hack/interop
	tmp        string // holds the TLS files; removed by Close
	certFile   string
	keyFile    string
	configFile string // CONFIG_FILE, "" when not needed
	trustFile  string // NODE_EXTRA_CA_CERTS, "" when not needed
	adminToken string
	client     *http.Client

	mu   sync.Mutex
	proc *process
}

// process is one node process.
type process struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed when cmd.Wait returned
	err   error         // cmd.Wait's result, valid after done
	tail  *tailBuffer
}

// ErrNoNode is returned by New when `node` is not on PATH.
var ErrNoNode = errors.New("node is not on PATH: install Node.js >= 20")

// Start starts a provider and registers t.Cleanup to stop it. It skips t
// when node is not on PATH (fails it when CI is set).
func Start(t testing.TB, opts Options) *Provider {
	t.Helper()
	requireNode(t)
	p, err := New(opts)
	if err != nil {
		t.Fatalf("oidcprovider: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// New starts a provider outside a test: it installs the npm dependencies if
// needed (npm ci), generates the TLS certificates into a temporary directory
// and starts node. The caller must call Close, which stops node and removes
// the directory. The error wraps ErrNoNode when node is not on PATH.
func New(opts Options) (*Provider, error) {
	dir, err := NodeProject(findInteropDir, ensureDeps)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "clientreg-oidcprovider-")
	if err != nil {
		return nil, fmt.Errorf("creating a directory for the TLS certificates: %w", err)
	}
	caPEM, certPEM, keyPEM, err := newCerts()
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("generating TLS certificates: %w", err)
	}
	p := &Provider{
		CAPEM:      caPEM,
		opts:       opts,
		dir:        dir,
		tmp:        tmp,
		certFile:   filepath.Join(tmp, "server.pem"),
		keyFile:    filepath.Join(tmp, "server-key.pem"),
		adminToken: randomToken(),
	}
	for name, data := range map[string][]byte{p.certFile: certPEM, p.keyFile: keyPEM, filepath.Join(tmp, "ca.pem"): caPEM} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			_ = os.RemoveAll(tmp)
			return nil, fmt.Errorf("writing TLS files: %w", err)
		}
	}
	if cfg, err := configJSON(opts); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("encoding the provider configuration: %w", err)
	} else if cfg != nil {
		p.configFile = filepath.Join(tmp, "config.json")
		if err := os.WriteFile(p.configFile, cfg, 0o600); err != nil {
			_ = os.RemoveAll(tmp)
			return nil, fmt.Errorf("writing the provider configuration: %w", err)
		}
	}
	if len(opts.TrustPEM) > 0 {
		p.trustFile = filepath.Join(tmp, "trust.pem")
		if err := os.WriteFile(p.trustFile, opts.TrustPEM, 0o600); err != nil {
			_ = os.RemoveAll(tmp)
			return nil, fmt.Errorf("writing the trusted CAs: %w", err)
		}
	}
	if opts.Stateless != nil {
		if err := ensureIntegrationDeps(filepath.Join(filepath.Dir(filepath.Dir(dir)), "integrations", "oidc-provider")); err != nil {
			_ = os.RemoveAll(tmp)
			return nil, err
		}
	}
	p.client = newHTTPClient(caPEM, 0)

	port, err := p.launchRetry(opts.Port, "")
	if err != nil {
		p.Close()
		return nil, err
	}
	p.Port = port
	p.URL = "https://127.0.0.1:" + strconv.Itoa(port)
	return p, nil
}

// Close stops the provider (see Stop) and removes its temporary directory;
// the provider cannot be restarted afterwards. It is safe to call more than
// once.
func (p *Provider) Close() {
	p.Stop()
	if p.tmp != "" {
		_ = os.RemoveAll(p.tmp)
	}
}

// Stop sends SIGTERM to the provider and waits for it to exit (killing it
// after 10s). It is safe to call more than once.
func (p *Provider) Stop() {
	p.mu.Lock()
	proc := p.proc
	p.proc = nil
	p.mu.Unlock()
	if proc == nil {
		return
	}
	proc.stop()
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
}

// Restart stops the provider and starts a new one on the same port, with the
// same TLS certificate, CA and issuer. All in-memory state (clients,
// registration access tokens, access tokens) is lost; the request counters
// start from zero.
func (p *Provider) Restart(t testing.TB) {
	t.Helper()
	p.Stop()
	var err error
	// The port was just released; retry briefly in case the OS is slow to
	// make it available again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err = p.launchRetry(p.Port, p.URL)
		if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "EADDRINUSE") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("oidcprovider: restart: %v", err)
	}
}

// HTTPClient returns an HTTP client that trusts CAPEM (and nothing else). The
// same client is returned on every call and survives Restart.
func (p *Provider) HTTPClient() *http.Client { return p.client }

// Clients returns the ids of the clients the provider currently holds, sorted.
func (p *Provider) Clients(t testing.TB) []string {
	t.Helper()
	return adminGet[[]string](t, p, "/__admin/clients")
}

// ClientInfo is one client the provider holds, as its admin endpoint shows
// it.
type ClientInfo struct {
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
	// Metadata is everything the provider stores for the client (its
	// registered metadata, client_id_issued_at, ...), client_secret left out.
	Metadata map[string]any `json:"-"`
}

// ClientsInfo returns every client the provider currently holds with its
// stored metadata, sorted by client id: what an administrator sees in the
// provider's console, e.g. to find a client a lost registration answer
// created, by its client_name.
func (p *Provider) ClientsInfo(t testing.TB) []ClientInfo {
	t.Helper()
	raw := adminGet[[]map[string]any](t, p, "/__admin/client-metadata")
	out := make([]ClientInfo, 0, len(raw))
	for _, md := range raw {
		c := ClientInfo{Metadata: md}
		c.ClientID, _ = md["client_id"].(string)
		c.ClientName, _ = md["client_name"].(string)
		out = append(out, c)
	}
	return out
}

// DeleteClient deletes a client and its registration access tokens at the
// provider, as an administrator would in its console (no RFC 7592 token
// needed). It reports whether the client existed.
func (p *Provider) DeleteClient(t testing.TB, clientID string) bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, p.URL+"/__admin/clients/"+url.PathEscape(clientID), nil)
	if err != nil {
		t.Fatalf("oidcprovider: %v", err)
	}
	req.Header.Set("X-Admin-Token", p.adminToken)
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("oidcprovider: DELETE client %s: %v%s", clientID, err, p.stderrSuffix())
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case http.StatusNoContent:
		return true
	case http.StatusNotFound:
		return false
	}
	t.Fatalf("oidcprovider: DELETE client %s: status %d: %s", clientID, resp.StatusCode, body)
	return false
}

// Stats returns the request counters of the running provider process.
func (p *Provider) Stats(t testing.TB) Stats {
	t.Helper()
	return adminGet[Stats](t, p, "/__admin/stats")
}

// Read is one RFC 7592 read (GET /reg/{client_id}) the provider received.
type Read struct {
	// At is when it arrived, by the provider's clock (this machine's), to
	// the millisecond.
	At time.Time
	// ClientID is the client_id in the request's path.
	ClientID string
	// Status is the provider's answer: 200, or 401 for an unknown client or
	// a wrong registration access token.
	Status int
}

// Reads returns the RFC 7592 reads the running provider process received at
// or after since, in the order they arrived: which client was read when,
// e.g. to see how reads spread over time. The process keeps the last
// 500,000 to 1,000,000 reads (a restart forgets them); asking about a time
// it no longer holds fails t rather than answering short.
func (p *Provider) Reads(t testing.TB, since time.Time) []Read {
	t.Helper()
	reads, err := p.reads(since)
	if err != nil {
		t.Fatalf("oidcprovider: %v", err)
	}
	return reads
}

func (p *Provider) reads(since time.Time) ([]Read, error) {
	var body struct {
		// Reads are [arrival Unix ms, client_id, status].
		Reads [][3]json.RawMessage `json:"reads"`
	}
	if err := p.admin("/__admin/reads?since="+strconv.FormatInt(since.UnixMilli(), 10), &body); err != nil {
		return nil, fmt.Errorf("reading the read log: %w", err)
	}
	out := make([]Read, 0, len(body.Reads))
	for _, r := range body.Reads {
		var ms int64
		var read Read
		if err := json.Unmarshal(r[0], &ms); err != nil {
			return nil, fmt.Errorf("read log entry %s: arrival: %w", r, err)
		}
		if err := json.Unmarshal(r[1], &read.ClientID); err != nil {
			return nil, fmt.Errorf("read log entry %s: client_id: %w", r, err)
		}
		if err := json.Unmarshal(r[2], &read.Status); err != nil {
			return nil, fmt.Errorf("read log entry %s: status: %w", r, err)
		}
		read.At = time.UnixMilli(ms)
		out = append(out, read)
	}
	return out, nil
}

// JWKSSource is one JWK Set source of the stateless integration, as the
// running provider sees it.
type JWKSSource struct {
	Issuer string `json:"issuer"`
	// Fetches counts the fetches of a jwksUri (0 for inline keys).
	Fetches int `json:"fetches"`
	// Kids are the key ids in the set in use.
	Kids []string `json:"kids"`
}

// StatelessSources returns the integration's JWK Set sources (none without
// Options.Stateless).
func (p *Provider) StatelessSources(t testing.TB) []JWKSSource {
	t.Helper()
	return adminGet[[]JWKSSource](t, p, "/__admin/stateless")
}

// adminGet decodes the answer of the admin endpoint path; a failure fails t.
func adminGet[T any](t testing.TB, p *Provider, path string) T {
	t.Helper()
	var v T
	if err := p.admin(path, &v); err != nil {
		t.Fatalf("oidcprovider: %v", err)
	}
	return v
}

func (p *Provider) admin(path string, into any) error {
	req, err := http.NewRequest(http.MethodGet, p.URL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Admin-Token", p.adminToken)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w%s", path, err, p.stderrSuffix())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: decoding %q: %w", path, body, err)
	}
	return nil
}

// ClientCredentialsToken posts grant_type=client_credentials to the token
// endpoint, authenticating with HTTP Basic, the id and secret each
// form-urlencoded first (RFC 6749 §2.3.1). It returns the status and body.
func (p *Provider) ClientCredentialsToken(ctx context.Context, clientID, secret string) (int, []byte, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// RawRegistrationRate registers n client-credentials clients from
// `concurrency` goroutines with a plain keep-alive net/http client that trusts
// the provider's CA, sending the initial access token if one is configured. It
// returns the elapsed wall time, and an error on the first transport failure
// or non-201 answer. It measures the peer, not clientreg: use it as the
// baseline for registration throughput.
func (p *Provider) RawRegistrationRate(ctx context.Context, n, concurrency int) (time.Duration, error) {
	if n <= 0 {
		return 0, nil
	}
	if concurrency <= 0 {
		concurrency = 1
	}
	client := newHTTPClient(p.CAPEM, concurrency)
	defer client.CloseIdleConnections()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := p.rawRegister(ctx, client, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return elapsed, err
	}
	return elapsed, nil
}

func (p *Provider) rawRegister(ctx context.Context, client *http.Client, i int) error {
	body := fmt.Sprintf(`{"grant_types":["client_credentials"],"response_types":[],"token_endpoint_auth_method":"client_secret_basic","client_name":"raw-%d"}`, i)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/reg", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if p.opts.InitialAccessToken != "" {
		req.Header.Set("Authorization", "Bearer "+p.opts.InitialAccessToken)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("registration raw-%d: %w", i, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("registration raw-%d: status %d: %s", i, resp.StatusCode, b)
	}
	return nil
}

// launchRetry starts the provider, again when a start stalls: on this
// workplace node has been seen, about once in ten starts, to print its
// runtime warning and then never finish loading (cause not found; see the
// session notes). A stalled start is killed after startTimeout.
func (p *Provider) launchRetry(port int, issuer string) (int, error) {
	var errs []error
	for attempt := 0; attempt < startAttempts; attempt++ {
		got, err := p.launch(port, issuer)
		if err == nil {
			return got, nil
		}
		errs = append(errs, err)
	}
	return 0, fmt.Errorf("provider did not start in %d attempts: %w", startAttempts, errors.Join(errs...))
}

// launch starts node on port (0 = free) with the given issuer ("" = default)
// and waits for LISTENING.
func (p *Provider) launch(port int, issuer string) (int, error) {
	cmd := exec.Command("node", "provider.mjs")
	cmd.Dir = p.dir
	env := []string{
		"HOST=127.0.0.1",
		"PORT=" + strconv.Itoa(port),
		"TLS_CERT=" + p.certFile,
		"TLS_KEY=" + p.keyFile,
		"ADMIN_TOKEN=" + p.adminToken,
		"IAT=" + p.opts.InitialAccessToken,
		"ISSUER=" + issuer,
		"EXIT_ON_STDIN_EOF=1",
		"ROTATE_RAT=" + map[bool]string{false: "0", true: "1"}[p.opts.RotateRegistrationAccessToken],
	}
	if p.configFile != "" {
		env = append(env, "CONFIG_FILE="+p.configFile)
	}
	if p.trustFile != "" {
		env = append(env, "NODE_EXTRA_CA_CERTS="+p.trustFile)
	}
	cmd.Env = append(filteredEnv(), env...)

	stdin, err := cmd.StdinPipe() // closed when this process dies: provider.mjs then exits
	if err != nil {
		return 0, err
	}
	tail := &tailBuffer{max: tailBytes}
	listening := make(chan int, 1)
	cmd.Stdout = &stdoutProtocol{listening: listening, diag: tail}
	cmd.Stderr = tail
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting node provider.mjs: %w", err)
	}
	proc := &process{cmd: cmd, stdin: stdin, done: make(chan struct{}), tail: tail}
	go func() {
		proc.err = cmd.Wait()
		close(proc.done)
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case got := <-listening:
		if port != 0 && got != port {
			proc.stop()
			return 0, fmt.Errorf("provider listens on %d, want %d", got, port)
		}
		p.mu.Lock()
		p.proc = proc
		p.mu.Unlock()
		return got, nil
	case <-proc.done:
		return 0, fmt.Errorf("node provider.mjs exited before listening (%v); stderr:\n%s", proc.err, tail.String())
	case <-timer.C:
		proc.stop()
		return 0, fmt.Errorf("node provider.mjs did not print LISTENING within %s; stderr:\n%s", startTimeout, tail.String())
	}
}

func (proc *process) stop() {
	select {
	case <-proc.done:
		return
	default:
	}
	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = proc.cmd.Process.Kill()
	}
	select {
	case <-proc.done:
	case <-time.After(stopTimeout):
		_ = proc.cmd.Process.Kill()
		<-proc.done
	}
	_ = proc.stdin.Close()
}

// Stderr returns the last 16 KiB the running provider process wrote to
// stderr (oidc-provider's notices, the stateless integration's refusal
// reasons, errors), for test diagnostics; "" when it is not running.
func (p *Provider) Stderr() string {
	proc := p.running()
	if proc == nil {
		return ""
	}
	return proc.tail.String()
}

// running returns the provider process, nil when none runs.
func (p *Provider) running() *process {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc
}

func (p *Provider) stderrSuffix() string {
	proc := p.running()
	if proc == nil {
		return " (provider not running)"
	}
	select {
	case <-proc.done:
		return fmt.Sprintf(" (provider exited: %v; stderr:\n%s)", proc.err, proc.tail.String())
	default:
		return ""
	}
}

// filteredEnv is the test process's environment minus the variables the
// provider reads, so that a developer's shell cannot leak into it.
func filteredEnv() []string {
	return EnvWithout("HOST", "PORT", "TLS_CERT", "TLS_KEY", "ADMIN_TOKEN",
		"IAT", "ISSUER", "ROTATE_RAT", "EXIT_ON_STDIN_EOF",
		"CONFIG_FILE", "NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED", "NODE_OPTIONS")
}

// EnvWithout is the test process's environment minus the named variables,
// for the node processes the harnesses start.
func EnvWithout(names ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, k) {
			out = append(out, kv)
		}
	}
	return out
}

// RequireNode skips the test when node is not on PATH, or fails it when CI
// is set (CI must run the interop tests).
func RequireNode(t testing.TB) { t.Helper(); requireNode(t) }

// Dir returns hack/interop, where the npm project and its scripts live.
func Dir(t testing.TB) string { t.Helper(); return interopDir(t) }

// requireNode skips (CI unset) or fails (CI set) when node is not on PATH.
func requireNode(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node is not on PATH (CI is set, so this is a failure): %v", err)
		}
		t.Skipf("node is not on PATH (%v); install Node.js >= 20 to run the npm interop tests", err)
	}
}

// interopDir is hack/interop, the parent of this package's directory.
func interopDir(t testing.TB) string {
	t.Helper()
	dir, err := findInteropDir()
	if err != nil {
		t.Fatalf("oidcprovider: %v", err)
	}
	return dir
}

// NodeProject readies a harness's node project: it checks that node is on
// PATH, finds the project's directory with find and installs its pinned
// npm dependencies with ensure, and returns the directory. The error wraps
// ErrNoNode when node is not on PATH.
func NodeProject(find func() (string, error), ensure func(dir string) error) (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("%w (%v)", ErrNoNode, err)
	}
	dir, err := find()
	if err != nil {
		return "", err
	}
	if err := ensure(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// findInteropDir locates hack/interop from this source file's path.
func findInteropDir() (string, error) { return ParentDirWith("provider.mjs") }

// ParentDirWith returns the parent directory of the calling Go package's
// source directory, which must hold the file marker (a harness finds its
// node project this way). It relies on the source path the Go toolchain
// records (go test, go run and go build without -trimpath).
func ParentDirWith(marker string) (string, error) {
	_, file, _, ok := runtime.Caller(1)
	if !ok {
		return "", errors.New("cannot locate the calling package's source")
	}
	dir := filepath.Dir(filepath.Dir(file))
	if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
		return "", fmt.Errorf("%s/%s not found (built with -trimpath, or outside the repository?): %w", dir, marker, err)
	}
	return dir, nil
}

var depsMu sync.Mutex

// EnsureDeps runs `npm ci --prefix dir` unless node_modules already holds
// every dependency of dir/package.json at its pinned version. A file lock
// serialises test binaries of different packages (this one and
// hack/interop/openidclient) that start at the same time, so no harness
// starts node while another reinstalls the modules.
func EnsureDeps(dir string) error { return ensureDeps(dir) }

// EnsurePinnedDeps runs `npm ci --prefix dir` unless dir/node_modules
// already holds every dependency of dir/package.json at its pinned version,
// under the same locks as EnsureDeps: for npm projects of other harnesses
// (hack/mcp).
func EnsurePinnedDeps(dir string) error {
	ok := func() bool {
		deps, ok := pinnedDeps(dir)
		return ok && allInstalled(dir, deps)
	}
	return npmCI(dir, ok, "run `npm ci --prefix "+dir+"`", "the pinned dependencies of package.json")
}

func ensureDeps(dir string) error {
	return npmCI(dir, func() bool { return depsInstalled(dir) },
		"install npm, or run `npm ci --prefix hack/interop`", "the pinned dependencies of package.json")
}

// npmCI runs `npm ci` in dir unless ok reports its dependencies installed,
// under depsMu and a file lock that other test processes share. noNPM says
// what to do when npm is not on PATH; pinned names what ok checks.
func npmCI(dir string, ok func() bool, noNPM, pinned string) error {
	depsMu.Lock()
	defer depsMu.Unlock()
	if ok() {
		return nil
	}
	unlock, err := lockFile(filepath.Join(os.TempDir(), "clientreg-interop-npm-"+shortHash(dir)+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if ok() {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("%s/node_modules is missing or stale and npm is not on PATH: %s (%v)", dir, noNPM, err)
	}
	cmd := exec.Command(npm, "ci", "--prefix", dir, "--no-audit", "--no-fund")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci --prefix %s: %v\n%s", dir, err, out.String())
	}
	if !ok() {
		return fmt.Errorf("npm ci --prefix %s succeeded but node_modules does not hold %s", dir, pinned)
	}
	return nil
}

// depsInstalled reports whether package.json pins oidc-provider at
// PinnedVersion and node_modules holds every dependency of package.json at
// exactly its pinned version.
func depsInstalled(dir string) bool {
	deps, ok := pinnedDeps(dir)
	return ok && deps["oidc-provider"] == PinnedVersion && allInstalled(dir, deps)
}

// pinnedDeps returns the dependencies of dir/package.json.
func pinnedDeps(dir string) (map[string]string, bool) {
	var manifest struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil || json.Unmarshal(b, &manifest) != nil {
		return nil, false
	}
	return manifest.Dependencies, true
}

// allInstalled reports whether dir/node_modules holds every one of deps.
func allInstalled(dir string, deps map[string]string) bool {
	for name, want := range deps {
		if !installed(dir, name, want) {
			return false
		}
	}
	return true
}

// installed reports whether dir/node_modules/<name> is the package that the
// pinned spec want names: an exact version, or an npm alias
// "npm:<package>@<exact version>" (two majors of one package side by side).
func installed(dir, name, want string) bool {
	wantName := name
	if alias, ok := strings.CutPrefix(want, "npm:"); ok {
		i := strings.LastIndex(alias, "@")
		if i <= 0 {
			return false
		}
		wantName, want = alias[:i], alias[i+1:]
	}
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
	if err != nil {
		return false
	}
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	return json.Unmarshal(b, &pkg) == nil && pkg.Name == wantName && pkg.Version == want
}

// ensureIntegrationDeps runs `npm ci` in integrations/oidc-provider unless
// its node_modules holds its pinned dependencies (jose): provider.mjs
// imports the integration from there, and the integration resolves its own
// dependencies from its own directory.
func ensureIntegrationDeps(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "index.mjs")); err != nil {
		return fmt.Errorf("the stateless-id integration is not at %s: %w", dir, err)
	}
	ok := func() bool {
		deps, ok := pinnedDeps(dir)
		return ok && allInstalled(dir, deps)
	}
	return npmCI(dir, ok, "run `npm ci --prefix "+dir+"`", "the pinned dependencies")
}

func shortHash(s string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return strconv.FormatUint(uint64(h), 16)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newHTTPClient returns a client trusting only caPEM; maxIdlePerHost 0 keeps
// the transport default.
func newHTTPClient(caPEM []byte, maxIdlePerHost int) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // never send loopback traffic through a proxy from the environment
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if maxIdlePerHost > 0 {
		tr.MaxIdleConns = maxIdlePerHost * 2
		tr.MaxIdleConnsPerHost = maxIdlePerHost
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// newCerts returns a fresh test CA and a server certificate for 127.0.0.1.
func newCerts() (caPEM, certPEM, keyPEM []byte, err error) { return testcerts.New() }

// stdoutProtocol parses provider.mjs's stdout: the first "LISTENING <port>"
// line is sent on listening; anything else is kept for diagnostics.
type stdoutProtocol struct {
	listening chan<- int
	diag      io.Writer
	announced bool
	partial   []byte
}

func (w *stdoutProtocol) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimRight(string(w.partial[:i]), "\r")
		w.partial = w.partial[i+1:]
		if !w.announced {
			if rest, ok := strings.CutPrefix(line, "LISTENING "); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
					w.announced = true
					w.listening <- n
					continue
				}
			}
		}
		fmt.Fprintf(w.diag, "[stdout] %s\n", line)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// TailBuffer is an io.Writer that keeps the last max bytes written to it
// (a child process's stderr, for messages); String returns them as valid
// UTF-8.
type TailBuffer = tailBuffer

// NewTailBuffer returns a TailBuffer of size bytes.
func NewTailBuffer(size int) *TailBuffer { return &tailBuffer{max: size} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.ToValidUTF8(string(b.buf), "?")
}
