package endpoint_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestWeakClientKeyNotSignedIntoClientID: a private_key_jwt registration
// whose only key is an RSA key with a zero modulus, or one of 512 bits, is
// refused with 400 invalid_client_metadata at a Stateless server (where the
// key would become the cnf claim of the client id) and a Stateful one;
// nothing is minted or stored and the key is not repeated.
func TestWeakClientKeyNotSignedIntoClientID(t *testing.T) {
	e := newEnv(t)
	n512 := "w" + strings.Repeat("A", 84) + "Q" // 512 bits, odd
	for _, tc := range []struct{ name, key, want string }{
		{"zero modulus", `{"kty":"RSA","n":"` + strings.Repeat("A", 342) + `","e":"AQAB"}`, "jwks: keys[0] has an invalid RSA modulus (n)"},
		{"512 bits", `{"kty":"RSA","n":"` + n512 + `","e":"AQAB"}`, "jwks: keys[0] is an RSA key shorter than 2048 bits"},
	} {
		for _, path := range []string{"/sl", "/sle", "/oauth"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				before := e.store.Snapshot()
				body := `{"redirect_uris":["https://client.example.org/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[` + tc.key + `]}}`
				r := e.post(t, path, body)
				checkErrorAnswer(t, r, http.StatusBadRequest, icm)
				d := r.Str(t, "error_description")
				if d != tc.want || strings.Contains(d, "AAAA") {
					t.Errorf("error_description = %q, want %q", d, tc.want)
				}
				if e.store.Snapshot() != before {
					t.Error("the store changed")
				}
			})
		}
	}
}
