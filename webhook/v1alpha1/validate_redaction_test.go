package v1alpha1

import (
	"strings"
	"testing"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// A URL refused for carrying user information (or unparsable with an "@")
// is not echoed: the password or token in it would land in the API server's
// answer, which kubectl prints and audit logs and GitOps tools record.
// Before, spec.dynamicRegistration.issuerURL, .registrationEndpoint and
// spec.stateless.issuer were shown in full.
func TestServerValidateDoesNotEchoURLCredentials(t *testing.T) {
	const secret = "s3cr3t-T0ken"
	// The server with one URL of its spec set to u.
	dynamicIssuer := func(u string) oauthv1alpha1.ServerObject {
		s := dynamicSpec()
		s.DynamicRegistration.IssuerURL = oauthv1alpha1.HTTPSURL(u)
		return nsServer(s)
	}
	registrationEndpoint := func(u string) oauthv1alpha1.ServerObject {
		s := dynamicSpec()
		s.DynamicRegistration.RegistrationEndpoint = oauthv1alpha1.HTTPSURL(u)
		return nsServer(s)
	}
	statelessIssuer := func(u string) oauthv1alpha1.ServerObject {
		s := statelessSpec()
		s.Stateless.Issuer = u
		return nsServer(s)
	}
	for _, tc := range []struct {
		name string
		obj  oauthv1alpha1.ServerObject
		path string
	}{
		{"dynamic issuerURL with a password", dynamicIssuer("https://admin:" + secret + "@idp.example.com"), "spec.dynamicRegistration.issuerURL"},
		{"dynamic issuerURL with a password and a query", dynamicIssuer("https://admin:" + secret + "@idp.example.com/?x=1"), "spec.dynamicRegistration.issuerURL"},
		{"registrationEndpoint with a token as user", registrationEndpoint("https://" + secret + "@idp.example.com/register"), "spec.dynamicRegistration.registrationEndpoint"},
		{"unparsable registrationEndpoint with user information", registrationEndpoint("https://admin:" + secret + "@idp.example.com:bad/register"), "spec.dynamicRegistration.registrationEndpoint"},
		{"stateless issuer with a password", statelessIssuer("https://admin:" + secret + "@issuer.example.com"), "spec.stateless.issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs, _ := ValidateServer(testBackends, tc.obj)
			found := false
			for _, e := range errs {
				found = found || e.Field == tc.path
			}
			if !found {
				t.Fatalf("no error at %s: %v", tc.path, errs)
			}
			msg := invalid(serverGK(tc.obj), tc.obj.GetName(), errs).Error()
			if strings.Contains(msg, secret) {
				t.Errorf("the error shows the credential: %s", msg)
			}
			// As the README says: the URL is shown with its user
			// information REDACTED, like every other error's; only a URL
			// that cannot be parsed is not shown at all.
			if want := "https://REDACTED@"; !strings.Contains(tc.name, "unparsable") && !strings.Contains(msg, want) {
				t.Errorf("the error does not show the URL with %q: %s", want, msg)
			}
		})
	}
	// A URL without user information is still shown, so the user sees what is wrong.
	errs, _ := ValidateServer(testBackends, statelessIssuer("https://issuer.example.com/?q=1"))
	if len(errs) != 1 || errs[0].BadValue != "https://issuer.example.com/?q=1" {
		t.Errorf("errors %v, want one showing the issuer", errs)
	}
}
