package endpoint

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultMaxBodyBytes caps request bodies when Handler.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 64 << 10

// Paths relative to a server's Path.
const (
	pathRegister         = "/register"
	pathOpenIDConfig     = "/.well-known/openid-configuration"
	pathJWKS             = "/jwks"
	wellKnownOAuthServer = "/.well-known/oauth-authorization-server"
)

// Handler is the embedded RFC 7591 / RFC 7592 registration endpoint of every
// server a Resolver knows. See the package documentation for the routes and
// the decisions. Handler must not be copied after first use.
type Handler struct {
	// Resolver finds the server of a request path. Required.
	Resolver Resolver
	// Store keeps Stateful registrations; may be nil when no server is
	// Stateful (requests to a Stateful server then get 503).
	Store Store
	// Clock defaults to the real time.
	Clock Clock
	// MaxBodyBytes caps request bodies; 0 means DefaultMaxBodyBytes (64 KiB).
	// A larger body is answered 413 invalid_client_metadata.
	MaxBodyBytes int64
	// Log, when set, receives server-side failures. It never receives
	// tokens, secrets, software statements or client ids.
	Log LogFunc
	// LegacyHandler, when set, serves the pre-final OpenID Connect
	// registration drafts: a POST to Path/register with an
	// application/x-www-form-urlencoded body, or with a JSON object whose
	// "type" member is "client_associate" or "client_update", is handed to it
	// (body capped at MaxBodyBytes and replayable; ServerFromContext gives the
	// server). When nil, form bodies get 415 and "type" is an unknown member,
	// ignored like any other (REG-04).
	LegacyHandler http.Handler
	// SectorIdentifierFetcher fetches sector_identifier_uri documents; nil
	// means FetchSectorIdentifier.
	SectorIdentifierFetcher SectorIdentifierFetcher

	mu     sync.Mutex
	crypto map[*Server]*statelessCrypto
	// limiter holds each server's rate limit bucket (Policy.RateLimit).
	limiter rateLimiter
	// software holds a *sync.Mutex per server path for single-instance
	// software checks (Policy.SingleInstanceSoftwareIDs).
	software sync.Map
}

type serverKey struct{}

// ServerFromContext returns the server a request was resolved to. It is set
// on the requests handed to LegacyHandler.
func ServerFromContext(ctx context.Context) (*Server, bool) {
	s, ok := ctx.Value(serverKey{}).(*Server)
	return s, ok && s != nil
}

func (h *Handler) clock() Clock {
	if h.Clock == nil {
		return realClock{}
	}
	return h.Clock
}

func (h *Handler) now() time.Time { return h.clock().Now() }

type realClock struct{}

// Now returns the current time.
func (realClock) Now() time.Time { return time.Now() }

func (h *Handler) log(msg string, kv ...any) {
	if h.Log != nil {
		h.Log(msg, kv...)
	}
}

func (h *Handler) maxBody() int64 {
	if h.MaxBodyBytes > 0 {
		return h.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// route is a resolved request target.
type route int

const (
	routeNone route = iota
	routeRegister
	routeClient
	routeDiscovery
	routeJWKS
)

// allowed returns the Allow header value of a route.
func (rt route) allowed(srv *Server) string {
	switch rt {
	case routeRegister:
		return http.MethodPost
	case routeClient:
		if srv.stateful() {
			return "GET, PUT, DELETE"
		}
		return http.MethodGet
	case routeDiscovery, routeJWKS:
		return "GET, HEAD"
	}
	return ""
}

// resolve finds the server and route of a request path.
func (h *Handler) resolve(ctx context.Context, path string) (*Server, route, string, error) {
	if rest, ok := strings.CutPrefix(path, wellKnownOAuthServer); ok && (rest == "" || rest[0] == '/') {
		// RFC 8414 §3: the well-known string goes between host and path.
		srv, err := h.Resolver.Lookup(ctx, rest)
		if err != nil {
			return nil, routeNone, "", err
		}
		if srv == nil || srv.Path != rest {
			return nil, routeNone, "", ErrNoServer
		}
		return srv, routeDiscovery, "", nil
	}
	srv, err := h.Resolver.Lookup(ctx, path)
	if err != nil {
		return nil, routeNone, "", err
	}
	if srv == nil {
		return nil, routeNone, "", ErrNoServer
	}
	rest, ok := strings.CutPrefix(path, srv.Path)
	if !ok || (rest != "" && rest[0] != '/') {
		return nil, routeNone, "", ErrNoServer
	}
	switch {
	case rest == pathRegister:
		return srv, routeRegister, "", nil
	case strings.HasPrefix(rest, pathRegister+"/"):
		return srv, routeClient, rest[len(pathRegister)+1:], nil
	case rest == pathOpenIDConfig && srv.OIDC:
		return srv, routeDiscovery, "", nil
	case rest == pathJWKS && srv.Keys != nil:
		return srv, routeJWKS, "", nil
	}
	return nil, routeNone, "", ErrNoServer
}

// ServeHTTP serves the routes of every server:
//
//	POST            {Path}/register                              RFC 7591 registration
//	GET|PUT|DELETE  {Path}/register/{handle}                     RFC 7592 management
//	GET             {Path}/.well-known/openid-configuration      discovery (OIDC servers)
//	GET             /.well-known/oauth-authorization-server{Path} RFC 8414 discovery
//	GET             {Path}/jwks                                  public keys (servers with Keys)
//
// Every route answers CORS preflight requests (DSC-13); anything else is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	srv, rt, handle, err := h.resolve(ctx, r.URL.Path)
	if err != nil {
		if !errors.Is(err, ErrNoServer) {
			h.writeErr(w, unavailable(err))
			return
		}
		h.writeErr(w, notFound())
		return
	}
	if r.Header.Get("Origin") != "" {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After, Location")
	}
	if r.Method == http.MethodOptions {
		h.preflight(w, r, srv, rt)
		return
	}
	switch rt {
	case routeRegister:
		h.serveRegister(w, r, srv)
	case routeClient:
		h.serveClient(w, r, srv, handle)
	case routeDiscovery:
		h.serveDiscovery(w, r, srv)
	case routeJWKS:
		h.serveJWKS(w, r, srv)
	default:
		h.writeErr(w, notFound())
	}
}

// preflight answers OPTIONS: the allowed methods, and for CORS preflight
// requests the Access-Control-Allow-* headers (OIDC Registration §3 SHOULD,
// RFC 9700 §2.6 MAY; no credentials mode: tokens travel in Authorization).
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request, srv *Server, rt route) {
	allow := rt.allowed(srv)
	hd := w.Header()
	hd.Set("Allow", allow+", OPTIONS")
	if r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		hd.Set("Access-Control-Allow-Methods", allow)
		hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		hd.Set("Access-Control-Max-Age", "600")
	}
	setNoStore(hd)
	w.WriteHeader(http.StatusNoContent)
}
