package endpoint_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func (e *env) discovery(t *testing.T, path string) map[string]any {
	t.Helper()
	r := e.do(t, request{method: http.MethodGet, path: path})
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q (DSC-02)", ct)
	}
	return r.Obj(t)
}

func strList(v any) []string {
	raw, _ := v.([]any)
	out := make([]string, 0, len(raw))
	for _, x := range raw {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestDSC01to09(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/oauth", "/oidc", "/sl", "/sle", "/pol", "/namespaces/apps/idp"} {
		t.Run(p, func(t *testing.T) {
			d := e.discovery(t, "/.well-known/oauth-authorization-server"+p) // DSC-01
			if d["issuer"] != e.servers[p].Issuer {
				t.Errorf("issuer = %v, want %q exactly (DSC-03)", d["issuer"], e.servers[p].Issuer)
			}
			regEP, _ := d["registration_endpoint"].(string)
			if !strings.HasPrefix(regEP, "https://") || regEP != e.servers[p].Issuer+"/register" {
				t.Errorf("registration_endpoint = %q (DSC-04)", regEP)
			}
			if len(strList(d["response_types_supported"])) == 0 {
				t.Error("no response_types_supported (DSC-05)")
			}
			for k, v := range d { // DSC-06
				if arr, ok := v.([]any); ok && len(arr) == 0 {
					t.Errorf("%s is an empty array", k)
				}
			}
			methods := strList(d["token_endpoint_auth_methods_supported"])
			algs := strList(d["token_endpoint_auth_signing_alg_values_supported"])
			if (slices.Contains(methods, "private_key_jwt") || slices.Contains(methods, "client_secret_jwt")) && len(algs) == 0 {
				t.Error("no token_endpoint_auth_signing_alg_values_supported (DSC-08)")
			}
			if slices.Contains(algs, "none") {
				t.Error("none among the signing algorithms (DSC-08)")
			}
			if len(strList(d["grant_types_supported"])) == 0 {
				t.Error("no grant_types_supported (DSC-09)")
			}
			// DSC-07: every listed method registers and is echoed.
			for _, m := range methods {
				body := jsonWith(t, bodyV, map[string]any{"token_endpoint_auth_method": m})
				switch m {
				case "private_key_jwt", "self_signed_tls_client_auth":
					body = jsonWith(t, bodyK(t), map[string]any{"token_endpoint_auth_method": m})
				case "tls_client_auth":
					body = jsonWith(t, bodyV, map[string]any{"token_endpoint_auth_method": m, "tls_client_auth_san_dns": "client.example.org"})
				}
				r := e.mustRegister(t, p, body)
				if r.m["token_endpoint_auth_method"] != m {
					t.Errorf("%s registered as %v", m, r.m["token_endpoint_auth_method"])
				}
			}
			// DSC-12: every listed response type registers.
			grants := strList(d["grant_types_supported"])
			for _, rt := range strList(d["response_types_supported"]) {
				var gts []string
				if strings.Contains(rt, "code") || rt == "none" {
					gts = append(gts, "authorization_code")
				}
				if strings.Contains(rt, "token") {
					gts = append(gts, "implicit")
				}
				for _, g := range gts {
					if !slices.Contains(grants, g) {
						t.Errorf("response type %q needs unlisted grant %s", rt, g)
					}
				}
				rts := []string{rt}
				if rt == "none" { // registered next to code, which the code grant needs
					rts = []string{"code", "none"}
				}
				e.mustRegister(t, p, jsonWith(t, bodyV, map[string]any{"grant_types": gts, "response_types": rts}))
			}
		})
	}
	// DSC-09: without implicit, grant_types_supported excludes it.
	d := e.discovery(t, "/.well-known/oauth-authorization-server/pol")
	if slices.Contains(strList(d["grant_types_supported"]), "implicit") {
		t.Error("implicit listed although refused")
	}
	checkErrorAnswer(t, e.post(t, "/pol", jsonWith(t, bodyV, map[string]any{"grant_types": []string{"implicit"}, "response_types": []string{"token"}})), 400, "invalid_client_metadata")
	if got := strList(d["token_endpoint_auth_methods_supported"]); !slices.Equal(got, []string{"client_secret_basic", "private_key_jwt", "none"}) {
		t.Errorf("token_endpoint_auth_methods_supported = %v", got)
	}
	// DSC-05: endpoints named by the server are published.
	d = e.discovery(t, "/.well-known/oauth-authorization-server/namespaces/apps/idp")
	if d["authorization_endpoint"] != "https://idp.example/authorize" || d["token_endpoint"] != "https://idp.example/token" {
		t.Errorf("endpoints = %v %v", d["authorization_endpoint"], d["token_endpoint"])
	}
	// Stateless servers advertise GET-only management.
	d = e.discovery(t, "/.well-known/oauth-authorization-server/sl")
	if !slices.Equal(strList(d["registration_management_methods_supported"]), []string{"GET"}) {
		t.Errorf("management methods = %v", d["registration_management_methods_supported"])
	}
}

func TestDSC11OpenIDConfiguration(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/oidc", "/sle", "/namespaces/apps/idp"} {
		d := e.discovery(t, p+"/.well-known/openid-configuration")
		if d["issuer"] != e.servers[p].Issuer {
			t.Errorf("%s issuer = %v", p, d["issuer"])
		}
		if !slices.Contains(strList(d["id_token_signing_alg_values_supported"]), "RS256") || len(strList(d["subject_types_supported"])) == 0 {
			t.Errorf("%s lacks OIDC members: %v", p, d)
		}
		// Both documents are the same.
		if d2 := e.discovery(t, "/.well-known/oauth-authorization-server"+p); !jsonEqual(d, d2) {
			t.Errorf("%s: the two discovery documents differ", p)
		}
	}
	d := e.discovery(t, "/sle/.well-known/openid-configuration")
	if d["jwks_uri"] != issuerBase+"/sle/jwks" {
		t.Errorf("jwks_uri = %v", d["jwks_uri"])
	}
	// HEAD works for the public documents.
	if r := e.do(t, request{method: http.MethodHead, path: "/oidc/.well-known/openid-configuration"}); r.Status != http.StatusOK {
		t.Errorf("HEAD = %d", r.Status)
	}
}

func jsonEqual(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestJWKS(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, request{method: http.MethodGet, path: "/sle/jwks"})
	if r.Status != http.StatusOK || !strings.Contains(r.Header.Get("Content-Type"), "json") {
		t.Fatalf("GET jwks = %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("jwks has %d keys, want sig and enc", len(set.Keys))
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || strings.Contains(string(r.Body), `"d":`) {
			t.Error("private key material published")
		}
	}
}

func TestDSC13CORS(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, request{method: http.MethodOptions, path: "/oauth/register",
		header: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}})
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") == "" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight = %d %v", r.Status, r.Header)
	}
	// Actual responses, errors included, carry the header.
	p := e.do(t, request{method: http.MethodPost, path: "/oauth/register", body: bodyV, header: map[string]string{"Origin": "https://app.example"}})
	if p.Status != http.StatusCreated || p.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("CORS POST = %d %q", p.Status, p.Header.Get("Access-Control-Allow-Origin"))
	}
	x := e.do(t, request{method: http.MethodPost, path: "/iat/register", body: bodyV, header: map[string]string{"Origin": "https://app.example"}})
	if !strings.Contains(x.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("WWW-Authenticate not exposed: %v", x.Header)
	}
	// Without Origin, no CORS headers; unknown paths are 404 even for OPTIONS.
	if n := e.post(t, "/oauth", bodyV); n.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS header without Origin")
	}
	checkErrorAnswer(t, e.do(t, request{method: http.MethodOptions, path: "/nope"}), http.StatusNotFound, "not_found")
}

// A discovery document never advertises a grant without the endpoint it
// needs (RFC 8414 §2), and there is none unless both endpoints of the
// authorization server are known (RFC 8414 and OpenID Connect Discovery
// require them and response_types_supported): 404 at both well-known paths,
// whose absence a strict client cannot misread, while registration still
// works.
func TestDiscoveryAdvertisesOnlyUsableGrants(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/oauth", "/oidc", "/sl", "/sle", "/pol"} {
		for _, wk := range []string{"/.well-known/oauth-authorization-server" + p, p + "/.well-known/openid-configuration"} {
			r := e.do(t, request{method: http.MethodGet, path: wk})
			if r.Status != http.StatusOK {
				continue // openid-configuration is for OIDC servers only
			}
			d := r.Obj(t)
			authz, _ := d["authorization_endpoint"].(string)
			token, _ := d["token_endpoint"].(string)
			for _, g := range strList(d["grant_types_supported"]) {
				needsAuthz := g == "authorization_code" || g == "implicit"
				needsToken := g != "implicit"
				if (needsAuthz && authz == "") || (needsToken && token == "") {
					t.Errorf("%s advertises %s without the endpoint it needs (authorization %q, token %q)", wk, g, authz, token)
				}
			}
			if len(strList(d["response_types_supported"])) > 0 && authz == "" {
				t.Errorf("%s advertises response types without an authorization endpoint", wk)
			}
			if len(strList(d["grant_types_supported"])) == 0 {
				t.Errorf("%s advertises no grant type: RFC 8414 clients then assume authorization_code and implicit", wk)
			}
		}
	}
	for _, wk := range []string{"/.well-known/oauth-authorization-server/noas", "/noas/.well-known/openid-configuration",
		"/.well-known/oauth-authorization-server/tokenonly", "/tokenonly/.well-known/openid-configuration"} {
		if r := e.do(t, request{method: http.MethodGet, path: wk}); r.Status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404: no authorization server to describe", wk, r.Status)
		}
	}
	e.mustRegister(t, "/noas", bodyV)
}
