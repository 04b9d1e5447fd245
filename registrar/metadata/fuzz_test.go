package metadata

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeValidate checks that no input makes Decode, WithDefaults,
// Validate or MarshalJSON panic, that every Decode error is a non-empty
// ErrorList with codes and fixed ASCII details, and that a successfully
// decoded Metadata (and, when valid, its defaulted form) re-encodes and
// re-decodes to the same Metadata.
//
//	go test ./registrar/metadata -run '^$' -fuzz FuzzDecodeValidate -fuzztime 20s
func FuzzDecodeValidate(f *testing.F) {
	testKeys(f)
	seeds := []string{
		bodyV, bodyP, bodyN, bodyK(f),
		`["x"]`, `{}`, `null`, ``, `{"a":1}{}`,
		`{"Redirect_URIs":["https://client.example.org/cb"]}`,
		`{"redirect_uris":"https://client.example.org/cb"}`,
		`{"redirect_uris":["/cb"]}`,
		`{"redirect_uris":["https://client.example.org/cb#x"]}`,
		`{"redirect_uris":["javascript:alert(1)"]}`,
		`{"redirect_uris":["https://*.example.org/cb"]}`,
		`{"redirect_uris":["https://client.example.org/cb?a=1&b=2"]}`,
		`{"application_type":"native","redirect_uris":["myapp:/cb"],"token_endpoint_auth_method":"none"}`,
		`{"application_type":"web","grant_types":["implicit"],"response_types":["id_token"],"redirect_uris":["https://localhost/cb"]}`,
		`{"grant_types":["client_credentials"],"response_types":[]}`,
		`{"grant_types":["client_credentials"]}`,
		`{"redirect_uris":["https://client.example.org/cb"],"grant_types":["implicit"],"response_types":["id_token"],"id_token_signed_response_alg":"none"}`,
		`{"redirect_uris":["https://c.example/cb"],"client_name":"My Client","client_name#en":"My Client","client_name#ja-Jpan-JP":"クライアント名"}`,
		`{"redirect_uris":["https://c.example/cb"],"jwks_uri":"https://c.example/j","jwks":{"keys":[]}}`,
		`{"redirect_uris":["https://c.example/cb"],"jwks":{"keys":[{"kty":"oct","k":"AAAA"}]}}`,
		`{"redirect_uris":["https://c.example/cb"],"x_unknown":123,"foo":{"a":1},"redirect_uris#en":["https://evil.example/cb"]}`,
		`{"redirect_uris":["https://c.example/cb"],"client_id":"alice","client_secret":"mine"}`,
		`{"redirect_uris":["https://c.example/cb"],"default_max_age":"3600","require_auth_time":"yes"}`,
		`{"redirect_uris":["https://c.example/cb"],"default_max_age":-1,"require_auth_time":true,"post_logout_redirect_uris":["http://c.example/bye"]}`,
		`{"redirect_uris":["https://c.example/cb"],"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_san_ip":"::1"}`,
		`{"redirect_uris":["https://c.example/cb"],"scope":"read write","contacts":["dev@example.org"],"software_id":"4NRB1","software_version":"2.1"}`,
		"{\"client_name\":\"\xff\",\"x\xfe\":\"\\ud800\"}",
		`{"client_name":"\ud800","contacts":["\udc00"]}`, `{"client_name":"\ud83d\ude00\ud83d"}`, `{"client_name":"\ufffd"}`,
		`{"client_name#":"x","logo_uri#en":"javascript:x","":null,"response_types":["code  token"]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, keep := range []bool{false, true} {
			m, err := Decode(data, keep)
			if err != nil {
				var l ErrorList
				if !errors.As(err, &l) || len(l) == 0 || m != nil {
					t.Fatalf("Decode error %T %v with result %v", err, err, m)
				}
				checkErrors(t, l)
				continue
			}
			if m == nil {
				t.Fatal("Decode returned nil, nil")
			}
			if !keep && m.Extra != nil {
				t.Fatal("Extra kept with keepUnknown=false")
			}
			noReplacement(t, data, m)
			roundTrip(t, m)

			for _, p := range []Policy{{}, {OIDC: true, AllowLocalhostName: true}} {
				before := m.DeepCopy()
				d := WithDefaults(m, p)
				if !reflect.DeepEqual(before, m) {
					t.Fatal("WithDefaults mutated its input")
				}
				errs := Validate(d, p)
				checkErrors(t, errs)
				if len(errs) == 0 {
					roundTrip(t, d)
				}
			}
		}
	})
}

// noReplacement asserts that Decode accepted no string encoding/json had to
// repair: U+FFFD appears in the result only if the input spelled it.
func noReplacement(t *testing.T, data []byte, m *Metadata) {
	t.Helper()
	if strings.Contains(string(data), "\ufffd") || strings.Contains(strings.ToLower(string(data)), `\ufffd`) {
		return
	}
	b, err := m.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	if strings.Contains(string(b), "\ufffd") || strings.Contains(strings.ToLower(string(b)), `\ufffd`) {
		t.Fatalf("Decode accepted %q and produced a replacement character: %s", data, b)
	}
}

// roundTrip asserts that m encodes and decodes back to itself.
func roundTrip(t *testing.T, m *Metadata) {
	t.Helper()
	b, err := m.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	back, err := Decode(b, true)
	if err != nil {
		t.Fatalf("re-Decode of %s: %v", b, err)
	}
	if !reflect.DeepEqual(m, back) {
		t.Fatalf("round trip differs:\n before %#v\n after  %#v\n json %s", m, back, b)
	}
}

func checkErrors(t *testing.T, l ErrorList) {
	t.Helper()
	for i, e := range l {
		if e == nil || e.Detail == "" {
			t.Fatalf("error %d is empty: %v", i, e)
		}
		switch e.Code {
		case CodeInvalidRedirectURI, CodeInvalidClientMetadata:
		default:
			t.Fatalf("unexpected code %q", e.Code)
		}
		if asciiSafe(e.Detail) != e.Detail {
			t.Fatalf("Detail %q is not ASCII-safe", e.Detail)
		}
		if e.Index < -1 {
			t.Fatalf("Index %d", e.Index)
		}
		if i > 0 && l[i-1].Code.rank() > e.Code.rank() {
			t.Fatalf("list not sorted by precedence: %s", paths(l))
		}
	}
	if d := l.Description(); asciiSafe(d) != d || (len(l) > 0 && !strings.Contains(d, l[0].Detail)) {
		t.Fatalf("Description() = %q", d)
	}
}
