// Package cimdtest builds the client ID metadata documents that the interop
// harnesses' tests (hack/interop/oidcprovider, hack/mcp/mcpclient) serve to
// node-oidc-provider. Test support only.
package cimdtest

import "encoding/json"

// M2M is the document of a private_key_jwt client_credentials client with
// the public JWK jwk. Its response_types is empty: oidc-provider's default
// (["code"]) would ask for redirect_uris.
func M2M(id, name string, jwk json.RawMessage) map[string]any {
	return map[string]any{
		"client_id":                  id,
		"client_name":                name,
		"token_endpoint_auth_method": "private_key_jwt",
		"jwks":                       map[string]any{"keys": []json.RawMessage{jwk}},
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{},
	}
}

// Public is the document of a public (token_endpoint_auth_method none)
// authorization code client with one redirect URI.
func Public(id, name, redirectURI string) map[string]any {
	return map[string]any{
		"client_id":                  id,
		"client_name":                name,
		"token_endpoint_auth_method": "none",
		"grant_types":                []string{"authorization_code"},
		"response_types":             []string{"code"},
		"redirect_uris":              []string{redirectURI},
	}
}
