package endpoint_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestInvalidUnicodeRefused: a lone surrogate escape or an invalid UTF-8 byte
// in a registration (RFC 7591 POST, stateful and stateless) or an update
// (RFC 7592 PUT) is refused with 400 invalid_client_metadata naming the
// member, nothing is stored or changed, and the value is not repeated.
// encoding/json alone would store U+FFFD instead of what was sent.
func TestInvalidUnicodeRefused(t *testing.T) {
	e := newEnv(t)
	hostile := []struct{ name, member, want string }{
		{"lone high surrogate", `"client_name":"\ud800"`, "client_name: must be valid Unicode"},
		{"lone low surrogate", `"client_name":"x\uDC00"`, "client_name: must be valid Unicode"},
		{"high then non-low", `"client_name":"\ud800\u0041"`, "client_name: must be valid Unicode"},
		{"invalid UTF-8 byte", "\"client_name\":\"\xff\"", "client_name: must be valid Unicode"},
		{"list element", `"contacts":["a@example.org","\udfff"]`, "contacts[1]: must be valid Unicode"},
		{"unknown member", `"x_note":"\ud800"`, "x_note: must be valid Unicode"},
	}
	body := func(member string) string {
		return `{"redirect_uris":["https://client.example.org/cb"],` + member + `}`
	}
	for _, path := range []string{"/oauth", "/sl"} {
		for _, tc := range hostile {
			t.Run("POST "+path+" "+tc.name, func(t *testing.T) {
				before := e.store.Snapshot()
				r := e.post(t, path, body(tc.member))
				checkErrorAnswer(t, r, http.StatusBadRequest, icm)
				if d := r.Str(t, "error_description"); !strings.HasPrefix(d, tc.want) {
					t.Errorf("error_description = %q, want %q...", d, tc.want)
				}
				if e.store.Snapshot() != before {
					t.Error("a refused registration changed the store")
				}
			})
		}
	}

	reg := e.mustRegister(t, "/oauth", body(`"client_name":"Before"`))
	for _, tc := range hostile {
		t.Run("PUT "+tc.name, func(t *testing.T) {
			before := e.store.Snapshot()
			b := strings.Replace(body(tc.member), "{", `{"client_id":"`+reg.id+`",`, 1)
			r := e.put(t, reg.path, reg.rat, b)
			checkErrorAnswer(t, r, http.StatusBadRequest, icm)
			if d := r.Str(t, "error_description"); !strings.HasPrefix(d, tc.want) {
				t.Errorf("error_description = %q, want %q...", d, tc.want)
			}
			if e.store.Snapshot() != before {
				t.Error("a refused update changed the store")
			}
		})
	}
	if got := e.get(t, reg.path, reg.rat).Str(t, "client_name"); got != "Before" {
		t.Errorf("client_name = %q after refused updates", got)
	}

	// A surrogate pair is one character and is stored as sent.
	ok := e.mustRegister(t, "/oauth", body(`"client_name":"\ud83d\ude00 App"`))
	if got, _ := ok.m["client_name"].(string); got != "\U0001F600 App" {
		t.Errorf("client_name = %q", got)
	}
}
