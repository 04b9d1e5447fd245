package openidclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// PinnedVersion6 is the exact openid-client 6 version, installed as the npm
// alias openid-client-6 in hack/interop/package.json.
const PinnedVersion6 = "6.9.1"

// ResultV6 is what openid-client 6 reported (register6.mjs).
type ResultV6 struct {
	// OK is true when every step asked for succeeded.
	OK bool `json:"ok"`
	// Step is the failing step: "discovery", "registration" or "token".
	Step string `json:"step"`
	// Error is "<name>: <message>" of the failure.
	Error string `json:"error"`
	// Code is openid-client's or Node's error code, when there is one.
	Code string `json:"code"`
	// Status is the HTTP status of the failing response, 0 if unknown.
	Status int `json:"status"`
	// OAuthError is the OAuth error code of the failing response
	// (e.g. "invalid_client"), when there is one.
	OAuthError string `json:"oauthError"`
	// Body is the failing response's body, when known.
	Body any `json:"body"`
	// Discovered is what the authorization server's metadata said.
	Discovered struct {
		Issuer               string `json:"issuer"`
		RegistrationEndpoint string `json:"registration_endpoint"`
		TokenEndpoint        string `json:"token_endpoint"`
	} `json:"discovered"`
	// Registered is the Configuration's clientMetadata() after registration
	// (client_id, client_secret, ...). It holds a secret: never log it.
	Registered map[string]any `json:"registered"`
	// Token describes the client_credentials answer (never the token).
	Token *struct {
		TokenType string `json:"token_type"`
		ExpiresIn int    `json:"expires_in"`
		Scope     string `json:"scope"`
	} `json:"token"`
}

// ClientID returns the registered client_id ("" if none).
func (r ResultV6) ClientID() string { s, _ := r.Registered["client_id"].(string); return s }

// ClientSecret returns the registered client_secret ("" if none).
func (r ResultV6) ClientSecret() string { s, _ := r.Registered["client_secret"].(string); return s }

// RegisterV6 runs openid-client 6 against the authorization server issuer,
// trusting only caPEMs: discovery(issuer), dynamicClientRegistration (at the
// registration_endpoint the metadata names) with metadata and
// initialAccessToken (when non-empty), then, if token is true, a
// client_credentials grant with client_secret_basic (scope when non-empty).
// Harness failures (npm, node, malformed output) fail t; a server refusing
// is reported in the result.
func RegisterV6(t testing.TB, issuer string, caPEMs [][]byte, initialAccessToken string, metadata map[string]any, token bool, scope string) ResultV6 {
	t.Helper()
	dir := scriptDir(t, "register6.mjs")
	if metadata == nil {
		metadata = map[string]any{}
	}
	cas := make([]string, len(caPEMs))
	for i, p := range caPEMs {
		cas[i] = string(p)
	}
	in := map[string]any{"issuer": issuer, "caPEMs": cas, "metadata": metadata, "token": token}
	if initialAccessToken != "" {
		in["initialAccessToken"] = initialAccessToken
	}
	if scope != "" {
		in["scope"] = scope
	}
	var res ResultV6
	runScript(t, dir, "register6.mjs", in, false, func(stdout []byte) (ok bool, err error) {
		res, err = parseV6(stdout)
		return res.OK, err
	})
	return res
}

// parseV6 decodes register6.mjs's stdout, exactly one JSON line.
func parseV6(out []byte) (ResultV6, error) {
	var res ResultV6
	line, rest, found := bytes.Cut(out, []byte("\n"))
	if !found || len(bytes.TrimSpace(rest)) != 0 {
		return res, fmt.Errorf("register6.mjs must print exactly one line, got %d bytes", len(out))
	}
	if err := json.Unmarshal(line, &res); err != nil {
		return res, fmt.Errorf("decoding register6.mjs output: %w", err)
	}
	if !res.OK && res.Error == "" {
		return res, fmt.Errorf("register6.mjs reported ok:false without an error")
	}
	return res, nil
}
