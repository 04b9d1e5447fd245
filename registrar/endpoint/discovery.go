package endpoint

import (
	"net/http"
	"strconv"

	"github.com/clientreg/clientreg/registrar/internal/jsonenc"
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
	grants := servedGrants(srv, caps.grantTypes)
	d := &discoveryDocument{
		Issuer:                                srv.Issuer,
		AuthorizationEndpoint:                 srv.AuthorizationEndpoint,
		TokenEndpoint:                         srv.TokenEndpoint,
		JWKSURI:                               srv.JWKSURI,
		RegistrationEndpoint:                  srv.registrationEndpoint(),
		GrantTypesSupported:                   grants,
		TokenEndpointAuthMethodsSupported:     caps.authMethods,
		TokenEndpointAuthSigningAlgsSupported: caps.authAlgs,
	}
	if srv.AuthorizationEndpoint != "" {
		d.ResponseTypesSupported = responseTypesFor(grants, srv.OIDC)
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

// servedGrants are the grant types of grants that a client can use with the
// endpoints the document names (RFC 8414 §2: authorization_endpoint is
// required for grant types that use it, token_endpoint for all but
// implicit): authorization_code needs both, implicit the authorization
// endpoint, every other grant the token endpoint. A registration endpoint
// whose authorization server's endpoints are unknown advertises no grant
// type and no response type, so a strict client is never handed a document
// that promises a grant it cannot use.
func servedGrants(srv *Server, grants []string) []string {
	out := []string{}
	for _, g := range grants {
		var ok bool
		switch g {
		case metadata.GrantAuthorizationCode:
			ok = srv.AuthorizationEndpoint != "" && srv.TokenEndpoint != ""
		case metadata.GrantImplicit:
			ok = srv.AuthorizationEndpoint != ""
		default:
			ok = srv.TokenEndpoint != ""
		}
		if ok {
			out = append(out, g)
		}
	}
	return out
}

// serveDiscovery serves the discovery document (DSC-01 to DSC-12). Its
// "issuer" is Server.Issuer exactly (DSC-03).
func (h *Handler) serveDiscovery(w http.ResponseWriter, r *http.Request, srv *Server) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.writeErr(w, methodNotAllowed(routeDiscovery.allowed(srv), "discovery accepts GET only"))
		return
	}
	d := discovery(srv)
	if srv.AuthorizationEndpoint == "" || srv.TokenEndpoint == "" || len(d.GrantTypesSupported) == 0 {
		// Not an authorization server a client could use: RFC 8414 §2 and
		// OpenID Connect Discovery §3 require authorization_endpoint,
		// token_endpoint (but for implicit-only) and
		// response_types_supported, and a client assumes authorization_code
		// and implicit from an absent grant_types_supported. Clients
		// discover the authorization server itself, whose metadata names
		// this registration endpoint.
		h.writeErr(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound,
			Description: "no authorization server endpoints are known for this issuer: discover the authorization server that accepts its client ids"})
		return
	}
	b, err := jsonenc.Marshal(d)
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
