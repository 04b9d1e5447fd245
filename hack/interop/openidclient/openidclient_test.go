package openidclient

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
	"github.com/clientreg/clientreg/internal/certtest"
)

var appRegistration = map[string]any{
	"redirect_uris": []string{"https://app.example/cb"},
	"client_name":   "oc",
}

func TestPinnedVersion(t *testing.T) {
	dir := ".."
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, filepath.Join(dir, "package.json"), &pkg)
	if got := pkg.Dependencies["openid-client"]; got != PinnedVersion {
		t.Errorf("package.json pins openid-client %q, want exactly %q", got, PinnedVersion)
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	readJSON(t, filepath.Join(dir, "package-lock.json"), &lock)
	if got := lock.Packages["node_modules/openid-client"].Version; got != PinnedVersion {
		t.Errorf("package-lock.json has openid-client %q, want %q (run npm install --prefix hack/interop)", got, PinnedVersion)
	}
}

func readJSON(t *testing.T, name string, into any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestOpenRegistrationAndRead(t *testing.T) {
	t.Parallel()
	p := oidcprovider.Start(t, oidcprovider.Options{})
	res := Register(t, p.URL, p.CAPEM, "", appRegistration, true)
	if !res.OK {
		t.Fatalf("register: %+v", res)
	}
	if res.Discovered.Issuer != p.URL || res.Discovered.RegistrationEndpoint != p.URL+"/reg" {
		t.Errorf("discovered = %+v, want issuer %s, registration %s/reg", res.Discovered, p.URL, p.URL)
	}
	id, _ := res.Registered["client_id"].(string)
	if id == "" {
		t.Fatalf("registered without client_id: %v", res.Registered)
	}
	for _, k := range []string{"client_secret", "registration_access_token"} {
		if s, _ := res.Registered[k].(string); s == "" {
			t.Errorf("registered lacks %s: %v", k, res.Registered)
		}
	}
	if got := res.Registered["registration_client_uri"]; got != p.URL+"/reg/"+id {
		t.Errorf("registration_client_uri = %v, want %s/reg/%s", got, p.URL, id)
	}
	if got := res.Registered["client_secret_expires_at"]; got != json.Number("0") {
		t.Errorf("client_secret_expires_at = %#v, want 0", got)
	}
	if res.Read["client_id"] != id || res.Read["client_name"] != "oc" {
		t.Errorf("read = %v, want client_id %s and client_name oc", res.Read, id)
	}
	if ids := p.Clients(t); len(ids) != 1 || ids[0] != id {
		t.Errorf("provider holds %v, want [%s]", ids, id)
	}
	if s := p.Stats(t); s.Register != 1 || s.Read != 1 {
		t.Errorf("provider stats = %+v, want one registration and one read", s)
	}
}

func TestInitialAccessToken(t *testing.T) {
	t.Parallel()
	const iat = "the-initial-access-token"
	p := oidcprovider.Start(t, oidcprovider.Options{InitialAccessToken: iat})

	res := Register(t, p.URL, p.CAPEM, "", appRegistration, false)
	if res.OK || res.Status != http.StatusUnauthorized || !strings.Contains(res.Error, "invalid_token") {
		t.Errorf("without the token: %+v, want ok:false, 401 invalid_token", res)
	}
	res = Register(t, p.URL, p.CAPEM, "wrong", appRegistration, false)
	if res.OK || res.Status != http.StatusUnauthorized {
		t.Errorf("with a wrong token: %+v, want ok:false, 401", res)
	}
	if ids := p.Clients(t); len(ids) != 0 {
		t.Fatalf("rejected registrations left clients %v", ids)
	}

	res = Register(t, p.URL, p.CAPEM, iat, appRegistration, true)
	if !res.OK {
		t.Fatalf("with the token: %+v", res)
	}
	if id, _ := res.Registered["client_id"].(string); id == "" || res.Read["client_id"] != id {
		t.Errorf("registered %v, read %v", res.Registered, res.Read)
	}
	if res.Read != nil && res.Read["client_name"] != "oc" {
		t.Errorf("read client_name = %v, want oc", res.Read["client_name"])
	}
}

func TestUntrustedCA(t *testing.T) {
	t.Parallel()
	p := oidcprovider.Start(t, oidcprovider.Options{})
	res := Register(t, p.URL, otherCA(t), "", appRegistration, true)
	if res.OK || res.Status != 0 || res.Code == "" {
		t.Fatalf("with a foreign CA: %+v, want ok:false with a TLS error code and no HTTP status", res)
	}
	t.Logf("foreign CA: %s (%s)", res.Error, res.Code)
	if s := p.Stats(t); s.Register != 0 {
		t.Errorf("a registration reached the provider despite the TLS failure: %+v", s)
	}
}

// otherCA returns the PEM of a fresh self-signed CA that signed nothing.
func otherCA(t *testing.T) []byte {
	t.Helper()
	return certtest.CA(t, "unrelated test CA", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

// fakeServer is a scripted discovery + registration + read endpoint, to pin
// what openid-client accepts and rejects (see the package doc).
type fakeServer struct {
	issuer        string // discovery "issuer"; "" = the server's URL
	noRegEndpoint bool
	regStatus     int            // 0 = 201
	regBody       map[string]any // merged over a complete answer; nil values delete
	regRawBody    string         // if set, sent instead of JSON
	regAuthnError string         // if set, sent as WWW-Authenticate error="..."
	readStatus    int            // 0 = 200

	mu       sync.Mutex
	requests []*http.Request
}

func (f *fakeServer) start(t *testing.T, tls bool) (url string, caPEM []byte) {
	t.Helper()
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(f)
		caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	} else {
		srv = httptest.NewServer(f)
		caPEM = otherCA(t) // never used for http, but register.mjs insists on one
	}
	t.Cleanup(srv.Close)
	return srv.URL, caPEM
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Clone(r.Context()))
	f.mu.Unlock()
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/.well-known/openid-configuration":
		doc := map[string]any{"issuer": base, "registration_endpoint": base + "/register", "token_endpoint": base + "/token"}
		if f.issuer != "" {
			doc["issuer"] = f.issuer
		}
		if f.noRegEndpoint {
			delete(doc, "registration_endpoint")
		}
		_ = json.NewEncoder(w).Encode(doc)
	case r.Method == http.MethodPost && r.URL.Path == "/register":
		var md map[string]any
		_ = json.NewDecoder(r.Body).Decode(&md)
		if f.regAuthnError != "" {
			w.Header().Set("WWW-Authenticate", `Bearer error="`+f.regAuthnError+`"`)
		}
		status := f.regStatus
		if status == 0 {
			status = http.StatusCreated
		}
		if f.regRawBody != "" {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(f.regRawBody))
			return
		}
		ans := map[string]any{
			"client_id":                 "c1",
			"client_secret":             "s1",
			"client_secret_expires_at":  0,
			"registration_access_token": "rat1",
			"registration_client_uri":   base + "/register/c1",
		}
		for k, v := range md {
			ans[k] = v
		}
		for k, v := range f.regBody {
			if v == nil {
				delete(ans, k)
			} else {
				ans[k] = v
			}
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(ans)
	case r.Method == http.MethodGet && r.URL.Path == "/register/c1":
		if r.Header.Get("Authorization") != "Bearer rat1" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_token"}`))
			return
		}
		status := f.readStatus
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"client_id": "c1", "client_name": "read back"})
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"not_found"}`))
	}
}

func (f *fakeServer) request(method, path string) *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.requests {
		if r.Method == method && r.URL.Path == path {
			return r
		}
	}
	return nil
}

// TestServerDemands pins what openid-client 5.7.1 requires of a server.
func TestServerDemands(t *testing.T) {
	md := map[string]any{"client_name": "oc", "grant_types": []string{"client_credentials"}, "response_types": []string{}}
	tests := []struct {
		name      string
		srv       *fakeServer
		http      bool
		iat       string
		wantOK    bool
		wantError string // substring
		wantCode  int
		check     func(t *testing.T, f *fakeServer, res Result)
	}{
		{name: "baseline", srv: &fakeServer{}, iat: "iat-1", wantOK: true,
			check: func(t *testing.T, f *fakeServer, res Result) {
				reg := f.request(http.MethodPost, "/register")
				if got := reg.Header.Get("Authorization"); got != "Bearer iat-1" {
					t.Errorf("Authorization = %q", got)
				}
				if got := reg.Header.Get("Accept-Encoding"); got != "identity" {
					t.Errorf("Accept-Encoding = %q", got)
				}
				if res.Read["client_name"] != "read back" {
					t.Errorf("read = %v", res.Read)
				}
			}},
		{name: "200 instead of 201", srv: &fakeServer{regStatus: 200}, wantError: "OPError: expected 201 Created, got: 200 OK", wantCode: 200},
		{name: "read 201 instead of 200", srv: &fakeServer{readStatus: 201}, wantError: "expected 200 OK, got: 201 Created", wantCode: 201},
		{name: "client_secret_expires_at as a string is accepted", srv: &fakeServer{regBody: map[string]any{"client_secret_expires_at": "0"}}, wantOK: true,
			check: func(t *testing.T, _ *fakeServer, res Result) {
				if res.Registered["client_secret_expires_at"] != "0" {
					t.Errorf("client_secret_expires_at = %#v", res.Registered["client_secret_expires_at"])
				}
			}},
		{name: "client_secret_expires_at absent is accepted", srv: &fakeServer{regBody: map[string]any{"client_secret_expires_at": nil}}, wantOK: true},
		{name: "issuer mismatch is not detected", srv: &fakeServer{issuer: "https://elsewhere.example"}, wantOK: true,
			check: func(t *testing.T, _ *fakeServer, res Result) {
				if res.Discovered.Issuer != "https://elsewhere.example" {
					t.Errorf("discovered issuer = %q", res.Discovered.Issuer)
				}
			}},
		{name: "no registration_endpoint", srv: &fakeServer{noRegEndpoint: true}, wantError: "TypeError: registration_endpoint must be configured on the issuer"},
		{name: "no client_id", srv: &fakeServer{regBody: map[string]any{"client_id": nil}}, wantError: "TypeError: client_id is required"},
		{name: "empty client_id", srv: &fakeServer{regBody: map[string]any{"client_id": ""}}, wantError: "TypeError: client_id is required"},
		{name: "error body", srv: &fakeServer{regStatus: 400, regRawBody: `{"error":"invalid_client_metadata","error_description":"nope"}`},
			wantError: "OPError: invalid_client_metadata (nope)", wantCode: 400,
			check: func(t *testing.T, _ *fakeServer, res Result) {
				if b, _ := res.Body.(map[string]any); b["error"] != "invalid_client_metadata" {
					t.Errorf("body = %#v", res.Body)
				}
			}},
		{name: "WWW-Authenticate wins over the body", srv: &fakeServer{regStatus: 401, regAuthnError: "invalid_token", regRawBody: `{"error":"something_else"}`},
			wantError: "OPError: invalid_token", wantCode: 401},
		{name: "non-JSON 201", srv: &fakeServer{regRawBody: "created"}, wantError: "SyntaxError", wantCode: 201,
			check: func(t *testing.T, _ *fakeServer, res Result) {
				if res.Body != "created" {
					t.Errorf("body = %#v", res.Body)
				}
			}},
		{name: "client-side defaults are merged into the metadata", srv: &fakeServer{regBody: map[string]any{"grant_types": nil, "response_types": nil}}, wantOK: true,
			check: func(t *testing.T, _ *fakeServer, res Result) {
				gt, _ := json.Marshal(res.Registered["grant_types"])
				if string(gt) != `["authorization_code"]` || res.Registered["token_endpoint_auth_method"] != "client_secret_basic" {
					t.Errorf("registered = %v, want openid-client's defaults filled in", res.Registered)
				}
			}},
		{name: "plain http loopback issuer", srv: &fakeServer{}, http: true, wantOK: true,
			check: func(t *testing.T, _ *fakeServer, res Result) {
				if !strings.HasPrefix(res.Discovered.Issuer, "http://127.0.0.1:") {
					t.Errorf("discovered issuer = %q", res.Discovered.Issuer)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, caPEM := tc.srv.start(t, !tc.http)
			res := Register(t, url, caPEM, tc.iat, md, true)
			if res.OK != tc.wantOK || !strings.Contains(res.Error, tc.wantError) || res.Status != tc.wantCode {
				t.Fatalf("got %+v, want ok=%v, error containing %q, status %d", res, tc.wantOK, tc.wantError, tc.wantCode)
			}
			if tc.check != nil {
				tc.check(t, tc.srv, res)
			}
		})
	}
}

func TestParseOutput(t *testing.T) {
	for _, bad := range []string{"", "{}", `{"ok":true}` + "\n" + `{"ok":true}` + "\n", "not json\n", `{"ok":false}` + "\n"} {
		if _, err := parseOutput([]byte(bad)); err == nil {
			t.Errorf("parseOutput(%q) succeeded", bad)
		}
	}
	res, err := parseOutput([]byte(`{"ok":false,"error":"OPError: x","status":401,"body":{"error":"x"}}` + "\n"))
	if err != nil || res.OK || res.Status != 401 || res.Error != "OPError: x" {
		t.Errorf("parseOutput = %+v, %v", res, err)
	}
}
