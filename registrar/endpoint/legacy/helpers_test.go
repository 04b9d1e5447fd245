package legacy

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg/internal/httprec"
	"github.com/clientreg/clientreg/internal/josetest"
	"github.com/clientreg/clientreg/internal/testclock"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/stateless"
)

// lookupStore is a FakeStore that also implements ClientIDLookup.
type lookupStore struct {
	*endpoint.FakeStore
	mu      sync.Mutex
	lookups int
}

var _ ClientIDLookup = (*lookupStore)(nil)

func (s *lookupStore) LookupClientID(_ context.Context, srv *endpoint.Server, clientID string) (*endpoint.Registration, error) {
	s.mu.Lock()
	s.lookups++
	s.mu.Unlock()
	for _, reg := range s.Registrations(srv) {
		if reg.ClientID == clientID {
			return reg, nil
		}
	}
	return nil, endpoint.ErrNotFound
}

const (
	issuerBase = "https://as.example"
	iatToken   = "iat-0123456789abcdefghijklmnopqrstuvwxyz"
	mediaFormT = "application/x-www-form-urlencoded"
	redirect   = "https://client.example.org/cb"
	sectorURI  = "https://sector.example/ids.json"
)

// env is an endpoint.Handler with a legacy.Handler, a FakeStore (wrapped in
// a lookupStore unless plain) and servers /open, /oidc, /iat and /sl.
type env struct {
	core    *endpoint.Handler
	fake    *endpoint.FakeStore
	lookup  *lookupStore
	clock   *testclock.Clock
	servers map[string]*endpoint.Server
}

func newEnv(t testing.TB, plain bool) *env {
	t.Helper()
	clk := testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	e := &env{fake: &endpoint.FakeStore{Clock: clk}, clock: clk, servers: map[string]*endpoint.Server{}}
	var store endpoint.Store = e.fake
	if !plain {
		e.lookup = &lookupStore{FakeStore: e.fake}
		store = e.lookup
	}
	ks := &stateless.KeySet{}
	if _, err := ks.Ensure(stateless.UseSignature, "", clk.Now(), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	var list []*endpoint.Server
	for _, s := range []*endpoint.Server{
		{Path: "/open", Open: true},
		{Path: "/oidc", Open: true, OIDC: true},
		{Path: "/iat", InitialAccessTokenHashes: [][32]byte{sha256.Sum256([]byte(iatToken))}},
		{Path: "/sl", Open: true, Storage: endpoint.StorageStateless, Keys: ks, ClientIDLifetime: 24 * time.Hour},
		{Path: "/rl", Open: true, Policy: endpoint.Policy{RateLimit: endpoint.RateLimit{PerMinute: 60, Burst: 1}}},
	} {
		s.Issuer = issuerBase + s.Path
		e.servers[s.Path] = s
		list = append(list, s)
	}
	e.core = &endpoint.Handler{
		Resolver: endpoint.NewStaticResolver(list...),
		Store:    store,
		Clock:    clk,
		SectorIdentifierFetcher: func(_ context.Context, uri string) ([]string, error) {
			if uri == sectorURI {
				return []string{redirect, "https://other.example.org/cb"}, nil
			}
			return nil, errors.New("not found")
		},
		Log: func(msg string, kv ...any) { t.Logf("log: %s %v", msg, kv) },
	}
	e.core.LegacyHandler = &Handler{Core: e.core}
	return e
}

// resp is a recorded answer.
type resp = httprec.Answer

// do sends a POST to path/register; hdr holds header name/value pairs.
func (e *env) do(t testing.TB, path, contentType, body string, hdr ...string) *resp {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, issuerBase+path+"/register", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return httprec.Serve(e.core, req)
}

func (e *env) form(t testing.TB, path string, vals url.Values, hdr ...string) *resp {
	t.Helper()
	return e.do(t, path, mediaFormT, vals.Encode(), hdr...)
}

func (e *env) json(t testing.TB, path string, obj map[string]any, hdr ...string) *resp {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, path, "application/json", string(b), hdr...)
}

// associated is a successful client_associate answer.
type associated struct {
	id, secret string
	expiresIn  float64
}

// mustOK checks a 200 draft answer and returns its members.
func mustOK(t testing.TB, r *resp) associated {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	m := r.Obj(t)
	a := associated{}
	a.id, _ = m["client_id"].(string)
	a.secret, _ = m["client_secret"].(string)
	exp, ok := m["expires_in"].(float64)
	if !ok {
		t.Fatalf("expires_in missing or not a number: %s", r.Body)
	}
	a.expiresIn = exp
	if a.id == "" {
		t.Fatalf("no client_id: %s", r.Body)
	}
	for k := range m {
		switch k {
		case "client_id", "client_secret", "expires_in":
		default:
			t.Errorf("unexpected member %q in the draft response", k)
		}
	}
	return a
}

// checkErr checks a draft error answer.
func checkErr(t testing.TB, r *resp, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	m := r.Obj(t)
	if m["error"] != code {
		t.Errorf("error = %v, want %s (%s)", m["error"], code, r.Body)
	}
	if d, _ := m["error_description"].(string); d == "" {
		t.Errorf("no error_description: %s", r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("error answer is cacheable")
	}
}

// stored returns the stored metadata of clientID at path as a JSON object.
func (e *env) stored(t testing.TB, path, clientID string) map[string]any {
	t.Helper()
	for _, reg := range e.fake.Registrations(e.servers[path]) {
		if reg.ClientID != clientID {
			continue
		}
		return josetest.Object(t, reg.Metadata)
	}
	t.Fatalf("no stored registration for %s at %s", clientID, path)
	return nil
}

// storedSecret returns the stored client secret of clientID at path.
func (e *env) storedSecret(t testing.TB, path, clientID string) string {
	t.Helper()
	for _, reg := range e.fake.Registrations(e.servers[path]) {
		if reg.ClientID == clientID {
			return reg.ClientSecret
		}
	}
	t.Fatalf("no stored registration for %s", clientID)
	return ""
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// toJSON re-encodes v for comparisons.
func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
