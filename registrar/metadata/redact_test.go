package metadata

import (
	"strings"
	"testing"
)

// A rejected URI is repeated in errors without the credentials written into
// its user information.
func TestErrorsDoNotRepeatURICredentials(t *testing.T) {
	for _, raw := range []string{
		"https://alice:s3cr3t-pw@client.example.org/cb",
		"http://s3cr3t-pw@client.example.org/cb",
		"https://alice:s3cr3t-pw@client.example.org",
		"https://alice:s3cr3t-pw@*.example.org/cb?x=1",
	} {
		fe := ValidateRedirectURI(raw, "", false, Policy{})
		if fe == nil {
			t.Fatalf("%s accepted", raw)
		}
		if strings.Contains(fe.Value, "s3cr3t-pw") || strings.Contains(fe.Error(), "s3cr3t-pw") {
			t.Errorf("error for %s repeats the password: %q", raw, fe.Error())
		}
		if !strings.Contains(fe.Value, "REDACTED@") {
			t.Errorf("error value %q does not show where the user information was", fe.Value)
		}
	}
	for _, member := range []string{"client_uri", "logo_uri", "jwks_uri"} {
		body := `{"redirect_uris":["https://client.example.org/cb"],"` + member + `":"https://bob:s3cr3t-pw@client.example.org/x"}`
		m, err := Decode([]byte(body), false)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		errs := Validate(m, Policy{})
		if len(errs) == 0 {
			t.Fatalf("%s with user information accepted", member)
		}
		for _, e := range errs {
			if strings.Contains(e.Error(), "s3cr3t-pw") || strings.Contains(e.Value, "s3cr3t-pw") {
				t.Errorf("%s: error repeats the password: %q", member, e.Error())
			}
		}
	}
	// Values that are not hierarchical URIs with user information are shown as written.
	for _, s := range []string{"mailto:ops@example.org", "https://client.example.org/a@b", "not a uri"} {
		if got := shown(s); got != s {
			t.Errorf("shown(%q) = %q", s, got)
		}
	}
}
