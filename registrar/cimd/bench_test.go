package cimd

// BenchmarkDocumentsVsStatic measures Documents against the raw cost of
// serving the same bytes, in the same run, from the same Go HTTP server:
// one httptest TLS server on 127.0.0.1 (HTTP/1.1, keep-alive) whose mux has
// both the Documents handler and http.ServeFile of a temporary file holding
// the document. Both are requested by the same client, with the same Host
// header, the same request headers and the same concurrency, in interleaved
// chunks (so a noisy neighbour slows both alike).
//
// Each sub-benchmark reports, for Documents ("docs") and the static file
// ("static"): answers per second, their ratio (docs/static; 1 means
// Documents costs nothing over a static file), the median of the ratios of
// back-to-back chunks (ratio-median, less sensitive to neighbours), the p99
// latency in microseconds, and as ns/op the wall time per document answer
// under the benchmark's concurrency (1/docs/s). The client runs in the same
// process, so both figures include the client's TLS and HTTP work: the ratio
// compares the server-side cost added by the handler, diluted by everything
// the two paths share.
//
// b.N is the number of requests per handler; below minBenchRequests (as with
// -benchtime 1x or the default -benchtime) defaultBenchRequests are made.
// Each sub-benchmark stops early (with what it measured) after benchBudget.
//
//	go test ./registrar/cimd -run '^$' -bench DocumentsVsStatic -benchtime 1x
//	go test ./registrar/cimd -run '^$' -bench DocumentsVsStatic -benchtime 5000x

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/registrar/metadata"
)

const (
	minBenchRequests     = 1000
	defaultBenchRequests = 20000
	benchChunk           = 500
	benchBudget          = 60 * time.Second

	benchHost       = "clients.example.com"
	benchDocPath    = "/docs/ns/billing-reconciler"
	benchStaticPath = "/static/doc.json"
	benchServer     = "AuthorizationServer/ns/idp"
)

// benchRig is the server, the client and the document both handlers serve.
type benchRig struct {
	srv     *httptest.Server
	client  *http.Client
	docs    *Documents
	obs     *statusCounter
	origin  string // https://127.0.0.1:port, dialled for both handlers
	body    []byte // the document
	etag    string // Documents' ETag, also set by the static handler
	workers int
}

// statusCounter is an Observer as cheap as a Prometheus counter can be.
type statusCounter struct{ ok, notModified, other atomic.Int64 }

func (c *statusCounter) Served(_ string, status int) {
	switch status {
	case http.StatusOK:
		c.ok.Add(1)
	case http.StatusNotModified:
		c.notModified.Add(1)
	default:
		c.other.Add(1)
	}
}

// benchDocument is a realistic private_key_jwt document: an ES256 key
// inline, a name, a URI, a contact and scopes (about 620 bytes).
func benchDocument(tb testing.TB) []byte {
	tb.Helper()
	k, err := GenerateKey(AlgES256)
	if err != nil {
		tb.Fatal(err)
	}
	doc, _, err := Build(Input{
		ClientID: RequestURL(benchHost, benchDocPath),
		Metadata: &metadata.Metadata{
			ClientName:                  "Billing reconciler",
			ClientURI:                   "https://billing.example.com",
			Contacts:                    []string{"platform-team@example.com"},
			GrantTypes:                  []string{"client_credentials"},
			Scope:                       "invoices:read invoices:write payments:read",
			TokenEndpointAuthSigningAlg: AlgES256,
		},
		Keys: []jose.JSONWebKey{k.PublicJWK()},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

func newBenchRig(tb testing.TB) *benchRig {
	tb.Helper()
	r := &benchRig{body: benchDocument(tb), obs: &statusCounter{}, workers: 4 * runtime.GOMAXPROCS(0)}
	r.docs = &Documents{Observer: r.obs}
	// Rate limit off: the throughput case measures serving, not refusing.
	r.docs.SetServer(benchServer, ServerSettings{BaseURL: "https://" + benchHost + "/docs", MaxAge: 5 * time.Minute})
	r.docs.Set(RequestURL(benchHost, benchDocPath), Entry{Server: benchServer, Body: r.body})
	r.docs.mu.RLock()
	r.etag = r.docs.entries[RequestURL(benchHost, benchDocPath)].etag
	cacheControl := r.docs.servers[benchServer].cacheControl
	r.docs.mu.RUnlock()

	file := filepath.Join(tb.TempDir(), "doc.json")
	if err := os.WriteFile(file, r.body, 0o600); err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/docs/", r.docs)
	// The static baseline sets the headers Documents sets (same response
	// size) and, for the 304 case, the same strong ETag: http.ServeFile
	// alone sends no ETag and would only honour If-Modified-Since, so with
	// the ETag set ServeContent's own If-None-Match check answers 304 to the
	// very request bytes Documents gets. That is the fair "static 304": same
	// request, same comparison, and ServeFile still opens and stats the file
	// each time as a static file server does. (If-Modified-Since would send
	// another header and add date parsing to the baseline only.)
	mux.HandleFunc(benchStaticPath, func(w http.ResponseWriter, req *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", cacheControl)
		h.Set("ETag", r.etag)
		http.ServeFile(w, req, file)
	})

	r.srv = httptest.NewUnstartedServer(mux)
	r.srv.StartTLS()
	tb.Cleanup(r.srv.Close)
	r.origin = r.srv.URL

	tr := r.srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2 * r.workers
	tr.MaxIdleConnsPerHost = 2 * r.workers
	r.client = &http.Client{Transport: tr}
	tb.Cleanup(tr.CloseIdleConnections)
	return r
}

// request is one worker's request, reused once its response is read. Host
// names the document's URL; the connection goes to 127.0.0.1.
func (r *benchRig) request(path string, conditional bool) *http.Request {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, r.origin+path, nil)
	if err != nil {
		panic(err)
	}
	req.Host = benchHost
	if conditional {
		req.Header.Set("If-None-Match", r.etag)
	}
	return req
}

// do sends req and checks the answer: 200 with the document, or 304 with no
// body, both with the ETag. Nothing else counts as an answer.
func (r *benchRig) do(req *http.Request, buf *bytes.Buffer, conditional bool) error {
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%s: reading the body: %w", req.URL.Path, err)
	}
	wantStatus, wantBody := http.StatusOK, r.body
	if conditional {
		wantStatus, wantBody = http.StatusNotModified, nil
	}
	if resp.StatusCode != wantStatus || !bytes.Equal(buf.Bytes(), wantBody) || resp.Header.Get("ETag") != r.etag {
		return fmt.Errorf("%s: %d with %d bytes and ETag %q, want %d with %d bytes and ETag %q",
			req.URL.Path, resp.StatusCode, buf.Len(), resp.Header.Get("ETag"), wantStatus, len(wantBody), r.etag)
	}
	return nil
}

// measure makes n requests for path from r.workers concurrent workers and
// returns the wall time and each request's latency.
func (r *benchRig) measure(path string, conditional bool, n int) (time.Duration, []time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range min(r.workers, n) {
		wg.Go(func() {
			req := r.request(path, conditional)
			var buf bytes.Buffer
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				err := r.do(req, &buf, conditional)
				lat[i] = time.Since(t0)
				if err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), lat, firstErr
}

// side accumulates one handler's chunks.
type side struct {
	n       int
	elapsed time.Duration
	lat     []time.Duration
}

func (s *side) add(elapsed time.Duration, lat []time.Duration) {
	s.n += len(lat)
	s.elapsed += elapsed
	s.lat = append(s.lat, lat...)
}

func (s *side) perSecond() float64 { return float64(s.n) / s.elapsed.Seconds() }

func (s *side) p99() time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	sorted := slices.Clone(s.lat)
	slices.Sort(sorted)
	return sorted[int(math.Ceil(0.99*float64(len(sorted))))-1]
}

// compare makes n requests to each handler in interleaved chunks (the order
// alternating), within budget.
// rounds holds, per round, static's time over Documents' time for the same
// number of requests made back to back: the round's ratio, whose median
// is robust to a neighbour's burst that hits one side only.
func (r *benchRig) compare(conditional bool, n int, budget time.Duration) (docs, static side, rounds []float64, err error) {
	deadline := time.Now().Add(budget)
	for round := 0; docs.n < n && time.Now().Before(deadline); round++ {
		k := min(benchChunk, n-docs.n)
		order := []string{benchDocPath, benchStaticPath}
		if round%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		var took [2]time.Duration
		for _, path := range order {
			elapsed, lat, err := r.measure(path, conditional, k)
			if err != nil {
				return docs, static, rounds, err
			}
			if path == benchDocPath {
				docs.add(elapsed, lat)
				took[0] = elapsed
			} else {
				static.add(elapsed, lat)
				took[1] = elapsed
			}
		}
		rounds = append(rounds, took[1].Seconds()/took[0].Seconds())
	}
	return docs, static, rounds, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func BenchmarkDocumentsVsStatic(b *testing.B) {
	r := newBenchRig(b)
	// Warm up: open the keep-alive connections (TLS handshakes) and the
	// file's page cache before anything is timed.
	for _, path := range []string{benchDocPath, benchStaticPath} {
		if _, _, err := r.measure(path, false, 4*r.workers); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name        string
		conditional bool
		limited     bool
	}{
		{name: "200"},
		{name: "304", conditional: true},
		// The token bucket on, at a rate never reached: the cost of the
		// limiter's clock read and mutex on every request.
		{name: "200-limited", limited: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			settings := ServerSettings{BaseURL: "https://" + benchHost + "/docs", MaxAge: 5 * time.Minute}
			if tc.limited {
				settings.RatePerSecond, settings.Burst = 1e9, 1e9
			}
			r.docs.SetServer(benchServer, settings)
			n := b.N
			if n < minBenchRequests {
				n = defaultBenchRequests
			}
			b.ResetTimer()
			docs, static, rounds, err := r.compare(tc.conditional, n, benchBudget)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if docs.n < n {
				b.Logf("stopped after %s: %d of %d requests per handler", benchBudget, docs.n, n)
			}
			b.ReportMetric(float64(docs.elapsed.Nanoseconds())/float64(docs.n), "ns/op")
			b.ReportMetric(docs.perSecond(), "docs/s")
			b.ReportMetric(static.perSecond(), "static/s")
			b.ReportMetric(docs.perSecond()/static.perSecond(), "ratio")
			b.ReportMetric(median(rounds), "ratio-median")
			b.ReportMetric(float64(docs.p99().Nanoseconds())/1e3, "docs-p99-us")
			b.ReportMetric(float64(static.p99().Nanoseconds())/1e3, "static-p99-us")
		})
	}
	r.docs.SetServer(benchServer, ServerSettings{BaseURL: "https://" + benchHost + "/docs", MaxAge: 5 * time.Minute})
}

// TestBenchRigAnswersCorrectly keeps the benchmark honest: both handlers
// answer 200 with the same bytes and 304 to the conditional request, and the
// measuring loop counts only such answers.
func TestBenchRigAnswersCorrectly(t *testing.T) {
	r := newBenchRig(t)
	if n := len(r.body); n < 500 || n > 700 {
		t.Errorf("the document is %d bytes, want about 600: %s", n, r.body)
	}
	get := func(path string, conditional bool) (*http.Response, []byte) {
		t.Helper()
		resp, err := r.client.Do(r.request(path, conditional))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(resp.Body); err != nil {
			t.Fatal(err)
		}
		return resp, buf.Bytes()
	}
	docResp, docBody := get(benchDocPath, false)
	staticResp, staticBody := get(benchStaticPath, false)
	for _, c := range []struct {
		name string
		resp *http.Response
		body []byte
	}{{"document", docResp, docBody}, {"static file", staticResp, staticBody}} {
		if c.resp.StatusCode != http.StatusOK || !bytes.Equal(c.body, r.body) ||
			c.resp.Header.Get("ETag") != r.etag || c.resp.Header.Get("Content-Type") != "application/json" ||
			c.resp.Header.Get("Cache-Control") != "public, max-age=300" {
			t.Errorf("%s: %d %v %q", c.name, c.resp.StatusCode, c.resp.Header, c.body)
		}
	}
	if !bytes.Equal(docBody, staticBody) {
		t.Error("the handlers serve different bytes")
	}
	for _, path := range []string{benchDocPath, benchStaticPath} {
		if resp, body := get(path, true); resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("conditional GET %s = %d with %d bytes", path, resp.StatusCode, len(body))
		}
	}
	if ok, nm := r.obs.ok.Load(), r.obs.notModified.Load(); ok != 1 || nm != 1 {
		t.Errorf("observed %d OK and %d Not Modified, want 1 and 1", ok, nm)
	}

	// The measuring loop, as the benchmark runs it.
	for _, conditional := range []bool{false, true} {
		docs, static, rounds, err := r.compare(conditional, 3*benchChunk/2, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if docs.n != 3*benchChunk/2 || static.n != docs.n || docs.p99() <= 0 || static.p99() <= 0 || len(rounds) != 2 || median(rounds) <= 0 {
			t.Errorf("conditional %v: %d and %d requests, p99 %s and %s", conditional, docs.n, static.n, docs.p99(), static.p99())
		}
	}
	if ok, nm, other := r.obs.ok.Load(), r.obs.notModified.Load(), r.obs.other.Load(); ok != 1+3*benchChunk/2 || nm != 1+3*benchChunk/2 || other != 0 {
		t.Errorf("observed %d OK, %d Not Modified, %d others", ok, nm, other)
	}
	// A wrong answer is an error, not a measurement.
	req := r.request(benchDocPath+"-missing", false)
	if err := r.do(req, &bytes.Buffer{}, false); err == nil {
		t.Error("a 404 passed the benchmark's check")
	}
}
