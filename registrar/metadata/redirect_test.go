package metadata

import (
	"strings"
	"testing"
)

func TestValidateRedirectURI(t *testing.T) {
	localhostOK := Policy{AllowLocalhostName: true}
	oidcLocalhost := Policy{OIDC: true, AllowLocalhostName: true}
	cases := []struct {
		rule     string
		uri      string
		appType  string
		implicit bool
		p        Policy
		ok       bool
	}{
		// REG-08: absolute, no fragment.
		{"REG-08", "https://client.example.org/cb", "", false, oauth, true},
		{"REG-08", "/cb", "", false, oauth, false},
		{"REG-08", "client.example.org/cb", "", false, oauth, false},
		{"REG-08", "//client.example.org/cb", "", false, oauth, false},
		{"REG-08", "https://client.example.org/cb#x", "", false, oauth, false},
		{"REG-08", "https://client.example.org/cb#", "", false, oauth, false},
		{"REG-08", "https://client.example.org/cb?x=#", "", false, oauth, false},
		{"REG-08", "com.example.app:/cb#frag", "", false, oauth, false},
		{"REG-08", "", "", false, oauth, false},
		// REG-09: https, http only on loopback, no script or local schemes.
		{"REG-09", "https://client.example.org:8443/cb?a=1&b=2", "", false, oauth, true},
		{"REG-09", "HTTPS://client.example.org/cb", "", false, oauth, true},
		{"REG-09", "http://client.example.org/cb", "", false, oauth, false},
		{"REG-09", "http://127.0.0.1/cb", "", false, oauth, true},
		{"REG-09", "http://127.0.0.1:51234/cb", "", false, oauth, true},
		{"REG-09", "http://127.1.2.3/cb", "", false, oauth, true},
		{"REG-09", "http://[::1]/cb", "", false, oauth, true},
		{"REG-09", "http://[::1]:8080/cb", "", false, oauth, true},
		{"REG-09", "http://[::ffff:127.0.0.1]/cb", "", false, oauth, false},
		{"REG-09", "http://[::1%25lo]/cb", "", false, oauth, false},
		{"REG-09", "http://128.0.0.1/cb", "", false, oauth, false},
		{"REG-09", "http://10.0.0.1/cb", "", false, oauth, false},
		{"REG-09", "http://127.1/cb", "", false, oauth, false},
		{"REG-09", "http://2130706433/cb", "", false, oauth, false},
		{"REG-09", "http://localhost/cb", "", false, oauth, false},
		{"REG-09", "http://localhost/cb", "", false, localhostOK, true},
		{"REG-09", "http://LOCALHOST:3000/cb", "", false, localhostOK, true},
		{"REG-09", "http://localhost.evil.example/cb", "", false, localhostOK, false},
		{"REG-09", "http://127.0.0.1.nip.io/cb", "", false, oauth, false},
		{"REG-09", "javascript:alert(1)", "", false, oauth, false},
		{"REG-09", "JavaScript:alert(1)", "", false, oauth, false},
		{"REG-09", "data:text/html,hi", "", false, oauth, false},
		{"REG-09", "vbscript:msgbox", "", false, oauth, false},
		{"REG-09", "file:///etc/passwd", "", false, oauth, false},
		{"REG-09", "about:blank", "", false, oauth, false},
		{"REG-09", "blob:https://client.example.org/uuid", "", false, oauth, false},
		{"REG-09", "https:///cb", "", false, oauth, false},
		{"REG-09", "https:cb", "", false, oauth, false},
		{"REG-09", "http:///cb", "", false, oauth, false},
		{"REG-09", "https://user:pass@client.example.org/cb", "", false, oauth, false},
		{"REG-09", "https://client.example.org@evil.example/cb", "", false, oauth, false},
		{"REG-09", "https://client.example.org:99999/cb", "", false, oauth, false},
		{"REG-09", "https://client.example.org/c b", "", false, oauth, false},
		{"REG-09", "https://client.example.org/cb\n", "", false, oauth, false},
		{"REG-09", "https://client.example.org/é", "", false, oauth, false},
		{"REG-09", "https://client.example.org/%C3%A9", "", false, oauth, true},
		{"REG-09", "https://client.example.org/%zz", "", false, oauth, false},
		{"REG-09", `https://client.example.org/"x"`, "", false, oauth, false},
		// REG-10: private-use schemes in reverse domain form.
		{"REG-10", "com.example.app:/cb", "", false, oauth, true},
		{"REG-10", "com.example.app://oauth/cb", "", false, oauth, true},
		{"REG-10", "myapp:/cb", "", false, oauth, false},
		{"REG-10", "myapp://cb", "", false, oauth, false},
		// REG-11: no wildcard in the host.
		{"REG-11", "https://*.example.org/cb", "", false, oauth, false},
		{"REG-11", "https://client.*/cb", "", false, oauth, false},
		{"REG-11", "com.example.app://*/cb", "", false, oauth, false},
		{"REG-11", "https://%2A.example.org/cb", "", false, oauth, false},
		{"REG-11", "https://client.example.org/*", "", false, oauth, true}, // '*' in the path is a literal
		// REG-12: OIDC application_type rules.
		{"REG-12", "https://client.example.org/cb", "web", true, oidc, true},
		{"REG-12", "https://localhost/cb", "web", true, oidc, false},
		{"REG-12", "https://LocalHost./cb", "web", true, oidc, false},
		{"REG-12", "https://app.localhost/cb", "web", true, oidc, false},
		{"REG-12", "https://127.0.0.1/cb", "", true, oidc, false},
		{"REG-12", "http://127.0.0.1/cb", "web", true, oidc, false},
		{"REG-12", "com.example.app:/cb", "web", true, oidc, false},
		{"REG-12", "https://localhost/cb", "web", false, oidc, true},
		{"REG-12", "http://127.0.0.1/cb", "web", false, oidc, true},
		{"REG-12", "https://localhost/cb", "web", true, oauth, true}, // not OIDC: REG-12 does not apply
		{"REG-12", "com.example.app:/cb", "native", false, oidc, true},
		{"REG-12", "http://127.0.0.1:4000/cb", "native", false, oidc, true},
		{"REG-12", "http://[::1]/cb", "native", true, oidc, true},
		{"REG-12", "http://localhost/cb", "native", false, oidcLocalhost, true},
		{"REG-12", "http://localhost/cb", "native", false, oidc, false},
		{"REG-12", "http://client.example.org/cb", "native", false, oidc, false},
		{"REG-12", "https://app.example.com/cb", "native", false, oidc, true}, // RFC 8252 §7.2 claimed https
		{"REG-12", "myapp:/cb", "native", false, oidc, false},
		// REG-45: length.
		{"REG-45", "https://client.example.org/" + strings.Repeat("a", 2021), "", false, oauth, true},
		{"REG-45", "https://client.example.org/" + strings.Repeat("a", 2022), "", false, oauth, false},
		{"REG-45", "https://client.example.org/" + strings.Repeat("a", 100), "", false, Policy{MaxStringLength: 64}, false},
	}
	for _, tc := range cases {
		name := tc.rule + " " + tc.uri
		if len(name) > 80 {
			name = name[:80]
		}
		t.Run(name, func(t *testing.T) {
			fe := ValidateRedirectURI(tc.uri, tc.appType, tc.implicit, tc.p)
			if tc.ok {
				if fe != nil {
					t.Fatalf("want ok, got %v", fe)
				}
				return
			}
			if fe == nil {
				t.Fatalf("want an error for %q (app %q, implicit %v, OIDC %v)", tc.uri, tc.appType, tc.implicit, tc.p.OIDC)
			}
			if fe.Code != CodeInvalidRedirectURI || fe.Member != "redirect_uris" || fe.Index != -1 {
				t.Errorf("got %+v", fe)
			}
			if strings.Contains(fe.Detail, tc.uri) && tc.uri != "" {
				t.Errorf("Detail echoes the URI: %q", fe.Detail)
			}
		})
	}
}

// TestRedirectURIIndexAndDuplicates checks that Validate reports each bad
// redirect URI at its own index and catches duplicates by raw comparison.
func TestRedirectURIIndexAndDuplicates(t *testing.T) {
	m := &Metadata{RedirectURIs: []string{
		"https://client.example.org/cb",
		"http://client.example.org/cb",
		"https://client.example.org/cb",
		"https://client.example.org/cb/",
		"https://CLIENT.example.org/cb",
	}}
	errs := Validate(WithDefaults(m, oauth), oauth)
	if got, want := paths(errs), "invalid_redirect_uri@redirect_uris[1], invalid_redirect_uri@redirect_uris[2]"; got != want {
		t.Fatalf("errors = %s, want %s", got, want)
	}
	if errs[0].Value != "http://client.example.org/cb" {
		t.Errorf("Value = %q", errs[0].Value)
	}
}
