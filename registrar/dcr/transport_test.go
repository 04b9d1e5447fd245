package dcr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clientreg/clientreg/internal/certtest"
)

// hangUp reads the whole request and closes the connection without answering.
func hangUp(t *testing.T, w http.ResponseWriter, r *http.Request) {
	_, _ = io.ReadAll(r.Body)
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	_ = conn.Close()
}

func TestSentAndUncertain(t *testing.T) {
	t.Run("server reads the request and closes: Uncertain", func(t *testing.T) {
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				srv := serve(t, func(w http.ResponseWriter, r *http.Request) { hangUp(t, w, r) })
				err := op.call(context.Background(), newTestClient(t, Config{}), srv.URL)
				e := mustDCRError(t, err, KindTransient)
				if !e.Sent || e.StatusCode != 0 || !e.Uncertain() {
					t.Errorf("Sent %v StatusCode %d Uncertain %v, want true 0 true", e.Sent, e.StatusCode, e.Uncertain())
				}
			})
		}
	})

	t.Run("refused connection: not Sent", func(t *testing.T) {
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				srv := httptest.NewServer(http.NotFoundHandler())
				base := srv.URL
				srv.Close()
				err := op.call(context.Background(), newTestClient(t, Config{}), base)
				e := mustDCRError(t, err, KindTransient)
				if e.Sent || e.Uncertain() || e.StatusCode != 0 {
					t.Errorf("Sent %v Uncertain %v StatusCode %d, want false false 0", e.Sent, e.Uncertain(), e.StatusCode)
				}
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("cause is not ECONNREFUSED: %v", err)
				}
			})
		}
	})

	t.Run("server hangs past Timeout: Transient, Sent", func(t *testing.T) {
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				release := make(chan struct{})
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.ReadAll(r.Body)
					select {
					case <-r.Context().Done():
					case <-release:
					}
				}))
				t.Cleanup(srv.Close)
				t.Cleanup(func() { close(release) })
				c := newTestClient(t, Config{Timeout: 200 * time.Millisecond})
				start := time.Now()
				err := op.call(context.Background(), c, srv.URL)
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("call took %v; Timeout is 200ms", d)
				}
				e := mustDCRError(t, err, KindTransient)
				if !e.Sent || !e.Uncertain() {
					t.Errorf("Sent %v Uncertain %v, want true true", e.Sent, e.Uncertain())
				}
				if !strings.Contains(e.Description, "timed out") {
					t.Errorf("Description = %q", e.Description)
				}
			})
		}
	})

	t.Run("Timeout bounds the call even when the HTTPClient has none", func(t *testing.T) {
		srv := hangingServer(t)
		c := newTestClient(t, Config{Timeout: 200 * time.Millisecond, HTTPClient: &http.Client{Timeout: time.Hour}})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a backstop only
		defer cancel()
		start := time.Now()
		_, err := c.Read(ctx, srv.URL+"/reg/c1", testRAT)
		wantDeadline(t, start, err, "Timeout is 200ms")
	})

	t.Run("caller's context deadline bounds the call", func(t *testing.T) {
		srv := hangingServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := newTestClient(t, Config{Timeout: time.Minute}).Read(ctx, srv.URL+"/reg/c1", testRAT)
		wantDeadline(t, start, err, "the context ends after 100ms")
	})

	t.Run("2xx whose body breaks off: Uncertain", func(t *testing.T) {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"client_id":"c1","client_secret":"`)
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
		})
		_, err := newTestClient(t, Config{}).Register(context.Background(), srv.URL, RegisterRequest{})
		e := mustDCRError(t, err, KindTransient)
		if !e.Uncertain() || !strings.Contains(e.Description, "HTTP 201") {
			t.Errorf("Uncertain %v, Description %q", e.Uncertain(), e.Description)
		}
	})
}

// TestReadIsNotReplayed: net/http resends a GET when a reused connection
// breaks after the request was written. With servers that rotate the
// registration access token on GET, that replay would present a dead token;
// Read must report the exchange as Uncertain instead.
func TestReadIsNotReplayed(t *testing.T) {
	var n atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 2:
			hangUp(t, w, r)
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"client_id":"c1","registration_access_token":"%s"}`, testNewRAT)
		}
	})
	c := newTestClient(t, Config{})
	uri := srv.URL + "/reg/c1"
	if _, err := c.Read(context.Background(), uri, testRAT); err != nil { // opens a keep-alive connection
		t.Fatalf("first Read: %v", err)
	}
	_, err := c.Read(context.Background(), uri, testNewRAT) // reuses it; the server hangs up
	e := mustDCRError(t, err, KindTransient)
	if !e.Uncertain() {
		t.Errorf("Uncertain = false: %v", err)
	}
	if got := n.Load(); got != 2 {
		t.Errorf("server saw %d requests, want 2: the broken GET was replayed", got)
	}
}

func certPEM(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

func TestCABundle(t *testing.T) {
	var srvURL string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srvURL, "registration_endpoint": srvURL + "/reg"})
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // expected handshake failures
	srv.StartTLS()
	t.Cleanup(srv.Close)
	srvURL = srv.URL

	t.Run("trusted with the bundle", func(t *testing.T) {
		c, err := NewClient(Config{CABundle: certPEM(srv)})
		if err != nil {
			t.Fatal(err)
		}
		md, err := c.Discover(context.Background(), srv.URL)
		if err != nil {
			t.Fatalf("Discover: %v", err)
		}
		if md.RegistrationEndpoint != srv.URL+"/reg" {
			t.Errorf("RegistrationEndpoint = %q", md.RegistrationEndpoint)
		}
	})
	t.Run("untrusted without it: Transient, x509 cause", func(t *testing.T) {
		c, err := NewClient(Config{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Read(context.Background(), srv.URL+"/reg/c1", testRAT)
		e := mustDCRError(t, err, KindTransient)
		var verr *tls.CertificateVerificationError
		var uerr x509.UnknownAuthorityError
		if !errors.As(err, &verr) || !errors.As(err, &uerr) {
			t.Errorf("cause is not a certificate verification error: %v", err)
		}
		if e.Sent {
			t.Error("Sent is true although the handshake failed")
		}
	})
	t.Run("trusted with the bundle on top of the system roots", func(t *testing.T) {
		c, err := NewClient(Config{CABundle: certPEM(srv), WithSystemRoots: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Discover(context.Background(), srv.URL); err != nil {
			t.Fatalf("Discover: %v", err)
		}
	})
	t.Run("another CA's bundle is not enough", func(t *testing.T) {
		c, err := NewClient(Config{CABundle: selfSignedPEM(t)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Discover(context.Background(), srv.URL)
		mustDCRError(t, err, KindTransient)
		var uerr x509.UnknownAuthorityError
		if !errors.As(err, &uerr) {
			t.Errorf("cause is not x509.UnknownAuthorityError: %v", err)
		}
	})
}

// selfSignedPEM returns a CA certificate unrelated to httptest's.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	return certtest.CA(t, "other CA", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

func TestTLS12Minimum(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake is meant to fail
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := NewClient(Config{CABundle: certPEM(srv)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(context.Background(), srv.URL+"/reg/c1", testRAT)
	e := mustDCRError(t, err, KindTransient)
	if e.Sent {
		t.Error("a request went out over TLS < 1.2")
	}
}

func TestNewClient(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		c, err := NewClient(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if c.timeout != DefaultTimeout || c.userAgent != DefaultUserAgent || c.maxBody != DefaultMaxResponseBytes || c.allowHTTP {
			t.Errorf("defaults: %v %q %d %v", c.timeout, c.userAgent, c.maxBody, c.allowHTTP)
		}
		if c.hc.Timeout != DefaultTimeout {
			t.Errorf("http.Client.Timeout = %v", c.hc.Timeout)
		}
		tr := c.hc.Transport.(*http.Transport)
		if tr.TLSClientConfig.MinVersion != tls.VersionTLS12 || tr.MaxIdleConnsPerHost < 2 || tr.Proxy == nil {
			t.Errorf("transport: %+v", tr)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for name, cfg := range map[string]Config{
			"negative timeout":  {Timeout: -time.Second},
			"negative max body": {MaxResponseBytes: -1},
			"CA bundle not PEM": {CABundle: []byte("not a certificate")},
		} {
			if _, err := NewClient(cfg); err == nil {
				t.Errorf("%s: NewClient succeeded", name)
			}
		}
	})
	t.Run("HTTPClient is copied, redirects still refused", func(t *testing.T) {
		var follow bool
		orig := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { follow = true; return nil }}
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/reg" {
				http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
				return
			}
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"client_id":"c1"}`)
		})
		c := newTestClient(t, Config{HTTPClient: orig, Timeout: 5 * time.Second})
		if c.hc == orig || orig.Timeout != 0 || c.hc.Timeout != 5*time.Second {
			t.Errorf("HTTPClient was not copied or Timeout not applied")
		}
		_, err := c.Register(context.Background(), srv.URL+"/reg", RegisterRequest{})
		e := mustDCRError(t, err, KindProtocol)
		if follow || e.StatusCode != http.StatusTemporaryRedirect {
			t.Errorf("redirect followed (%v) or status %d", follow, e.StatusCode)
		}
	})
}

func TestMaxResponseBytes(t *testing.T) {
	bigBody := `{"client_id":"c1","pad":"` + strings.Repeat("x", 2000) + `"}`
	tests := []struct {
		status   int
		wantKind Kind
	}{
		{201, KindProtocol},
		{400, KindInvalidMetadata},
		{503, KindTransient},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, bigBody)
			})
			_, err := newTestClient(t, Config{MaxResponseBytes: 1024}).Register(context.Background(), srv.URL, RegisterRequest{})
			e := mustDCRError(t, err, tc.wantKind)
			if e.StatusCode != tc.status || !strings.Contains(e.Description, "larger than 1024 bytes") {
				t.Errorf("StatusCode %d Description %q", e.StatusCode, e.Description)
			}
		})
	}
	t.Run("exactly at the cap is fine", func(t *testing.T) {
		body := `{"client_id":"c1"}`
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			_, _ = io.WriteString(w, body)
		})
		if _, err := newTestClient(t, Config{MaxResponseBytes: int64(len(body))}).Register(context.Background(), srv.URL, RegisterRequest{}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHTTP2 checks that the Client negotiates HTTP/2 and that Read's
// non-replayable GET still carries no body there.
func TestHTTP2(t *testing.T) {
	var rec recorder
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.add(r, body)
		if r.ProtoMajor != 2 {
			t.Errorf("%s over %s, want HTTP/2", r.Method, r.Proto)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"client_id":"c1","registration_access_token":"`+testNewRAT+`"}`)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := NewClient(Config{CABundle: certPEM(srv)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	for range 2 {
		reg, err := c.Read(context.Background(), srv.URL+"/reg/c1", testRAT)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if reg.RegistrationAccessToken != testNewRAT {
			t.Errorf("Registration = %v", reg)
		}
	}
	for _, q := range rec.all() {
		if len(q.body) != 0 || q.method != http.MethodGet {
			t.Errorf("%s with body %q", q.method, q.body)
		}
	}
}

// Endpoints a metadata document names are passed on (status, the embedded
// endpoint's documents) only when they are URLs a client would call itself.
func TestDiscoverDropsUnusableEndpoints(t *testing.T) {
	var srvURL string
	doc := map[string]string{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		doc["issuer"] = srvURL
		_ = json.NewEncoder(w).Encode(doc)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	srvURL = srv.URL
	c, err := NewClient(Config{CABundle: certPEM(srv)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ value, want string }{
		{"https://idp.example/token", "https://idp.example/token"},
		{"http://idp.example/token", ""},
		{"javascript:alert(1)", ""},
		{"https://idp.example/token#frag", ""},
		{"https://user:pw@idp.example/token", ""},
		{"/token", ""},
	} {
		doc["token_endpoint"], doc["authorization_endpoint"] = tc.value, tc.value
		md, err := c.Discover(context.Background(), srv.URL)
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if md.TokenEndpoint != tc.want || md.AuthorizationEndpoint != tc.want {
			t.Errorf("%q: token %q, authorization %q, want %q", tc.value, md.TokenEndpoint, md.AuthorizationEndpoint, tc.want)
		}
	}
}

// hangingServer answers no request: each waits until its client gives up
// or the test ends.
func hangingServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv
}

// wantDeadline checks that a Read started at start ended within 5 s
// (bound says why it should have) with a transient error caused by
// context.DeadlineExceeded.
func wantDeadline(t *testing.T, start time.Time, err error, bound string) {
	t.Helper()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Read took %v; %s", d, bound)
	}
	mustDCRError(t, err, KindTransient)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cause is not DeadlineExceeded: %v", err)
	}
}
