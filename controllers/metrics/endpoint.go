package metrics

import (
	"net/http"
	"strconv"
	"strings"
)

// InstrumentEndpoint wraps the embedded registration endpoint's handler so
// that every answered request is counted in
// clientreg_endpoint_requests_total{operation,code}. The operation comes from
// the method and the last path segments, never from a client or server name.
func (m *Metrics) InstrumentEndpoint(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.endpointRequests.WithLabelValues(EndpointOperation(r.Method, r.URL.Path), strconv.Itoa(sw.code)).Inc()
	})
}

// EndpointOperation names a request to the registration endpoint: register
// (POST …/register), read, update or delete (GET, PUT, DELETE
// …/register/<handle>), discovery (…/.well-known/…), jwks (…/jwks), or other.
func EndpointOperation(method, path string) string {
	path = strings.TrimSuffix(path, "/")
	segs := strings.Split(path, "/")
	last := segs[len(segs)-1]
	prev := ""
	if len(segs) > 1 {
		prev = segs[len(segs)-2]
	}
	switch {
	case strings.Contains(path, "/.well-known/"):
		return "discovery"
	case last == "jwks":
		return "jwks"
	case last == "register" && method == http.MethodPost:
		return "register"
	case prev == "register":
		switch method {
		case http.MethodGet:
			return "read"
		case http.MethodPut:
			return "update"
		case http.MethodDelete:
			return "delete"
		}
	}
	return "other"
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
