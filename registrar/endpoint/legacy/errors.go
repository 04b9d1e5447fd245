package legacy

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// The error codes of the draft registration error response.
const (
	// CodeInvalidType: the type parameter is missing, unknown, or names an
	// operation this server does not offer (client_update on a Stateless
	// server or without a ClientIDLookup store).
	CodeInvalidType = "invalid_type"
	// CodeInvalidClientID: client_update without a client_id, or with one
	// this server does not know.
	CodeInvalidClientID = "invalid_client_id"
	// CodeInvalidClientSecret: client_update without the client's current
	// client_secret.
	CodeInvalidClientSecret = "invalid_client_secret"
	// CodeInvalidConfigurationParameter: a metadata parameter is invalid
	// (final codes invalid_redirect_uri, invalid_client_metadata,
	// invalid_software_statement and unapproved_software_statement).
	CodeInvalidConfigurationParameter = "invalid_configuration_parameter"
)

// renamed maps final error codes to draft codes. Codes not listed (the OAuth
// and RFC 6750 codes invalid_request, invalid_token, access_denied,
// temporarily_unavailable, server_error, not_found, and the draft codes
// themselves) are sent unchanged.
var renamed = map[string]string{
	string(metadata.CodeInvalidRedirectURI):          CodeInvalidConfigurationParameter,
	string(metadata.CodeInvalidClientMetadata):       CodeInvalidConfigurationParameter,
	string(metadata.CodeInvalidSoftwareStatement):    CodeInvalidConfigurationParameter,
	string(metadata.CodeUnapprovedSoftwareStatement): CodeInvalidConfigurationParameter,
}

// Code returns the draft error code the legacy handler sends for the
// final code.
func Code(final string) string {
	if c, ok := renamed[final]; ok {
		return c
	}
	return final
}

// toLegacy maps err to the draft answer: endpoint.AsError, the code renamed
// by Code, and for metadata errors a description that names the
// parameter as the client sent it (used maps final member names to request
// parameter names).
func toLegacy(err error, used map[string]string) *endpoint.Error {
	e := endpoint.AsError(err)
	if e == nil {
		return nil
	}
	out := *e
	out.Code = Code(e.Code)
	var list metadata.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		p := *list.Primary()
		if n, ok := used[p.Member]; ok {
			p.Member = n
		}
		out.Description = p.Error()
		if n := len(list) - 1; n > 0 {
			out.Description += " (and " + strconv.Itoa(n) + " more)"
		}
	}
	return &out
}

// credentialError is the 401 answer to a failed client_update
// authentication; basic adds a Basic challenge (RFC 6749 §5.2).
type credentialError struct {
	code, desc string
	basic      bool
}

func (e *credentialError) Error() string { return e.code }

// writeErr writes err in the draft format, {"error", "error_description"}
// with Cache-Control: no-store (endpoint.WriteError after renaming), and logs
// server-side failures.
func (h *Handler) writeErr(w http.ResponseWriter, err error, used map[string]string) {
	var ce *credentialError
	if errors.As(err, &ce) {
		if ce.basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="client_update"`)
		}
		endpoint.WriteError(w, &endpoint.Error{Status: http.StatusUnauthorized, Code: ce.code, Description: ce.desc})
		return
	}
	e := toLegacy(err, used)
	if e == nil {
		e = &endpoint.Error{Status: http.StatusInternalServerError, Code: endpoint.CodeServerError, Description: "internal error"}
	}
	if e.Status >= 500 && h.Core != nil && h.Core.Log != nil {
		cause := "none"
		if c := errors.Unwrap(e); c != nil {
			cause = c.Error()
		}
		h.Core.Log("legacy registration endpoint error", "status", e.Status, "error", cause)
	}
	endpoint.WriteError(w, e)
}
