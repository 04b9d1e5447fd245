package endpoint

import (
	"context"
	"errors"
	"net/http"

	"github.com/clientreg/clientreg/registrar/metadata"
)

// AsError returns the answer err gets from this endpoint, as WriteError would
// write it: an *Error stays as it is, a metadata.ErrorList is 400 with its
// code, ErrNotFound 401 invalid_token, ErrUnavailable 503, ErrNoServer 404,
// anything else 500 server_error. It returns nil for nil. It is exported for
// the legacy registration handler, which renames the codes.
func AsError(err error) *Error { return asError(err) }

// UpdateRegistration replaces the metadata of the Stateful registration
// handle of srv with md (as decoded with metadata.Decode(body, false)),
// validated exactly like a registration (software statement, defaults,
// metadata.Validate, endpoint policy, sector identifier; Policy.MaxClients
// does not apply), and returns the client information. The registration
// access token is neither rotated nor returned. The caller has authenticated
// the client. A Stateless srv is refused with 400 invalid_request. Errors are
// like Register's. It is exported for the legacy registration handler
// (client_update).
func (h *Handler) UpdateRegistration(ctx context.Context, srv *Server, handle string, md *metadata.Metadata) (*ClientInformation, error) {
	if !srv.stateful() {
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
			Description: "stateless registrations cannot be updated"}
	}
	if h.Store == nil {
		return nil, unavailable(errors.New("no store for a Stateful server"))
	}
	md, err := h.prepare(ctx, srv, capabilitiesOf(srv), md)
	if err != nil {
		return nil, err
	}
	reg, err := h.Store.Update(ctx, srv, handle, md, nil)
	if err != nil {
		return nil, err
	}
	return clientInformation(srv, reg, md, ""), nil
}
