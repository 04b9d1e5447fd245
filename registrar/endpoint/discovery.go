package endpoint

import (
	"net/http"
	"strconv"

	"github.com/clientreg/clientreg/registrar/metadata"
)

// Cache lifetimes of the public documents (they carry no credentials).
const (
	discoveryMaxAge = 60
	jwksMaxAge      = 300
)

// oidcIDTokenAlgs is id_token_signing_alg_values_supported of OIDC servers:
// RS256 is required by OIDC Discovery §3 (DSC-11).
var oidcIDTokenAlgs = []string{"RS256"}

// discoveryDocument is the RFC 8414 / OpenID Connect Discovery document of a
// server. Empty lists are omitted, never sent as [] (DSC-06).
type discoveryDocument struct {
	Issuer                                 string   `json:"issuer"`
	AuthorizationEndpoint                  string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                          string   `json:"token_endpoint,omitempty"`
	JWKSURI                                string   `json:"jwks_uri,omitempty"`
	RegistrationEndpoint                   string   `json:"registration_endpoint"`
	ResponseTypesSupported                 []string `json:"response_types_supported,omitempty"`
	GrantTypesSupported                    []string `json:"grant_types_supported,omitempty"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	TokenEndpointAuthSigningAlgsSupported  []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	SubjectTypesSupported                  []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgValuesSupported       []string `json:"id_token_signing_alg_values_supported,omitempty"`
	RegistrationManagementMethodsSupported []string `json:"registration_management_methods_supported,omitempty"`
}

// discovery builds the document of srv from the same capabilities that
// registration enforces (DSC-07, DSC-09, DSC-12).
func discovery(srv *Server) *discoveryDocument {
	caps := capabilitiesOf(srv)
	d := &discoveryDocument{
		Issuer:                                srv.Issuer,
		AuthorizationEndpoint:                 srv.AuthorizationEndpoint,
		TokenEndpoint:                         srv.TokenEndpoint,
		JWKSURI:                               srv.JWKSURI,
		RegistrationEndpoint:                  srv.registrationEndpoint(),
		ResponseTypesSupported:                caps.responseTypes,
		GrantTypesSupported:                   caps.grantTypes,
		TokenEndpointAuthMethodsSupported:     caps.authMethods,
		TokenEndpointAuthSigningAlgsSupported: caps.authAlgs,
	}
	if d.JWKSURI == "" && srv.Keys != nil {
		d.JWKSURI = srv.Issuer + pathJWKS
	}
	if srv.OIDC {
		d.SubjectTypesSupported = []string{metadata.SubjectTypePublic, metadata.SubjectTypePairwise}
		d.IDTokenSigningAlgValuesSupported = oidcIDTokenAlgs
	}
	if srv.stateful() {
		d.RegistrationManagementMethodsSupported = []string{"GET", "PUT", "DELETE"}
	} else {
		d.RegistrationManagementMethodsSupported = []string{"GET"}
	}
	return d
}

// serveDiscovery serves the discovery document (DSC-01 to DSC-12). Its
// "issuer" is Server.Issuer exactly (DSC-03).
func (h *Handler) serveDiscovery(w http.ResponseWriter, r *http.Request, srv *Server) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.writeErr(w, methodNotAllowed(routeDiscovery.allowed(srv), "discovery accepts GET only"))
		return
	}
	b, err := encodeJSON(discovery(srv))
	if err != nil {
		h.writeErr(w, serverError(err))
		return
	}
	writePublic(w, "application/json", discoveryMaxAge, b)
}

// serveJWKS serves the public JWK Set of srv.Keys: every kept signing and
// asymmetric encryption key, never private or symmetric material.
func (h *Handler) serveJWKS(w http.ResponseWriter, r *http.Request, srv *Server) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.writeErr(w, methodNotAllowed(routeJWKS.allowed(srv), "the JWK Set accepts GET only"))
		return
	}
	b, err := srv.Keys.PublicJWKS()
	if err != nil {
		h.writeErr(w, serverError(err))
		return
	}
	writePublic(w, "application/jwk-set+json", jwksMaxAge, b)
}

func writePublic(w http.ResponseWriter, contentType string, maxAge int, b []byte) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Cache-Control", "public, max-age="+strconv.Itoa(maxAge))
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
