// Package openidclient drives the REAL third-party registration client
// openid-client (npm, v5, pinned exactly in hack/interop/package.json and
// package-lock.json) against an RFC 7591 registration endpoint, for Go tests.
//
// Register installs the npm dependencies when hack/interop/node_modules is
// missing or stale (npm ci, serialised with the oidcprovider package by the
// same file lock), then runs `node hack/interop/register.mjs`, which trusts
// only the given CA, calls Issuer.discover, Client.register and optionally
// Client.fromUri (the RFC 7592 read), and reports one JSON line.
//
// What openid-client 5.7.1 demands of a server (read from lib/issuer.js,
// lib/client.js, lib/helpers/request.js and lib/helpers/process_response.js;
// the tests below pin the non-obvious ones against a fake server):
//   - Discovery is GET <issuer>/.well-known/openid-configuration (appended to
//     the issuer's path; an issuer URL already containing /.well-known/ is used
//     as is). No RFC 8414 oauth-authorization-server fallback. Exactly 200 with
//     a JSON body.
//   - Issuer.discover does NOT compare the document's "issuer" with the URL it
//     was given (only Issuer.webfinger does): a mismatch passes unnoticed, and
//     Result.Discovered.Issuer is what the document says. (v6 does check.)
//   - The document must carry registration_endpoint, else TypeError before
//     any registration request.
//   - Registration is POST application/json with Accept: application/json and
//     "Authorization: Bearer <initial access token>" (verbatim) when given. The
//     answer must be exactly 201 (a 200 is "OPError: expected 201 Created,
//     got: 200 OK") with a non-empty JSON body (the Content-Type is not
//     checked; a non-JSON body is a SyntaxError) whose client_id is a non-empty
//     string ("TypeError: client_id is required").
//   - Nothing else in the answer is validated: client_secret_expires_at may be
//     absent or even a string, and registration_client_uri /
//     registration_access_token are only needed for the read.
//   - The answer is not reported verbatim: client-side defaults fill absent
//     fields (grant_types ["authorization_code"], response_types ["code"],
//     token_endpoint_auth_method "client_secret_basic" or "client_secret_post"
//     when discovery lists post but not basic, id_token_signed_response_alg and
//     authorization_signed_response_alg "RS256"). Assert server behaviour on
//     the fields the server sets, not on these.
//   - Errors: on an unexpected status a WWW-Authenticate header with
//     error="..." wins (the body is then ignored); otherwise a JSON body with a
//     string "error" becomes "OPError: <error> (<error_description>)";
//     otherwise "OPError: expected 201 Created, got: <status>".
//   - The RFC 7592 read is GET registration_client_uri with "Bearer
//     <registration access token>" and must answer exactly 200 with a JSON
//     body and a non-empty client_id (not compared with the registered one).
//   - Transport: http: and https: are both accepted for any host; v5 has no
//     allowInsecureRequests and no loopback rule, so http://127.0.0.1 issuers
//     work (so would any plain-http issuer). It sends Accept-Encoding:
//     identity and cannot decompress, follows no redirects, and times out each
//     request after 3.5 s by default (register.mjs raises that to 15 s).
//
// Tests that call Register are skipped when `node` is not on PATH, unless the
// CI environment variable is set, in which case they fail.
package openidclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
)

// PinnedVersion is the exact openid-client version in hack/interop/package.json.
const PinnedVersion = "5.7.1"

const runTimeout = 60 * time.Second

// Result is what openid-client reported.
type Result struct {
	// OK is true when discovery, registration and (if asked) the read all
	// succeeded.
	OK bool `json:"ok"`
	// Error is "<name>: <message>" of the first failure, e.g.
	// "OPError: invalid_token (invalid token provided)".
	Error string `json:"error"`
	// Code is the Node error code when there is one (TLS and socket errors,
	// e.g. "SELF_SIGNED_CERT_IN_CHAIN", "ECONNREFUSED").
	Code string `json:"code"`
	// Status is the HTTP status of the failing response, 0 if there was none.
	Status int `json:"status"`
	// Body is the failing response's body: decoded JSON, else a string; nil
	// if there was none.
	Body any `json:"body"`
	// Discovered is what the discovery document said.
	Discovered struct {
		Issuer               string `json:"issuer"`
		RegistrationEndpoint string `json:"registration_endpoint"`
	} `json:"discovered"`
	// Registered is client.metadata after Client.register (see the package
	// doc: client-side defaults are merged in). It is also set when only the
	// read failed. JSON numbers are json.Number.
	Registered map[string]any `json:"registered"`
	// Read is client.metadata after Client.fromUri; nil unless read was
	// requested and succeeded. JSON numbers are json.Number.
	Read map[string]any `json:"read"`
}

// Register runs openid-client's discovery, registration with metadata (sending
// initialAccessToken as a bearer token when non-empty) and, if read is true,
// the RFC 7592 read, against issuer, trusting only caPEM. It fails the test on
// harness errors (npm, node, timeout, malformed output); a server rejecting the
// client is reported in the Result, not as a test failure.
func Register(t testing.TB, issuer string, caPEM []byte, initialAccessToken string, metadata map[string]any, read bool) Result {
	t.Helper()
	dir := scriptDir(t, "register.mjs")
	if metadata == nil {
		metadata = map[string]any{}
	}
	in := struct {
		Issuer             string         `json:"issuer"`
		CAPEM              string         `json:"caPEM"`
		InitialAccessToken *string        `json:"initialAccessToken"`
		Metadata           map[string]any `json:"metadata"`
		Read               bool           `json:"read"`
	}{Issuer: issuer, CAPEM: string(caPEM), Metadata: metadata, Read: read}
	if initialAccessToken != "" {
		in.InitialAccessToken = &initialAccessToken
	}
	var res Result
	runScript(t, dir, "register.mjs", in, true, func(stdout []byte) (ok bool, err error) {
		res, err = parseOutput(stdout)
		return res.OK, err
	})
	return res
}

// scriptDir returns hack/interop after checking that script is there and
// that the npm dependencies are installed; no node skips (or, in CI, fails)
// t.
func scriptDir(t testing.TB, script string) string {
	t.Helper()
	oidcprovider.RequireNode(t)
	dir := oidcprovider.Dir(t)
	if _, err := os.Stat(filepath.Join(dir, script)); err != nil {
		t.Fatalf("openidclient: %s/%s not found: %v", dir, script, err)
	}
	if err := oidcprovider.EnsureDeps(dir); err != nil {
		t.Fatalf("openidclient: %v", err)
	}
	return dir
}

// runScript runs `node script` in dir with in, JSON-encoded, on its stdin and
// hands what it printed to parse. A failed or timed-out run, or a parse
// error, fails t; the stdout of a failed run is quoted in that message only
// when showStdout (it may hold a client secret). The script's stderr is
// logged when parse reports the run not ok.
func runScript(t testing.TB, dir, script string, in any, showStdout bool, parse func(stdout []byte) (ok bool, err error)) {
	t.Helper()
	stdin, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("openidclient: encoding the input: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = filteredEnv()
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("openidclient: node %s did not finish within %s; stderr:\n%s", script, runTimeout, errOut.String())
	}
	if runErr != nil {
		if showStdout {
			t.Fatalf("openidclient: node %s: %v; stdout: %q; stderr:\n%s", script, runErr, out.String(), errOut.String())
		}
		t.Fatalf("openidclient: node %s: %v; stderr:\n%s", script, runErr, errOut.String())
	}
	ok, err := parse(out.Bytes())
	if err != nil {
		t.Fatalf("openidclient: %v; stderr:\n%s", err, errOut.String())
	}
	if !ok {
		t.Logf("openidclient: %s stderr:\n%s", script, errOut.String())
	}
}

// parseOutput decodes register.mjs's stdout, which must be exactly one JSON
// line.
func parseOutput(out []byte) (Result, error) {
	var res Result
	line, rest, found := bytes.Cut(out, []byte("\n"))
	if !found || len(bytes.TrimSpace(rest)) != 0 {
		return res, fmt.Errorf("register.mjs must print exactly one line, got %q", out)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		return res, fmt.Errorf("decoding register.mjs output %q: %w", line, err)
	}
	if !res.OK && res.Error == "" {
		return res, fmt.Errorf("register.mjs reported ok:false without an error: %q", line)
	}
	return res, nil
}

// filteredEnv is the test process's environment minus the variables that could
// weaken or widen certificate verification or inject code into node.
func filteredEnv() []string {
	return oidcprovider.EnvWithout("NODE_TLS_REJECT_UNAUTHORIZED", "NODE_EXTRA_CA_CERTS", "NODE_OPTIONS",
		"SSL_CERT_FILE", "SSL_CERT_DIR")
}
