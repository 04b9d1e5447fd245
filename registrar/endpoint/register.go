package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/clientreg/clientreg/registrar/metadata"
)

// Media types.
const (
	mediaJSON = "application/json"
	mediaForm = "application/x-www-form-urlencoded"
)

// mediaType returns the lower-cased media type of r, "" when absent, and
// whether its charset parameter (if any) is UTF-8.
func mediaType(r *http.Request) (string, bool) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", true
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "invalid", false
	}
	cs, has := params["charset"]
	return mt, !has || strings.EqualFold(cs, "utf-8")
}

// requireJSON checks the request's media type (REG-01, REG-02): 415 unless
// application/json (with no charset other than UTF-8).
func requireJSON(r *http.Request) error {
	mt, utf8 := mediaType(r)
	if mt != mediaJSON || !utf8 {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeInvalidRequest,
			Description: "Content-Type must be application/json"}
	}
	return nil
}

// readBody reads the capped request body: 413 invalid_client_metadata when
// it is larger than MaxBodyBytes (REG-45).
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return ReadBody(w, r, h.maxBody())
}

// ReadBody reads r's body, at most limit bytes: an *Error 413
// invalid_client_metadata when it is larger (REG-45), 400 invalid_request
// when it cannot be read.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooLarge := &Error{Status: http.StatusRequestEntityTooLarge, Code: string(metadata.CodeInvalidClientMetadata),
		Description: "the request body exceeds " + strconv.FormatInt(limit, 10) + " bytes"}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
			Description: "the request body could not be read", cause: err}
	}
	return body, nil
}

// legacyType reports whether body is a JSON object whose "type" member (exact,
// case-sensitive name) is client_associate or client_update.
func legacyType(body []byte) bool {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil {
		return false
	}
	var t string
	if raw, ok := members["type"]; !ok || json.Unmarshal(raw, &t) != nil {
		return false
	}
	return t == "client_associate" || t == "client_update"
}

// serveRegister serves POST {Path}/register (RFC 7591 §3).
//
// Order: method (405, REG-03); with a LegacyHandler, hand-off of form bodies
// and JSON "type" requests; initial access token (401, REG-36); media type
// (415, REG-02); body size (413); then Register.
func (h *Handler) serveRegister(w http.ResponseWriter, r *http.Request, srv *Server) {
	if r.Method != http.MethodPost {
		h.writeErr(w, methodNotAllowed(http.MethodPost, "the registration endpoint accepts POST only"))
		return
	}
	var body []byte
	if h.LegacyHandler != nil {
		mt, _ := mediaType(r)
		legacy := mt == mediaForm
		if mt == mediaJSON {
			b, err := h.readBody(w, r)
			if err != nil {
				h.writeErr(w, err)
				return
			}
			body, legacy = b, legacyType(b)
		}
		if legacy {
			r2 := r.WithContext(context.WithValue(r.Context(), serverKey{}, srv))
			if body != nil {
				r2.Body = io.NopCloser(bytes.NewReader(body))
				r2.ContentLength = int64(len(body))
			} else {
				r2.Body = http.MaxBytesReader(w, r.Body, h.maxBody())
			}
			h.LegacyHandler.ServeHTTP(w, r2)
			return
		}
	}
	if err := CheckInitialAccessToken(srv, r); err != nil {
		h.writeErr(w, err)
		return
	}
	if err := requireJSON(r); err != nil {
		h.writeErr(w, err)
		return
	}
	if body == nil {
		b, err := h.readBody(w, r)
		if err != nil {
			h.writeErr(w, err)
			return
		}
		body = b
	}
	md, err := decodeBody(body)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	info, err := h.Register(r.Context(), srv, md)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	h.writeClientInformation(w, http.StatusCreated, info)
}

// decodeBody decodes a request body with metadata.Decode(body, false). The
// body must be UTF-8 (RFC 8259 §8.1) without unpaired surrogate escapes:
// encoding/json would silently replace either with U+FFFD, so Decode refuses
// them, naming the member.
func decodeBody(body []byte) (*metadata.Metadata, error) {
	return metadata.Decode(body, false)
}

// prepare turns decoded request metadata into registered metadata: software
// statement (REG-32 to REG-35), RFC 7591 defaults (REG-17, REG-19), the one
// validation (metadata.Validate with the server's policy), the endpoint
// policy (checkPolicy) and the sector identifier (REG-39). Errors are
// metadata.ErrorLists.
func (h *Handler) prepare(ctx context.Context, srv *Server, caps capabilities, md *metadata.Metadata) (*metadata.Metadata, error) {
	if md == nil {
		md = &metadata.Metadata{}
	}
	md, err := applyStatement(srv, md, h.now())
	if err != nil {
		return nil, err
	}
	md = metadata.WithDefaults(md, caps.md)
	if errs := metadata.Validate(md, caps.md); len(errs) > 0 {
		return nil, errs
	}
	if errs := checkPolicy(srv, caps, md); len(errs) > 0 {
		return nil, errs
	}
	if err := h.checkSectorIdentifier(ctx, md); err != nil {
		return nil, err
	}
	return md, nil
}

// Register registers md, as decoded from a request body with
// metadata.Decode(body, false), at srv: it takes a token from the server's
// rate limit (429 when there is none), applies the software statement,
// defaults, validation and policy (single-instance software included), then stores the registration (Stateful:
// Store.Create with a fresh 256-bit registration access token, after the
// Policy.MaxClients check) or mints a stateless client id. The caller has
// authorized the request (CheckInitialAccessToken). Errors are *Error or
// metadata.ErrorList values; WriteError writes either. It is exported for
// the legacy registration handler.
func (h *Handler) Register(ctx context.Context, srv *Server, md *metadata.Metadata) (*ClientInformation, error) {
	if ok, wait := h.limiter.allow(srv.Path, srv.Policy.RateLimit, h.now()); !ok {
		return nil, rateLimited(wait)
	}
	caps := capabilitiesOf(srv)
	md, err := h.prepare(ctx, srv, caps, md)
	if err != nil {
		return nil, err
	}
	unlock, err := h.checkSingleInstance(ctx, srv, md, nil)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !srv.stateful() {
		return h.mintStateless(srv, md)
	}
	if h.Store == nil {
		return nil, unavailable(errors.New("no store for a Stateful server"))
	}
	if maxClients := srv.Policy.MaxClients; maxClients > 0 {
		n, err := h.Store.Count(ctx, srv)
		if err != nil {
			return nil, err
		}
		if n >= maxClients {
			return nil, &Error{Status: http.StatusForbidden, Code: CodeAccessDenied,
				Description: "this server has reached its maximum number of registrations"}
		}
	}
	rat, err := newOpaqueToken()
	if err != nil {
		return nil, serverError(err)
	}
	reg, err := h.Store.Create(ctx, srv, md, md.SoftwareStatement, hashToken(rat))
	if err != nil {
		return nil, err
	}
	return clientInformation(srv, reg, md, rat), nil
}

// clientInformation builds the response for a stored registration. The
// metadata is the store's (what is registered), falling back to fallback; a
// secret is returned only to clients whose method uses one (RSP-03).
func clientInformation(srv *Server, reg *Registration, fallback *metadata.Metadata, rat string) *ClientInformation {
	md := reg.Metadata
	if md == nil {
		md = fallback
	}
	md = md.DeepCopy()
	if md != nil && md.SoftwareStatement == "" && reg.SoftwareStatement != "" {
		md.SoftwareStatement = reg.SoftwareStatement
	}
	info := &ClientInformation{
		Metadata:                md,
		ClientID:                reg.ClientID,
		ClientIDIssuedAt:        reg.ClientIDIssuedAt,
		ClientSecretExpiresAt:   reg.ClientSecretExpiresAt,
		RegistrationAccessToken: rat,
		RegistrationClientURI:   srv.clientURI(reg.Handle),
	}
	if md == nil || md.NeedsSecret() {
		info.ClientSecret = reg.ClientSecret
	}
	return info
}

// checkSingleInstance enforces Policy.SingleInstanceSoftwareIDs (SEC-08) for
// md, the metadata about to be stored for self (nil for a new registration):
// when md's software_id is listed and another registration of srv has the
// same software_id and software_version, it returns 400
// invalid_client_metadata. On success it returns a function the caller must
// call once the registration is stored: the check and the store run under
// one lock per server, so two registrations on this replica cannot both
// pass (replicas do not share it; see the README).
func (h *Handler) checkSingleInstance(ctx context.Context, srv *Server, md *metadata.Metadata, self *Registration) (func(), error) {
	noop := func() {}
	if md.SoftwareID == "" || !slices.Contains(srv.Policy.SingleInstanceSoftwareIDs, md.SoftwareID) {
		return noop, nil
	}
	if self != nil && self.Metadata != nil && self.Metadata.SoftwareID == md.SoftwareID && self.Metadata.SoftwareVersion == md.SoftwareVersion {
		return noop, nil // unchanged: it is the instance
	}
	finder, ok := h.Store.(SoftwareFinder)
	if !srv.stateful() || !ok {
		return noop, serverError(errors.New("single-instance software cannot be enforced: Stateless storage or a store without SoftwareFinder"))
	}
	mu, _ := h.software.LoadOrStore(srv.Path, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	unlock := mu.(*sync.Mutex).Unlock
	handles, err := finder.FindSoftware(ctx, srv, md.SoftwareID, md.SoftwareVersion)
	if err != nil {
		unlock()
		return noop, err
	}
	for _, hd := range handles {
		if self == nil || hd != self.Handle {
			unlock()
			return noop, metadata.ErrorList{{Member: "software_id", Index: -1, Code: metadata.CodeInvalidClientMetadata,
				Detail: "names single-instance software that is registered already with this software_version"}}
		}
	}
	return unlock, nil
}
