package legacy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestInvalidUnicodeRefused: the draft endpoint refuses a lone surrogate
// escape or an invalid UTF-8 byte in a JSON or form body, for
// client_associate and client_update, with invalid_configuration_parameter
// (the draft's invalid_client_metadata) naming
// the parameter; nothing is stored or changed. Without the check, a list
// parameter given as a JSON string ("contact":"\ud800") was unescaped to
// U+FFFD before the metadata decoder saw it.
func TestInvalidUnicodeRefused(t *testing.T) {
	e := newEnv(t, false)
	a := e.register(t, "/open")
	const icm = CodeInvalidConfigurationParameter
	jsonCases := []struct{ name, members, want string }{
		{"string member", `"application_name":"\ud800"`, "application_name: must be valid Unicode"},
		{"list as string", `"contact":"a@example.org \udc00"`, "contact: must be valid Unicode"},
		{"list element", `"contacts":["a@example.org","\ud800x"]`, "contacts[1]: must be valid Unicode"},
		{"invalid byte", "\"application_name\":\"\xfe\"", "application_name: must be valid Unicode"},
	}
	for _, typ := range []string{"client_associate", "client_update"} {
		for _, tc := range jsonCases {
			t.Run("JSON "+typ+" "+tc.name, func(t *testing.T) {
				before := e.fake.Snapshot()
				body := `{"type":"` + typ + `","redirect_uri":"` + redirect + `",` + tc.members
				if typ == "client_update" {
					body += `,"client_id":"` + a.id + `","client_secret":"` + a.secret + `"`
				}
				r := e.do(t, "/open", "application/json", body+"}")
				checkErr(t, r, http.StatusBadRequest, icm)
				if d, _ := r.Obj(t)["error_description"].(string); !strings.HasPrefix(d, tc.want) {
					t.Errorf("error_description = %q, want %q...", d, tc.want)
				}
				if e.fake.Snapshot() != before {
					t.Error("a refused request changed the store")
				}
			})
		}
		t.Run("form "+typ, func(t *testing.T) {
			before := e.fake.Snapshot()
			v := url.Values{"type": {typ}, "redirect_uri": {redirect}, "application_name": {"\xed\xa0\x80"}}
			if typ == "client_update" {
				v.Set("client_id", a.id)
				v.Set("client_secret", a.secret)
			}
			r := e.form(t, "/open", v)
			checkErr(t, r, http.StatusBadRequest, icm)
			if d, _ := r.Obj(t)["error_description"].(string); !strings.Contains(d, "application_name") {
				t.Errorf("error_description = %q does not name the parameter", d)
			}
			if e.fake.Snapshot() != before {
				t.Error("a refused request changed the store")
			}
		})
	}
	if got := e.stored(t, "/open", a.id)["client_name"]; got != "Before" {
		t.Errorf("client_name = %v after refused updates", got)
	}
}
