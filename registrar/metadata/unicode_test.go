package metadata

import (
	"strings"
	"testing"
)

// TestDecodeRefusesInvalidUnicode: encoding/json replaces an unpaired
// surrogate escape and an invalid UTF-8 byte with U+FFFD, so what would be
// stored differs from what was sent. Decode refuses both, naming the member
// (and list index) and never repeating the value.
func TestDecodeRefusesInvalidUnicode(t *testing.T) {
	const detail = "must be valid Unicode: no unpaired surrogate escapes, no invalid UTF-8"
	for _, tc := range []struct {
		name, body, path string
		code             ErrorCode
	}{
		{"lone high surrogate", `{"client_name":"\ud800"}`, "client_name", CodeInvalidClientMetadata},
		{"lone low surrogate", `{"client_name":"a\udc00b"}`, "client_name", CodeInvalidClientMetadata},
		{"high then text", `{"client_name":"\ud800x"}`, "client_name", CodeInvalidClientMetadata},
		{"high then high", `{"client_name":"\ud800\ud800"}`, "client_name", CodeInvalidClientMetadata},
		{"high then non-surrogate escape", `{"client_name":"\uD800\u0041"}`, "client_name", CodeInvalidClientMetadata},
		{"high at end", `{"client_name":"x\uDBFF"}`, "client_name", CodeInvalidClientMetadata},
		{"reversed pair", `{"client_name":"\ude00\ud83d"}`, "client_name", CodeInvalidClientMetadata},
		{"invalid UTF-8 byte", "{\"client_name\":\"a\xffb\"}", "client_name", CodeInvalidClientMetadata},
		{"encoded surrogate bytes", "{\"client_name\":\"\xed\xa0\x80\"}", "client_name", CodeInvalidClientMetadata},
		{"list element", `{"redirect_uris":["https://c.example/cb"],"contacts":["a@example.org","\ud800"]}`, "contacts[1]", CodeInvalidClientMetadata},
		{"redirect URI", `{"redirect_uris":["https://c.example/cb\udfff"]}`, "redirect_uris[0]", CodeInvalidRedirectURI},
		{"localized", `{"client_name#en":"\ud800"}`, "client_name#en", CodeInvalidClientMetadata},
		{"inside jwks", `{"jwks":{"keys":[{"kty":"future","kid":"\ud800"}]}}`, "jwks", CodeInvalidClientMetadata},
		{"unknown member value", `{"x_extension":"\ud800"}`, "x_extension", CodeInvalidClientMetadata},
		{"member name", `{"client_name\ud800":"x"}`, "", CodeInvalidClientMetadata},
		{"member name bytes", "{\"x\xfe\":\"x\"}", "", CodeInvalidClientMetadata},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, keep := range []bool{false, true} {
				m, err := Decode([]byte(tc.body), keep)
				if err == nil {
					t.Fatalf("keepUnknown=%v: accepted, stored %#v", keep, m)
				}
				l := err.(ErrorList)
				if len(l) != 1 || l[0].Path() != tc.path || l.Code() != tc.code || l[0].Value != "" {
					t.Fatalf("keepUnknown=%v: errors %s %#v", keep, paths(l), l[0])
				}
				if !strings.Contains(l[0].Detail, "valid Unicode") {
					t.Fatalf("detail %q", l[0].Detail)
				}
				if tc.path != "" && l[0].Detail != detail {
					t.Fatalf("detail %q, want %q", l[0].Detail, detail)
				}
			}
		})
	}
}

// TestDecodeKeepsValidUnicode: surrogate pairs, escaped or literal, and
// escaped BMP characters decode to what was sent.
func TestDecodeKeepsValidUnicode(t *testing.T) {
	for body, want := range map[string]string{
		`{"client_name":"\ud83d\ude00"}`:     "\U0001F600",
		`{"client_name":"\uD83D\uDE00 ok"}`:  "\U0001F600 ok",
		`{"client_name":"😀 \u00e9 \\ud800"}`: "😀 é \\ud800",
		`{"client_name":"\ufffd"}`:           "\ufffd",
		`{"client_name":"\u0041\"\\"}`:       `A"\`,
	} {
		m, err := Decode([]byte(body), false)
		if err != nil || m.ClientName != want {
			t.Errorf("Decode(%s) = %+v, %v; want client_name %q", body, m, err, want)
		}
	}
}
