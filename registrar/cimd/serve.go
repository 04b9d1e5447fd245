package cimd

import (
	"crypto/sha256"
	"encoding/base64"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Entry is one published document (or a client's JWK Set) as served.
type Entry struct {
	// Server names the server the document belongs to (for the rate limit
	// and metrics), as given to SetServer.
	Server string
	// Body is served verbatim.
	Body []byte
}

// ServerSettings are what a server's documents are served with.
type ServerSettings struct {
	// BaseURL claims its URLs: a request under it that names no published
	// document is answered 404 here.
	BaseURL string
	// MaxAge is the Cache-Control max-age; it must be positive.
	MaxAge time.Duration
	// RatePerSecond and Burst are the server's token bucket (all its
	// documents together); RatePerSecond 0 means no limit.
	RatePerSecond float64
	Burst         int
}

// Observer is told the outcome of every request for a server's documents.
type Observer interface {
	// Served records one answer: status is 200, 304, 404 or 429.
	Served(server string, status int)
}

// Documents serves published documents by their URL. It is safe for
// concurrent use; Set, Delete and SetServer may run while it serves.
type Documents struct {
	// Observer, when set, counts answers.
	Observer Observer
	// Now is the clock of the rate limit; nil means time.Now.
	Now func() time.Time

	mu      sync.RWMutex
	entries map[string]*served
	servers map[string]*serverState
}

// served is an entry with its precomputed headers.
type served struct {
	server string
	body   []byte
	etag   string
	length string
}

type serverState struct {
	settings     ServerSettings
	cacheControl string
	mu           sync.Mutex
	tokens       float64
	last         time.Time
}

// Set publishes e at url (a RequestURL-normal URL: https, lower-case host,
// no default port).
func (d *Documents) Set(url string, e Entry) {
	sum := sha256.Sum256(e.Body)
	s := &served{
		server: e.Server, body: e.Body,
		etag:   `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`,
		length: strconv.Itoa(len(e.Body)),
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.entries == nil {
		d.entries = map[string]*served{}
	}
	d.entries[url] = s
}

// Delete withdraws the document at url.
func (d *Documents) Delete(url string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.entries, url)
}

// Len is the number of published documents and JWK Sets.
func (d *Documents) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.entries)
}

// SetServer sets (or, with a zero BaseURL, removes) the settings of server.
// The token bucket starts full.
func (d *Documents) SetServer(server string, s ServerSettings) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.BaseURL == "" {
		delete(d.servers, server)
		return
	}
	if d.servers == nil {
		d.servers = map[string]*serverState{}
	}
	if old := d.servers[server]; old != nil && old.settings == s {
		return
	}
	maxAge := max(1, int64(math.Round(s.MaxAge.Seconds())))
	d.servers[server] = &serverState{
		settings:     s,
		cacheControl: "public, max-age=" + strconv.FormatInt(maxAge, 10),
		tokens:       float64(max(s.Burst, 1)),
	}
}

// Match reports whether Documents answers a request for host and path: a
// published document is there, or a server's base URL claims it.
func (d *Documents) Match(host, escapedPath string) bool {
	u := RequestURL(host, escapedPath)
	d.mu.RLock()
	defer d.mu.RUnlock()
	if _, ok := d.entries[u]; ok {
		return true
	}
	_, ok := d.claimedBy(u)
	return ok
}

// claimedBy returns the server whose base URL is a path prefix of u.
func (d *Documents) claimedBy(u string) (string, bool) {
	for name, s := range d.servers {
		base := strings.TrimSuffix(s.settings.BaseURL, "/")
		if strings.HasPrefix(u, base+"/") {
			return name, true
		}
	}
	return "", false
}

// ServeHTTP answers GET and HEAD for published documents: 200 with the body,
// or 304 when If-None-Match names its ETag; 404 for anything else under a
// server's base URL; 429 with Retry-After beyond the server's rate. Never a
// redirect.
func (d *Documents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u := RequestURL(r.Host, r.URL.EscapedPath())
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	d.mu.RLock()
	e := d.entries[u]
	serverName := ""
	if e != nil {
		serverName = e.server
	} else {
		serverName, _ = d.claimedBy(u)
	}
	srv := d.servers[serverName]
	d.mu.RUnlock()

	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if srv != nil && !srv.take(d.now()) {
		h.Set("Retry-After", "1")
		h.Set("Cache-Control", "no-store")
		http.Error(w, "too many requests", http.StatusTooManyRequests)
		d.observe(serverName, http.StatusTooManyRequests)
		return
	}
	if e == nil || srv == nil {
		h.Set("Cache-Control", "no-store")
		http.Error(w, "no such client metadata document", http.StatusNotFound)
		d.observe(serverName, http.StatusNotFound)
		return
	}
	h.Set("Cache-Control", srv.cacheControl)
	h.Set("ETag", e.etag)
	if etagMatches(r.Header.Get("If-None-Match"), e.etag) {
		w.WriteHeader(http.StatusNotModified)
		d.observe(serverName, http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", e.length)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(e.body)
	}
	d.observe(serverName, http.StatusOK)
}

func (d *Documents) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Documents) observe(server string, status int) {
	if d.Observer != nil && server != "" {
		d.Observer.Served(server, status)
	}
}

// take spends one token of the server's bucket, if there is one.
func (s *serverState) take(now time.Time) bool {
	rate := s.settings.RatePerSecond
	if rate <= 0 {
		return true
	}
	burst := float64(max(s.settings.Burst, 1))
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.last.IsZero() {
		s.tokens = math.Min(burst, s.tokens+now.Sub(s.last).Seconds()*rate)
	}
	s.last = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

// etagMatches applies If-None-Match (RFC 9110 §13.1.2): "*" or any listed
// tag equal to etag under weak comparison.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
