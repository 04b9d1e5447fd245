package dcr

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Distinctive credential strings: no error text may ever contain them.
const (
	testIAT       = "iat-3f9c1e7a5b2d4c6e8f0a"
	testRAT       = "rat-8d2b4f6a1c3e5a7b9d0f"
	testNewRAT    = "rat-new-7c5a3e1f9b8d6c4a"
	testSecret    = "cs-5e7a9c1b3d5f7a9c1e3b"
	testNewSecret = "cs-new-2b4d6f8a0c2e4a6c"
	testStatement = "eyJhbGciOiJFUzI1NiJ9.c29mdHdhcmUtc3RhdGVtZW50.c2lnbmF0dXJl"
)

var allSecrets = []string{testIAT, testRAT, testNewRAT, testSecret, testNewSecret, testStatement}

// newTestClient builds a Client for plain-http httptest servers.
func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	cfg.AllowInsecureHTTP = true
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// serve starts an httptest server closed at the end of the test.
func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// mustDCRError asserts err is an *Error of kind want and that no rendering of
// it contains a credential.
func mustDCRError(t *testing.T, err error, want Kind) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %v error, got nil", want)
	}
	e, ok := AsError(err)
	if !ok {
		t.Fatalf("want *Error, got %T: %v", err, err)
	}
	if e.Kind != want {
		t.Fatalf("Kind = %v, want %v (error: %v)", e.Kind, want, err)
	}
	assertNoSecrets(t, err)
	return e
}

// assertNoSecrets checks every common rendering of err for credentials.
func assertNoSecrets(t *testing.T, err error) {
	t.Helper()
	for _, format := range []string{"%v", "%+v", "%s", "%#v", "%q"} {
		out := fmt.Sprintf(format, err)
		for _, s := range allSecrets {
			if strings.Contains(out, s) {
				t.Fatalf("%s of the error contains a credential: %s", format, out)
			}
		}
	}
}

// ops runs one of the four configuration-endpoint or registration methods
// against base with credentials that the server may echo.
var ops = []struct {
	name string
	call func(ctx context.Context, c *Client, base string) error
}{
	{"register", func(ctx context.Context, c *Client, base string) error {
		_, err := c.Register(ctx, base+"/reg", RegisterRequest{
			Metadata:           json.RawMessage(`{"redirect_uris":["https://client.example.org/cb"]}`),
			InitialAccessToken: testIAT,
			SoftwareStatement:  testStatement,
		})
		return err
	}},
	{"read", func(ctx context.Context, c *Client, base string) error {
		_, err := c.Read(ctx, base+"/reg/c1", testRAT)
		return err
	}},
	{"update", func(ctx context.Context, c *Client, base string) error {
		_, err := c.Update(ctx, base+"/reg/c1", testRAT, UpdateRequest{
			ClientID: "c1", Metadata: json.RawMessage(`{"client_name":"A"}`), ClientSecret: testSecret,
		})
		return err
	}},
	{"delete", func(ctx context.Context, c *Client, base string) error {
		return c.Delete(ctx, base+"/reg/c1", testRAT)
	}},
}

// recorder keeps the requests a test server saw.
// recordingServer records every request in rec and answers it with status
// and the JSON body answer.
func recordingServer(t *testing.T, status int, answer string) (srv *httptest.Server, rec *recorder) {
	t.Helper()
	rec = &recorder{}
	srv = serve(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.add(r, body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	})
	return srv, rec
}

type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path string
	header       http.Header
	body         []byte
}

func (r *recorder) add(req *http.Request, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.Header.Clone(), body})
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func (r *recorder) paths() []string {
	var out []string
	for _, q := range r.all() {
		out = append(out, q.path)
	}
	return out
}

// fixedNow is the clock of tests that need one.
var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
