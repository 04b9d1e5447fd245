package endpoint

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/clientreg/clientreg/registrar/metadata"
)

// putForbidden are the members RFC 7592 §2.2 says a PUT "MUST NOT include";
// the endpoint refuses such a request with invalid_client_metadata (MGT-12,
// docs/requirements.md B.7) rather than silently ignoring them.
var putForbidden = []string{
	"registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at",
}

// validHandle reports whether handle can name a registration: non-empty, one
// path segment of URL-safe characters (object names, base64url and dots).
func validHandle(handle string) bool {
	if handle == "" || len(handle) > 16<<10 {
		return false
	}
	for i := 0; i < len(handle); i++ {
		c := handle[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~':
		default:
			return false
		}
	}
	return true
}

// serveClient serves the client configuration endpoint {Path}/register/{handle}
// (RFC 7592). Order: method (405 with Allow, MGT-18, SCI-13, SCI-15), Bearer
// token (401, MGT-01, MGT-06 to MGT-08), then the operation. An unknown
// handle is indistinguishable from a wrong token: 401 invalid_token, never 404
// (MGT-07).
func (h *Handler) serveClient(w http.ResponseWriter, r *http.Request, srv *Server, handle string) {
	allow := routeClient.allowed(srv)
	if !srv.stateful() {
		if r.Method != http.MethodGet {
			h.writeErr(w, methodNotAllowed(allow,
				"stateless registrations cannot be updated or deleted; register a new client instead"))
			return
		}
		h.readStatelessClient(w, r, srv, handle)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodPut, http.MethodDelete:
	default:
		h.writeErr(w, methodNotAllowed(allow, "the client configuration endpoint accepts GET, PUT and DELETE"))
		return
	}
	tok, e := requiredBearer(r)
	if e != nil {
		h.writeErr(w, e)
		return
	}
	if h.Store == nil {
		h.writeErr(w, unavailable(errors.New("no store for a Stateful server")))
		return
	}
	if !validHandle(handle) {
		h.writeErr(w, invalidToken())
		return
	}
	reg, err := h.Store.Get(r.Context(), srv, handle)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	if !hashMatches(hashToken(tok), reg.RATHash) {
		h.writeErr(w, invalidToken())
		return
	}
	switch r.Method {
	case http.MethodGet:
		h.readClient(w, r, srv, reg, tok)
	case http.MethodPut:
		h.updateClient(w, r, srv, reg, tok)
	case http.MethodDelete:
		if err := h.Store.Delete(r.Context(), srv, handle); err != nil {
			h.writeErr(w, err)
			return
		}
		setNoStore(w.Header())
		w.WriteHeader(http.StatusNoContent)
	}
}

// rotate returns the token to hand out after an operation: a new one (whose
// hash the caller stores) when rotating, else the presented one.
func rotate(doRotate bool, current string) (string, *[32]byte, error) {
	if !doRotate {
		return current, nil, nil
	}
	tok, err := newOpaqueToken()
	if err != nil {
		return "", nil, serverError(err)
	}
	sum := hashToken(tok)
	return tok, &sum, nil
}

// readClient answers an RFC 7592 read (MGT-03, MGT-04): 200 with the full
// client information response, rotating the token when RotateOnRead is set
// (MGT-21: the old token dies with the stored hash).
func (h *Handler) readClient(w http.ResponseWriter, r *http.Request, srv *Server, reg *Registration, tok string) {
	tok, newHash, err := rotate(srv.RotateOnRead, tok)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	if newHash != nil {
		if reg, err = h.Store.Update(r.Context(), srv, reg.Handle, nil, newHash); err != nil {
			h.writeErr(w, err)
			return
		}
	}
	h.writeClientInformation(w, http.StatusOK, clientInformation(srv, reg, nil, tok))
}

// updateClient answers an RFC 7592 update (MGT-10 to MGT-16): a full
// replacement validated exactly like a registration. The body must carry
// client_id equal to the current one; registration_access_token,
// registration_client_uri, client_secret_expires_at and client_id_issued_at
// are refused; a client_secret must equal the current secret. All of these
// are 400 invalid_client_metadata.
func (h *Handler) updateClient(w http.ResponseWriter, r *http.Request, srv *Server, reg *Registration, tok string) {
	if err := requireJSON(r); err != nil {
		h.writeErr(w, err)
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	md, err := decodeBody(body)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	members, err := objectMembers(body) // Decode accepted it: one object, no duplicates
	if err != nil {
		h.writeErr(w, badRequest(metadata.CodeInvalidClientMetadata, "request body must be a JSON object"))
		return
	}
	if err := checkUpdateMembers(members, reg); err != nil {
		h.writeErr(w, err)
		return
	}
	caps := capabilitiesOf(srv)
	md, err = h.prepare(r.Context(), srv, caps, md)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	unlock, err := h.checkSingleInstance(r.Context(), srv, md, reg)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	defer unlock()
	tok, newHash, err := rotate(srv.RotateOnUpdate, tok)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	updated, err := h.Store.Update(r.Context(), srv, reg.Handle, md, newHash)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	h.writeClientInformation(w, http.StatusOK, clientInformation(srv, updated, md, tok))
}

// checkUpdateMembers applies the RFC 7592 §2.2 rules on credential members of
// a PUT body. JSON null counts as absent, as everywhere in metadata.
func checkUpdateMembers(members map[string]json.RawMessage, reg *Registration) error {
	present := func(name string) (json.RawMessage, bool) {
		raw, ok := members[name]
		if !ok || string(bytes.TrimSpace(raw)) == "null" {
			return nil, false
		}
		return raw, true
	}
	icm := func(desc string) error { return badRequest(metadata.CodeInvalidClientMetadata, desc) }
	raw, ok := present("client_id")
	var id string
	if !ok || json.Unmarshal(raw, &id) != nil {
		return icm("client_id is required and must be the client's identifier")
	}
	if id != reg.ClientID {
		return icm("client_id does not match this client")
	}
	for _, name := range putForbidden {
		if _, ok := present(name); ok {
			return icm(name + " must not be sent in an update")
		}
	}
	if raw, ok := present("client_secret"); ok {
		var s string
		if json.Unmarshal(raw, &s) != nil || reg.ClientSecret == "" ||
			subtle.ConstantTimeCompare([]byte(s), []byte(reg.ClientSecret)) != 1 {
			return icm("client_secret does not match the current secret; a client cannot choose its secret")
		}
	}
	return nil
}

// readStatelessClient answers GET on a stateless configuration endpoint: the
// handle is the client id; the token must be this client's registration
// access token (see verifyRAT).
func (h *Handler) readStatelessClient(w http.ResponseWriter, r *http.Request, srv *Server, clientID string) {
	tok, e := requiredBearer(r)
	if e != nil {
		h.writeErr(w, e)
		return
	}
	c, err := h.cryptoFor(srv)
	if err != nil {
		h.writeErr(w, unavailable(err))
		return
	}
	if !validHandle(clientID) || strings.Count(clientID, ".") < 2 {
		h.writeErr(w, invalidToken())
		return
	}
	client, err := c.verifyRAT(srv, tok, clientID, h.now())
	if err != nil {
		h.writeErr(w, invalidToken())
		return
	}
	info, err := h.readStateless(srv, c, client, clientID, tok, capabilitiesOf(srv))
	if err != nil {
		h.writeErr(w, err)
		return
	}
	h.writeClientInformation(w, http.StatusOK, info)
}
