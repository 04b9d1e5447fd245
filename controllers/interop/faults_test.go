package interop

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"github.com/clientreg/clientreg/registrar/dcr"
)

// faultMode is what a fault rule does to a matching request.
type faultMode int

const (
	// faultStatus answers with a status code without reaching the server.
	faultStatus faultMode = iota + 1
	// faultHang sends nothing on, as a server that took the request and
	// never answered: the request counts as written, no response comes.
	faultHang
	// faultDropAfterCommit forwards the request (the server acts on it),
	// then drops the connection instead of delivering the answer.
	faultDropAfterCommit
	// faultHook forwards the request, reads the answer, runs hook, then
	// delivers the answer.
	faultHook
)

// faultRule matches requests by method and path suffix.
type faultRule struct {
	method, pathSuffix string
	mode               faultMode
	status             int
	// remaining is how many requests the rule still applies to; <0 = all.
	remaining int
	// until, when set, ends the rule at that time (an outage of a length).
	until time.Time
	hook  func()
	hits  int
}

// faultTransport is the manager's HTTP transport to authorization servers,
// with injectable faults. Without a matching rule it is a plain TLS client.
type faultTransport struct {
	mu    sync.Mutex
	rules []*faultRule
	// reads counts RFC 7592 reads (GET {registration_client_uri}) by path.
	reads map[string]int
}

// readCounts returns a copy of the per-path read counts and resets them.
func (f *faultTransport) readCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.reads
	f.reads = map[string]int{}
	return out
}

func newFaultTransport() *faultTransport { return &faultTransport{} }

// add installs a rule and returns it (to read hits).
func (f *faultTransport) add(r *faultRule) *faultRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, r)
	return r
}

// clear removes every rule.
func (f *faultTransport) clear() {
	f.mu.Lock()
	f.rules = nil
	f.mu.Unlock()
}

func (f *faultTransport) match(r *http.Request) *faultRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rule := range f.rules {
		if rule.remaining == 0 || rule.method != r.Method || !strings.HasSuffix(r.URL.Path, rule.pathSuffix) ||
			(!rule.until.IsZero() && !time.Now().Before(rule.until)) {
			continue
		}
		if rule.remaining > 0 {
			rule.remaining--
		}
		rule.hits++
		return rule
	}
	return nil
}

// client builds the HTTP client dcr uses, trusting c.CABundle.
func (f *faultTransport) client(c dcr.Config) *http.Client {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(c.CABundle) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(c.CABundle)
		tlsCfg.RootCAs = pool
	}
	base := &http.Transport{TLSClientConfig: tlsCfg, MaxIdleConnsPerHost: 64}
	return &http.Client{
		Timeout:       c.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/reg/") {
				f.mu.Lock()
				if f.reads == nil {
					f.reads = map[string]int{}
				}
				f.reads[r.URL.Path]++
				f.mu.Unlock()
			}
			rule := f.match(r)
			if rule == nil {
				return base.RoundTrip(r)
			}
			wrote := func() {
				if tr := httptrace.ContextClientTrace(r.Context()); tr != nil && tr.WroteRequest != nil {
					tr.WroteRequest(httptrace.WroteRequestInfo{})
				}
			}
			switch rule.mode {
			case faultStatus:
				wrote()
				return &http.Response{
					StatusCode: rule.status, Status: http.StatusText(rule.status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
					Header:  http.Header{"Content-Type": {"text/plain"}},
					Body:    io.NopCloser(strings.NewReader("injected fault")),
					Request: r,
				}, nil
			case faultHang:
				wrote()
				<-r.Context().Done()
				return nil, r.Context().Err()
			case faultDropAfterCommit:
				resp, err := base.RoundTrip(r)
				if err != nil {
					return nil, err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				return nil, errors.New("read: connection reset by peer (injected after the server answered)")
			case faultHook:
				resp, err := base.RoundTrip(r)
				if err != nil {
					return nil, err
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil {
					return nil, err
				}
				rule.hook()
				resp.Body = io.NopCloser(bytes.NewReader(body))
				return resp, nil
			}
			return base.RoundTrip(r)
		}),
	}
}
