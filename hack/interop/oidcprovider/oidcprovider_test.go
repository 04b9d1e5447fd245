package oidcprovider

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg/internal/josetest"
)

// Observed behaviour of node-oidc-provider 9.13.3 (asserted below, so a
// version bump that changes it fails here first):
//
// Registration (POST /reg)
//   - {"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}
//     WITHOUT "response_types": [] is rejected: 400
//     {"error":"invalid_redirect_uri","error_description":"redirect_uris is mandatory property"}.
//     The default response_types ["code"] is applied, which requires redirect_uris.
//     With "response_types": [] it is 201 and the answer carries "redirect_uris": [].
//   - 201 carries client_id, client_secret, client_secret_expires_at: 0,
//     client_id_issued_at, registration_access_token and
//     registration_client_uri (= <issuer>/reg/<client_id>).
//   - With a static initial access token configured: no/wrong bearer token →
//     401 {"error":"invalid_token"}; the right one → 201.
//
// Read (GET /reg/{id}): 200, returns the same registration_access_token
// (never rotated on GET) and the current client_secret.
//
// Update (PUT /reg/{id}) — RFC 7592 full replacement:
//   - client_id must be present and equal, else 400 invalid_request.
//   - client_secret OMITTED from the body: 200, the secret is KEPT unchanged
//     (the response echoes the old client_secret and client_secret_expires_at
//     0; the old secret still works at /token). The server never generates a
//     new secret for an existing client over RFC 7592.
//   - client_secret PRESENT and EQUAL to the current one: 200, same as
//     omitted (secret unchanged).
//   - client_secret PRESENT and DIFFERENT: 400
//     {"error":"invalid_request","error_description":"provided client_secret does not match the authenticated client's one"};
//     the client is unchanged and the registration access token stays valid
//     (even with rotation on, as the check precedes rotation).
//     => rotating a secret on this server means registering a new client.
//   - Omitted metadata reverts to defaults: a PUT without "response_types": []
//     fails exactly like the registration (400 invalid_redirect_uri).
//   - registration_access_token / registration_client_uri /
//     client_secret_expires_at / client_id_issued_at in the body → 400
//     invalid_request ("request MUST NOT include the <field> field").
//   - rotateRegistrationAccessToken=true: every successful PUT returns a NEW
//     registration_access_token and the old one is destroyed (GET with it →
//     401). With false, the same token is returned and keeps working.
//
// Delete: 204; afterwards GET with the (destroyed) token → 401 invalid_token,
// and /token with the old credentials → 401 invalid_client.
// Restart: all state is lost; GET /reg/{id} → 401 invalid_token.

// ccRegistration is a client-credentials-only registration that this server
// accepts.
var ccRegistration = map[string]any{
	"grant_types":                []string{"client_credentials"},
	"response_types":             []string{},
	"token_endpoint_auth_method": "client_secret_basic",
	"client_name":                "harness test",
}

type registered struct {
	ClientID              string `json:"client_id"`
	ClientSecret          string `json:"client_secret"`
	ClientSecretExpiresAt *int64 `json:"client_secret_expires_at"`
	RegistrationToken     string `json:"registration_access_token"`
	RegistrationURI       string `json:"registration_client_uri"`
	Error                 string `json:"error"`
	ErrorDescription      string `json:"error_description"`
}

type response struct {
	status int
	body   []byte
	reg    registered
}

// do sends a JSON request (body nil = none) with an optional bearer token.
func do(t *testing.T, p *Provider, method, url, bearer string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := p.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	r := response{status: resp.StatusCode}
	if r.body, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if len(r.body) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(r.body, &r.reg); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, url, r.body, err)
		}
	}
	return r
}

func expect(t *testing.T, what string, r response, status int, errCode string) {
	t.Helper()
	if r.status != status || r.reg.Error != errCode {
		t.Fatalf("%s: got %d %q, want %d %q; body: %s", what, r.status, r.reg.Error, status, errCode, r.body)
	}
}

func register(t *testing.T, p *Provider, iat string, body map[string]any) registered {
	t.Helper()
	r := do(t, p, http.MethodPost, p.URL+"/reg", iat, body)
	expect(t, "register", r, http.StatusCreated, "")
	return r.reg
}

// update returns ccRegistration plus client_id plus extra.
func update(clientID string, extra map[string]any) map[string]any {
	return josetest.With(ccRegistration, map[string]any{"client_id": clientID}, extra)
}

func tokenStatus(t *testing.T, p *Provider, id, secret string) (int, []byte) {
	t.Helper()
	status, body, err := p.ClientCredentialsToken(t.Context(), id, secret)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return status, body
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	p := Start(t, Options{})
	r := do(t, p, http.MethodGet, p.URL+"/.well-known/openid-configuration", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("discovery: %d %s", r.status, r.body)
	}
	var d struct {
		Issuer               string   `json:"issuer"`
		RegistrationEndpoint string   `json:"registration_endpoint"`
		TokenEndpoint        string   `json:"token_endpoint"`
		GrantTypesSupported  []string `json:"grant_types_supported"`
	}
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != p.URL || d.RegistrationEndpoint != p.URL+"/reg" || d.TokenEndpoint != p.URL+"/token" {
		t.Errorf("discovery = %+v, want issuer %s with /reg and /token", d, p.URL)
	}
	if !slices.Contains(d.GrantTypesSupported, "client_credentials") {
		t.Errorf("grant_types_supported = %v, want client_credentials", d.GrantTypesSupported)
	}
	if !strings.HasPrefix(p.URL, "https://127.0.0.1:") || len(p.CAPEM) == 0 || p.Port == 0 {
		t.Errorf("URL=%q Port=%d CAPEM=%d bytes", p.URL, p.Port, len(p.CAPEM))
	}
}

func TestRegistrationLifecycleWithRotation(t *testing.T) {
	t.Parallel()
	p := Start(t, Options{RotateRegistrationAccessToken: true})

	c := register(t, p, "", ccRegistration)
	if c.ClientID == "" || c.ClientSecret == "" || c.RegistrationToken == "" {
		t.Fatalf("registration answer lacks credentials: %+v", c)
	}
	if c.RegistrationURI != p.URL+"/reg/"+c.ClientID {
		t.Fatalf("registration_client_uri = %q", c.RegistrationURI)
	}
	if c.ClientSecretExpiresAt == nil || *c.ClientSecretExpiresAt != 0 {
		t.Fatalf("client_secret_expires_at = %v, want 0", c.ClientSecretExpiresAt)
	}
	if ids := p.Clients(t); !slices.Contains(ids, c.ClientID) {
		t.Fatalf("Clients() = %v, want %s", ids, c.ClientID)
	}

	// Token endpoint.
	status, body := tokenStatus(t, p, c.ClientID, c.ClientSecret)
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &tok); status != http.StatusOK || err != nil || tok.AccessToken == "" {
		t.Fatalf("client_credentials: %d %s", status, body)
	}
	if status, body := tokenStatus(t, p, c.ClientID, c.ClientSecret+"x"); status != http.StatusUnauthorized || !bytes.Contains(body, []byte(`"invalid_client"`)) {
		t.Fatalf("client_credentials with a wrong secret: %d %s, want 401 invalid_client", status, body)
	}

	// Read: the registration access token is not rotated on GET.
	r := do(t, p, http.MethodGet, c.RegistrationURI, c.RegistrationToken, nil)
	expect(t, "GET", r, http.StatusOK, "")
	if r.reg.ClientID != c.ClientID || r.reg.ClientSecret != c.ClientSecret || r.reg.RegistrationToken != c.RegistrationToken {
		t.Fatalf("GET answer %+v differs from registration %+v", r.reg, c)
	}
	expect(t, "GET without a token", do(t, p, http.MethodGet, c.RegistrationURI, "", nil), http.StatusUnauthorized, "invalid_token")

	// PUT, client_secret omitted: 200, secret kept, token rotated.
	rat := c.RegistrationToken
	r = do(t, p, http.MethodPut, c.RegistrationURI, rat, update(c.ClientID, nil))
	expect(t, "PUT without client_secret", r, http.StatusOK, "")
	if r.reg.ClientSecret != c.ClientSecret {
		t.Fatalf("PUT without client_secret changed the secret: %q -> %q", c.ClientSecret, r.reg.ClientSecret)
	}
	if r.reg.ClientSecretExpiresAt == nil || *r.reg.ClientSecretExpiresAt != 0 {
		t.Fatalf("PUT: client_secret_expires_at = %v", r.reg.ClientSecretExpiresAt)
	}
	if r.reg.RegistrationToken == "" || r.reg.RegistrationToken == rat {
		t.Fatalf("PUT with rotation: registration_access_token %q, want a new one (old %q)", r.reg.RegistrationToken, rat)
	}
	expect(t, "GET with the rotated-away token", do(t, p, http.MethodGet, c.RegistrationURI, rat, nil), http.StatusUnauthorized, "invalid_token")
	rat = r.reg.RegistrationToken
	if status, body := tokenStatus(t, p, c.ClientID, c.ClientSecret); status != http.StatusOK {
		t.Fatalf("old secret after PUT: %d %s", status, body)
	}

	// PUT with the same client_secret: 200, unchanged, token rotated again.
	r = do(t, p, http.MethodPut, c.RegistrationURI, rat, update(c.ClientID, map[string]any{"client_secret": c.ClientSecret}))
	expect(t, "PUT with the same client_secret", r, http.StatusOK, "")
	if r.reg.ClientSecret != c.ClientSecret || r.reg.RegistrationToken == rat {
		t.Fatalf("PUT with the same secret: secret %q (was %q), token %q (was %q)", r.reg.ClientSecret, c.ClientSecret, r.reg.RegistrationToken, rat)
	}
	rat = r.reg.RegistrationToken

	// PUT with a different client_secret: 400 invalid_request, nothing changes,
	// the registration access token survives.
	r = do(t, p, http.MethodPut, c.RegistrationURI, rat, update(c.ClientID, map[string]any{"client_secret": "a-new-secret-of-my-choosing"}))
	expect(t, "PUT with a different client_secret", r, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(r.reg.ErrorDescription, "client_secret does not match") {
		t.Errorf("error_description = %q", r.reg.ErrorDescription)
	}
	r = do(t, p, http.MethodGet, c.RegistrationURI, rat, nil)
	expect(t, "GET after the refused PUT", r, http.StatusOK, "")
	if r.reg.ClientSecret != c.ClientSecret {
		t.Fatalf("refused PUT changed the secret")
	}

	// Other refused PUTs.
	expect(t, "PUT without client_id",
		do(t, p, http.MethodPut, c.RegistrationURI, rat, update(c.ClientID, map[string]any{"client_id": nil})),
		http.StatusBadRequest, "invalid_request")
	expect(t, "PUT with registration_access_token",
		do(t, p, http.MethodPut, c.RegistrationURI, rat, update(c.ClientID, map[string]any{"registration_access_token": rat})),
		http.StatusBadRequest, "invalid_request")
	expect(t, "PUT without response_types (defaults to [\"code\"])",
		do(t, p, http.MethodPut, c.RegistrationURI, rat, update(c.ClientID, map[string]any{"response_types": nil})),
		http.StatusBadRequest, "invalid_redirect_uri")

	// Delete.
	r = do(t, p, http.MethodDelete, c.RegistrationURI, rat, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	expect(t, "GET after DELETE", do(t, p, http.MethodGet, c.RegistrationURI, rat, nil), http.StatusUnauthorized, "invalid_token")
	if status, body := tokenStatus(t, p, c.ClientID, c.ClientSecret); status != http.StatusUnauthorized {
		t.Fatalf("token after DELETE: %d %s", status, body)
	}
	if ids := p.Clients(t); slices.Contains(ids, c.ClientID) {
		t.Fatalf("Clients() after DELETE still lists %s", c.ClientID)
	}
}

func TestRegistrationAccessTokenNotRotated(t *testing.T) {
	t.Parallel()
	p := Start(t, Options{RotateRegistrationAccessToken: false})
	c := register(t, p, "", ccRegistration)
	r := do(t, p, http.MethodPut, c.RegistrationURI, c.RegistrationToken, update(c.ClientID, map[string]any{"client_name": "renamed"}))
	expect(t, "PUT", r, http.StatusOK, "")
	if r.reg.RegistrationToken != c.RegistrationToken {
		t.Fatalf("registration_access_token rotated although rotation is off")
	}
	expect(t, "GET with the same token", do(t, p, http.MethodGet, c.RegistrationURI, c.RegistrationToken, nil), http.StatusOK, "")
}

func TestInitialAccessToken(t *testing.T) {
	t.Parallel()
	const iat = "static-initial-access-token"
	p := Start(t, Options{InitialAccessToken: iat})
	expect(t, "register without the IAT", do(t, p, http.MethodPost, p.URL+"/reg", "", ccRegistration), http.StatusUnauthorized, "invalid_token")
	expect(t, "register with a wrong IAT", do(t, p, http.MethodPost, p.URL+"/reg", iat+"x", ccRegistration), http.StatusUnauthorized, "invalid_token")
	c := register(t, p, iat, ccRegistration)
	if c.RegistrationToken == "" {
		t.Fatalf("no registration_access_token: %+v", c)
	}
	// The harness's raw client sends the IAT too.
	if _, err := p.RawRegistrationRate(t.Context(), 10, 2); err != nil {
		t.Fatal(err)
	}
}

// TestResponseTypesQuirk pins the documented quirk: a client-credentials-only
// client must send "response_types": [].
func TestResponseTypesQuirk(t *testing.T) {
	t.Parallel()
	p := Start(t, Options{})
	r := do(t, p, http.MethodPost, p.URL+"/reg", "", map[string]any{
		"grant_types":                []string{"client_credentials"},
		"token_endpoint_auth_method": "client_secret_basic",
	})
	// Observed: 400 {"error":"invalid_redirect_uri","error_description":"redirect_uris is mandatory property"}
	expect(t, "register without response_types", r, http.StatusBadRequest, "invalid_redirect_uri")
	if r.reg.ErrorDescription != "redirect_uris is mandatory property" {
		t.Errorf("error_description = %q", r.reg.ErrorDescription)
	}
	if ids := p.Clients(t); len(ids) != 0 {
		t.Fatalf("refused registration left clients %v", ids)
	}
}

func TestRestartLosesClients(t *testing.T) {
	t.Parallel()
	p := Start(t, Options{RotateRegistrationAccessToken: true})
	url, port, ca := p.URL, p.Port, string(p.CAPEM)
	c := register(t, p, "", ccRegistration)

	p.Restart(t)
	if p.URL != url || p.Port != port || string(p.CAPEM) != ca {
		t.Fatalf("Restart changed URL/port/CA: %s %d -> %s %d", url, port, p.URL, p.Port)
	}
	expect(t, "GET after restart", do(t, p, http.MethodGet, c.RegistrationURI, c.RegistrationToken, nil), http.StatusUnauthorized, "invalid_token")
	if status, body := tokenStatus(t, p, c.ClientID, c.ClientSecret); status != http.StatusUnauthorized {
		t.Fatalf("token after restart: %d %s", status, body)
	}
	if ids := p.Clients(t); len(ids) != 0 {
		t.Fatalf("Clients() after restart = %v", ids)
	}
	r := do(t, p, http.MethodGet, p.URL+"/.well-known/openid-configuration", "", nil)
	var d struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(r.body, &d); err != nil || d.Issuer != url {
		t.Fatalf("issuer after restart = %q (%v), want %q", d.Issuer, err, url)
	}
	register(t, p, "", ccRegistration)
}

func TestStats(t *testing.T) {
	t.Parallel()
	p := Start(t, Options{})
	if s := p.Stats(t); s != (Stats{}) {
		t.Fatalf("fresh Stats() = %+v", s)
	}
	c := register(t, p, "", ccRegistration)
	do(t, p, http.MethodPost, p.URL+"/reg", "", map[string]any{"grant_types": []string{"client_credentials"}}) // refused, still counted
	tokenStatus(t, p, c.ClientID, c.ClientSecret)
	do(t, p, http.MethodGet, c.RegistrationURI, c.RegistrationToken, nil)
	do(t, p, http.MethodGet, c.RegistrationURI, c.RegistrationToken, nil)
	do(t, p, http.MethodPut, c.RegistrationURI, c.RegistrationToken, update(c.ClientID, nil))
	do(t, p, http.MethodDelete, c.RegistrationURI, c.RegistrationToken, nil)
	do(t, p, http.MethodGet, p.URL+"/.well-known/openid-configuration", "", nil) // not counted
	want := Stats{Register: 2, Read: 2, Update: 1, Delete: 1, Token: 1}
	if s := p.Stats(t); s != want {
		t.Fatalf("Stats() = %+v, want %+v", s, want)
	}
}

// TestReads: the read log holds every RFC 7592 read (not the other
// requests) with its client, its answer and when it arrived, and since
// filters by arrival.
func TestReads(t *testing.T) {
	t.Parallel()
	p := Start(t, Options{})
	start := time.Now().Truncate(time.Millisecond)
	if r := p.Reads(t, start); len(r) != 0 {
		t.Fatalf("fresh Reads() = %+v", r)
	}
	a := register(t, p, "", ccRegistration)
	b := register(t, p, "", ccRegistration)
	do(t, p, http.MethodGet, a.RegistrationURI, a.RegistrationToken, nil)
	do(t, p, http.MethodPut, a.RegistrationURI, a.RegistrationToken, update(a.ClientID, nil)) // not a read
	time.Sleep(5 * time.Millisecond)
	mid := time.Now()
	time.Sleep(5 * time.Millisecond)
	do(t, p, http.MethodGet, b.RegistrationURI, b.RegistrationToken, nil)
	do(t, p, http.MethodGet, b.RegistrationURI, "wrong", nil)
	end := time.Now()

	reads := p.Reads(t, start)
	want := []Read{{ClientID: a.ClientID, Status: http.StatusOK}, {ClientID: b.ClientID, Status: http.StatusOK}, {ClientID: b.ClientID, Status: http.StatusUnauthorized}}
	if len(reads) != len(want) {
		t.Fatalf("Reads() = %+v, want %d reads", reads, len(want))
	}
	for i, r := range reads {
		if r.ClientID != want[i].ClientID || r.Status != want[i].Status {
			t.Errorf("read %d = %+v, want client %s status %d", i, r, want[i].ClientID, want[i].Status)
		}
		if r.At.Before(start) || r.At.After(end) || (i > 0 && r.At.Before(reads[i-1].At)) {
			t.Errorf("read %d arrived at %s, want in [%s, %s] and in order", i, r.At, start, end)
		}
	}
	if later := p.Reads(t, mid); len(later) != 2 || later[0].ClientID != b.ClientID {
		t.Errorf("Reads(mid) = %+v, want the two reads of %s", later, b.ClientID)
	}
	if s := p.Stats(t); s.Read != 3 {
		t.Errorf("Stats().Read = %d, want 3", s.Read)
	}
}

// TestClientsInfoAndDeleteClient: the admin view of the clients with their
// metadata (never the secret), and an administrator's delete, after which
// the client's credentials and registration access token are refused.
func TestClientsInfoAndDeleteClient(t *testing.T) {
	t.Parallel()
	p := Start(t, Options{})
	a := register(t, p, "", update("", map[string]any{"client_id": nil, "client_name": "client a"}))
	b := register(t, p, "", update("", map[string]any{"client_id": nil, "client_name": "client b"}))
	infos := p.ClientsInfo(t)
	if len(infos) != 2 {
		t.Fatalf("ClientsInfo() = %+v, want 2 clients", infos)
	}
	names := map[string]string{}
	for _, c := range infos {
		names[c.ClientID] = c.ClientName
		if _, ok := c.Metadata["client_secret"]; ok {
			t.Errorf("ClientsInfo() shows the secret of %s", c.ClientID)
		}
		if c.Metadata["token_endpoint_auth_method"] != "client_secret_basic" || c.Metadata["client_id"] != c.ClientID {
			t.Errorf("metadata of %s = %v", c.ClientID, c.Metadata)
		}
	}
	if names[a.ClientID] != "client a" || names[b.ClientID] != "client b" {
		t.Fatalf("ClientsInfo() names = %v", names)
	}

	if !p.DeleteClient(t, a.ClientID) {
		t.Fatal("DeleteClient of a registered client reported none")
	}
	if p.DeleteClient(t, a.ClientID) {
		t.Error("a second DeleteClient reported the client again")
	}
	if ids := p.Clients(t); len(ids) != 1 || ids[0] != b.ClientID {
		t.Fatalf("Clients() after the delete = %v, want [%s]", ids, b.ClientID)
	}
	if status, body := tokenStatus(t, p, a.ClientID, a.ClientSecret); status != http.StatusUnauthorized {
		t.Errorf("token of the deleted client: %d %s", status, body)
	}
	expect(t, "RFC 7592 GET of the deleted client", do(t, p, http.MethodGet, a.RegistrationURI, a.RegistrationToken, nil), http.StatusUnauthorized, "invalid_token")
	if status, body := tokenStatus(t, p, b.ClientID, b.ClientSecret); status != http.StatusOK {
		t.Errorf("token of the other client: %d %s", status, body)
	}
}

func TestAdminHookRequiresToken(t *testing.T) {
	t.Parallel()
	p := Start(t, Options{})
	c := register(t, p, "", ccRegistration)
	for _, path := range []string{"/__admin/clients", "/__admin/stats", "/__admin/client-metadata", "/__admin/reads?since=0", "DELETE /__admin/clients/" + c.ClientID} {
		method := http.MethodGet
		if m, rest, ok := strings.Cut(path, " "); ok {
			method, path = m, rest
		}
		for _, tok := range []string{"", "wrong"} {
			req, _ := http.NewRequestWithContext(t.Context(), method, p.URL+path, nil)
			if tok != "" {
				req.Header.Set("X-Admin-Token", tok)
			}
			resp, err := p.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || bytes.Contains(body, []byte("register")) || bytes.Contains(body, []byte(c.ClientID)) {
				t.Errorf("%s %s with token %q: %d %s, want 401 and nothing else", method, path, tok, resp.StatusCode, body)
			}
		}
	}
	if ids := p.Clients(t); len(ids) != 1 {
		t.Errorf("Clients() = %v after refused deletes, want the one client", ids)
	}
}

// TestRawRegistrationRate is not parallel, so that it runs alone and the
// figure means something.
func TestRawRegistrationRate(t *testing.T) {
	p := Start(t, Options{})
	const n, concurrency = 200, 8
	elapsed, err := p.RawRegistrationRate(t.Context(), n, concurrency)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node-oidc-provider %s raw registration: %d clients, concurrency %d, %s = %.0f registrations/s",
		PinnedVersion, n, concurrency, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	if ids := p.Clients(t); len(ids) != n {
		t.Fatalf("Clients() has %d entries, want %d", len(ids), n)
	}
	if s := p.Stats(t); s.Register != n {
		t.Fatalf("Stats().Register = %d, want %d", s.Register, n)
	}
}
