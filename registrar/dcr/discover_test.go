package dcr

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// docServer serves metadata documents by path; handler returns the status and
// body for a path given the server's base URL. Every request is recorded.
func docServer(t *testing.T, rec *recorder, handler func(base, path string) (int, string)) string {
	t.Helper()
	var base string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		rec.add(r, nil)
		status, body := handler(base, r.URL.Path)
		if status == http.StatusFound {
			w.Header().Set("Location", "https://elsewhere.example/.well-known/openid-configuration")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
	base = srv.URL
	return base
}

func doc(issuer string, extra string) string {
	b, _ := json.Marshal(issuer)
	return `{"issuer":` + string(b) + `,"token_endpoint":"https://as.example/token"` + extra + `}`
}

func TestDiscover(t *testing.T) {
	const reg = `,"registration_endpoint":"https://as.example/reg"`
	// The issuer is the document server's base URL.
	atBase := func(b string) string { return b }
	// only answers a document with issuer base+suffix at path, 404 elsewhere.
	only := func(path, suffix string) func(string, string) (int, string) {
		return func(b, p string) (int, string) {
			if p == path {
				return 200, doc(b+suffix, reg)
			}
			return 404, ""
		}
	}
	// always answers status and body at every path.
	always := func(status int, body string) func(string, string) (int, string) {
		return func(string, string) (int, string) { return status, body }
	}
	tests := []struct {
		name      string
		issuerFor func(base string) string
		handler   func(base, path string) (int, string)
		wantPaths []string
		wantKind  Kind // 0: success
		wantDesc  string
		wantReg   string
	}{
		{
			name:      "OIDC path first",
			issuerFor: atBase,
			handler:   only("/.well-known/openid-configuration", ""),
			wantPaths: []string{"/.well-known/openid-configuration"},
			wantReg:   "https://as.example/reg",
		},
		{
			name:      "RFC 8414 fallback inserts the well-known segment before the path",
			issuerFor: func(b string) string { return b + "/tenant" },
			handler:   only("/.well-known/oauth-authorization-server/tenant", "/tenant"),
			wantPaths: []string{"/tenant/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/tenant"},
			wantReg:   "https://as.example/reg",
		},
		{
			name:      "trailing slash: removed for the URLs, kept for the comparison",
			issuerFor: func(b string) string { return b + "/tenant/" },
			handler:   only("/.well-known/oauth-authorization-server/tenant", "/tenant/"),
			wantPaths: []string{"/tenant/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/tenant"},
			wantReg:   "https://as.example/reg",
		},
		{
			name:      "no registration_endpoint is not an error (Hydra)",
			issuerFor: atBase,
			handler:   func(b, p string) (int, string) { return 200, doc(b, "") },
			wantPaths: []string{"/.well-known/openid-configuration"},
		},
		{
			name:      "issuer mismatch rejected on both documents",
			issuerFor: func(b string) string { return b + "/tenant" },
			handler:   func(b, p string) (int, string) { return 200, doc(b+"/tenant/", reg) },
			wantPaths: []string{"/tenant/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/tenant"},
			wantKind:  KindProtocol,
			wantDesc:  "issuer mismatch",
		},
		{
			name:      "issuer case differs",
			issuerFor: atBase,
			handler:   func(b, p string) (int, string) { return 200, doc(strings.ToUpper(b), reg) },
			wantPaths: []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"},
			wantKind:  KindProtocol,
			wantDesc:  "issuer mismatch",
		},
		{
			name:      "OIDC mismatch, RFC 8414 right: accepted",
			issuerFor: atBase,
			handler: func(b, p string) (int, string) {
				if p == "/.well-known/openid-configuration" {
					return 200, doc("https://evil.example", reg)
				}
				return 200, doc(b, reg)
			},
			wantPaths: []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"},
			wantReg:   "https://as.example/reg",
		},
		{
			name:      "both missing: Gone from the second",
			issuerFor: atBase,
			handler:   always(404, ""),
			wantPaths: []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"},
			wantKind:  KindGone,
		},
		{
			name:      "5xx on the first: no fallback",
			issuerFor: atBase,
			handler:   always(503, ""),
			wantPaths: []string{"/.well-known/openid-configuration"},
			wantKind:  KindTransient,
		},
		{
			name:      "redirect not followed; first error kept over a 404",
			issuerFor: atBase,
			handler: func(b, p string) (int, string) {
				if p == "/.well-known/openid-configuration" {
					return http.StatusFound, ""
				}
				return 404, ""
			},
			wantPaths: []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"},
			wantKind:  KindProtocol,
			wantDesc:  "redirect to https://elsewhere.example/.well-known/openid-configuration not followed",
		},
		{
			name:      "not JSON",
			issuerFor: atBase,
			handler:   always(200, "<html></html>"),
			wantPaths: []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"},
			wantKind:  KindProtocol,
			wantDesc:  "not a JSON object",
		},
		{
			name:      "issuer missing",
			issuerFor: atBase,
			handler:   always(200, `{"token_endpoint":"x"}`),
			wantPaths: []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"},
			wantKind:  KindProtocol,
			wantDesc:  "no issuer",
		},
		{
			name:      "registration_endpoint of the wrong type",
			issuerFor: atBase,
			handler:   func(b, p string) (int, string) { return 200, doc(b, `,"registration_endpoint":["x"]`) },
			wantPaths: []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"},
			wantKind:  KindProtocol,
			wantDesc:  "registration_endpoint",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			base := docServer(t, &rec, tc.handler)
			issuer := tc.issuerFor(base)
			md, err := newTestClient(t, Config{}).Discover(context.Background(), issuer)
			if got := rec.paths(); !reflect.DeepEqual(got, tc.wantPaths) {
				t.Errorf("paths requested = %v, want %v", got, tc.wantPaths)
			}
			if tc.wantKind != 0 {
				e := mustDCRError(t, err, tc.wantKind)
				if !strings.Contains(e.Description, tc.wantDesc) {
					t.Errorf("Description = %q, want %q", e.Description, tc.wantDesc)
				}
				if e.Op != opDiscover {
					t.Errorf("Op = %q", e.Op)
				}
				return
			}
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			if md.Issuer != issuer || md.RegistrationEndpoint != tc.wantReg || md.TokenEndpoint != "https://as.example/token" {
				t.Errorf("metadata = %+v", md)
			}
			var raw map[string]any
			if err := json.Unmarshal(md.Raw, &raw); err != nil || raw["issuer"] != issuer {
				t.Errorf("Raw = %s (%v)", md.Raw, err)
			}
			for _, q := range rec.all() {
				if q.method != http.MethodGet || q.header.Get("Accept") != "application/json" || q.header.Get("User-Agent") != "clientreg" || q.header.Get("Authorization") != "" {
					t.Errorf("request %s headers %v", q.method, q.header)
				}
			}
		})
	}
}

func TestRFC8414URL(t *testing.T) {
	c := newTestClient(t, Config{})
	for issuer, want := range map[string]string{
		"https://as.example":            "https://as.example/.well-known/oauth-authorization-server",
		"https://as.example/":           "https://as.example/.well-known/oauth-authorization-server",
		"https://as.example/tenant":     "https://as.example/.well-known/oauth-authorization-server/tenant",
		"https://as.example/a/b/":       "https://as.example/.well-known/oauth-authorization-server/a/b",
		"https://as.example:8443/t%2F1": "https://as.example:8443/.well-known/oauth-authorization-server/t%2F1",
	} {
		u, err := c.checkURL(opDiscover, issuer, "issuer")
		if err != nil {
			t.Fatal(err)
		}
		if got := rfc8414URL(u); got != want {
			t.Errorf("rfc8414URL(%q) = %q, want %q", issuer, got, want)
		}
	}
}
