package legacy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/clientreg/clientreg/registrar/endpoint"
)

// Handler serves the draft OpenID Connect registration requests that an
// endpoint.Handler hands to its LegacyHandler: client_associate and
// client_update, as application/x-www-form-urlencoded or JSON. Wire it as
//
//	core := &endpoint.Handler{Resolver: ..., Store: ...}
//	core.LegacyHandler = &legacy.Handler{Core: core}
//
// It relies on the request context carrying the resolved server
// (endpoint.ServerFromContext); requests without one get 500 server_error.
type Handler struct {
	// Core is the final-spec endpoint this handler delegates to: its Register
	// and UpdateRegistration (validation, policy, storage), Store (for
	// client_update, which needs a ClientIDLookup), Clock (expires_in),
	// MaxBodyBytes and Log. Required.
	Core *endpoint.Handler
}

var _ http.Handler = (*Handler)(nil)

// ClientIDLookup is the optional interface of an endpoint.Store that can find
// a Stateful registration by client_id (the Store interface is keyed by
// handle). client_update is offered only when the Core's Store implements
// it; otherwise client_update is answered 400 invalid_type.
type ClientIDLookup interface {
	// LookupClientID returns the registration of srv whose ClientID equals
	// clientID (exact, case-sensitive match), with its ClientSecret and
	// Handle, or an error wrapping endpoint.ErrNotFound. Other errors are
	// answered like the Store's (ErrUnavailable: 503, ...).
	LookupClientID(ctx context.Context, srv *endpoint.Server, clientID string) (*endpoint.Registration, error)
}

// ServeHTTP serves one draft registration request: POST only (405 otherwise),
// body parsed (415, 413, invalid_type, ...), then client_associate or
// client_update. Answers are 200 with {"client_id", "client_secret",
// "expires_in"} or a draft error; see the package documentation.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	srv, ok := endpoint.ServerFromContext(r.Context())
	if !ok || h.Core == nil {
		h.writeErr(w, errors.New("legacy handler called without a resolved server or Core"), nil)
		return
	}
	if r.Method != http.MethodPost {
		h.writeErr(w, &endpoint.Error{Status: http.StatusMethodNotAllowed, Code: endpoint.CodeInvalidRequest,
			Allow: http.MethodPost, Description: "the registration endpoint accepts POST only"}, nil)
		return
	}
	rq, err := h.parse(w, r)
	if err != nil {
		h.writeErr(w, err, nil)
		return
	}
	switch rq.typ {
	case TypeAssociate:
		h.associate(w, r, srv, rq)
	case TypeUpdate:
		h.update(w, r, srv, rq)
	}
}

// associate registers a client: the initial access token (the
// Authorization header or an access_token parameter, RFC 6750 §2.1 and
// §2.2; Open servers need none), then the final endpoint's Register.
func (h *Handler) associate(w http.ResponseWriter, r *http.Request, srv *endpoint.Server, rq *request) {
	if err := authorizeAssociate(r, srv, rq); err != nil {
		h.writeErr(w, err, nil)
		return
	}
	md, err := rq.metadata()
	if err != nil {
		h.writeErr(w, err, rq.used)
		return
	}
	info, err := h.Core.Register(r.Context(), srv, md)
	if err != nil {
		h.writeErr(w, err, rq.used)
		return
	}
	h.writeInfo(w, info)
}

// authorizeAssociate applies endpoint.CheckInitialAccessToken, with an
// access_token parameter moved into the Authorization header. A token in
// both places is 400 invalid_request (RFC 6750 §2).
func authorizeAssociate(r *http.Request, srv *endpoint.Server, rq *request) error {
	if srv.Open {
		return nil
	}
	if rq.hasToken {
		if len(r.Header.Values("Authorization")) > 0 {
			return &endpoint.Error{Status: http.StatusBadRequest, Code: endpoint.CodeInvalidRequest,
				Description: "the access token must be sent in one place only"}
		}
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+rq.accessToken)
	}
	return endpoint.CheckInitialAccessToken(srv, r)
}

// update replaces a client's metadata: refused on Stateless servers and
// stores without ClientIDLookup (invalid_type); the client authenticates
// with client_id and client_secret (HTTP Basic or parameters) compared in
// constant time; the new metadata is the request's, in full, validated by
// the final endpoint's UpdateRegistration.
func (h *Handler) update(w http.ResponseWriter, r *http.Request, srv *endpoint.Server, rq *request) {
	if srv.Storage == endpoint.StorageStateless {
		h.writeErr(w, &endpoint.Error{Status: http.StatusBadRequest, Code: CodeInvalidType,
			Description: "client_update is not supported: this server's registrations are stateless and cannot change; register a new client instead"}, nil)
		return
	}
	if h.Core.Store == nil {
		h.writeErr(w, &endpoint.Error{Status: http.StatusServiceUnavailable, Code: endpoint.CodeTemporarilyUnavailable,
			Description: "the registration service is temporarily unavailable, retry later"}, nil)
		return
	}
	lookup, ok := h.Core.Store.(ClientIDLookup)
	if !ok {
		h.writeErr(w, &endpoint.Error{Status: http.StatusBadRequest, Code: CodeInvalidType,
			Description: "client_update is not supported by this server"}, nil)
		return
	}
	id, secret, basic, err := credentials(r, rq)
	if err != nil {
		h.writeErr(w, err, nil)
		return
	}
	reg, err := lookup.LookupClientID(r.Context(), srv, id)
	if errors.Is(err, endpoint.ErrNotFound) || (err == nil && reg == nil) {
		secretMatches(secret, unknownClientSecret) // same work as for a known client
		h.writeErr(w, &credentialError{code: CodeInvalidClientID, desc: "the client_id is unknown", basic: basic}, nil)
		return
	}
	if err != nil {
		h.writeErr(w, err, nil)
		return
	}
	if !secretMatches(secret, reg.ClientSecret) {
		h.writeErr(w, &credentialError{code: CodeInvalidClientSecret,
			desc: "the client_secret is not the client's current secret", basic: basic}, nil)
		return
	}
	md, err := rq.metadata()
	if err != nil {
		h.writeErr(w, err, rq.used)
		return
	}
	info, err := h.Core.UpdateRegistration(r.Context(), srv, reg.Handle, md)
	if errors.Is(err, endpoint.ErrNotFound) {
		// Deleted since the lookup.
		h.writeErr(w, &credentialError{code: CodeInvalidClientID, desc: "the client_id is unknown", basic: basic}, nil)
		return
	}
	if err != nil {
		h.writeErr(w, err, rq.used)
		return
	}
	h.writeInfo(w, info)
}

// unknownClientSecret is compared against when the client_id is unknown, so
// that both failures cost the same work.
const unknownClientSecret = "unknown-client-0000000000000000000000000000"

// secretMatches compares a presented client secret with the stored one in
// constant time: both are hashed with SHA-256 first, so neither the content
// nor the length of the stored secret affects the timing. An empty stored
// secret (a client without one) never matches.
func secretMatches(presented, stored string) bool {
	a := sha256.Sum256([]byte(presented))
	b := sha256.Sum256([]byte(stored))
	eq := subtle.ConstantTimeCompare(a[:], b[:])
	return eq == 1 && stored != ""
}

// credentials returns the client_update credentials: HTTP Basic (client_id
// and secret form-urlencoded first, RFC 6749 §2.3.1) or the client_id and
// client_secret parameters. Using both, or a Basic client_id that differs
// from the client_id parameter, is 400 invalid_request (RFC 6749 §2.3).
func credentials(r *http.Request, rq *request) (id, secret string, basic bool, err error) {
	user, pass, ok := r.BasicAuth()
	if ok {
		if len(r.Header.Values("Authorization")) > 1 {
			return "", "", true, &endpoint.Error{Status: http.StatusBadRequest, Code: endpoint.CodeInvalidRequest,
				Description: "more than one Authorization header"}
		}
		if rq.hasSecret {
			return "", "", true, &endpoint.Error{Status: http.StatusBadRequest, Code: endpoint.CodeInvalidRequest,
				Description: "use HTTP Basic or the client_secret parameter, not both"}
		}
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || id == "" {
			return "", "", true, &credentialError{code: CodeInvalidClientID, desc: "malformed HTTP Basic credentials", basic: true}
		}
		if rq.hasClientID && rq.clientID != id {
			return "", "", true, &endpoint.Error{Status: http.StatusBadRequest, Code: endpoint.CodeInvalidRequest,
				Description: "the client_id parameter differs from the HTTP Basic user name"}
		}
		return id, secret, true, nil
	}
	if !rq.hasClientID {
		return "", "", false, &credentialError{code: CodeInvalidClientID, desc: "client_id is required"}
	}
	if !rq.hasSecret {
		return "", "", false, &credentialError{code: CodeInvalidClientSecret, desc: "client_secret is required"}
	}
	return rq.clientID, rq.clientSecret, false, nil
}

// Response is the draft registration response.
type Response struct {
	// ClientID is the client identifier.
	ClientID string `json:"client_id"`
	// ClientSecret is the client secret; omitted for clients without one
	// (token_endpoint_auth_type none or private_key_jwt).
	ClientSecret string `json:"client_secret,omitempty"`
	// ExpiresIn is the number of seconds until the client secret expires,
	// 0 when it never does or there is none; at least 1 otherwise.
	ExpiresIn int64 `json:"expires_in"`
}

// writeInfo writes the 200 draft response for info, not cacheable.
func (h *Handler) writeInfo(w http.ResponseWriter, info *endpoint.ClientInformation) {
	resp := Response{ClientID: info.ClientID, ClientSecret: info.ClientSecret}
	if info.ClientSecret != "" && !info.ClientSecretExpiresAt.IsZero() {
		resp.ExpiresIn = expiresIn(info.ClientSecretExpiresAt.Sub(h.now()))
	}
	b, err := json.Marshal(resp)
	if err != nil {
		h.writeErr(w, err, nil)
		return
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// expiresIn rounds d up to whole seconds, at least 1 (0 would mean never).
func expiresIn(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		return 1
	}
	return s
}

func (h *Handler) now() time.Time {
	if h.Core.Clock != nil {
		return h.Core.Clock.Now()
	}
	return time.Now()
}

func (h *Handler) maxBody() int64 {
	if h.Core.MaxBodyBytes > 0 {
		return h.Core.MaxBodyBytes
	}
	return endpoint.DefaultMaxBodyBytes
}
