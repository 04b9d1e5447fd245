package stateless

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var jsonSeeds = []string{
	`{}`,
	` { } `,
	`{"iss":"https://as.example.com","sub":"abc","aud":"x","iat":1,"exp":2.5e3,"reg":{"a":[1,2,{"b":null}]},"cnf":{"jku":"https://x"}}`,
	`{"iss":"a\u0062c\n","sub":"\"","aud":["a","b"],"reg":{}}`,
	`{"reg":{"contacts":["x"],"k":"\ud83d\ude00"}}`,
	`{"iss":1}`, `{"iss":null}`, `{"iat":"1"}`, `{"iss":"a","iss":"b"}`,
	`{"a":-0.0e+1,"b":true,"c":false,"d":[],"e":[[]]}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.1}`, `{"a":"\x"}`, `{"a":"` + "\x01" + `"}`, `{"a":tru}`,
	`{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":1}x`, `[1]`, `"s"`, ``, `{"a":"\u12"}`, `{"\u0069ss":"x"}`,
	`{"Iss":"x","ISS":"y"}`, "{\"a\":\t1\n}", "{\"\xd7\":0}", "{\"a\":\"\xed\xa0\x80\"}",
}

func FuzzClaims(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAgainstEncodingJSON(t, b)
	})
}

// TestJSONScanSeeds runs the differential check on the seeds in normal test
// runs (the fuzzer explores further with -fuzz).
func TestJSONScanSeeds(t *testing.T) {
	for _, s := range jsonSeeds {
		checkAgainstEncodingJSON(t, []byte(s))
	}
	deep := strings.Repeat(`{"a":`, maxJSONDepth+2) + "1" + strings.Repeat("}", maxJSONDepth+2)
	if _, _, err := scanObject([]byte(deep), func(string) bool { return false }); err == nil {
		t.Fatal("scanObject accepted nesting beyond maxJSONDepth")
	}
}

func checkAgainstEncodingJSON(t *testing.T, b []byte) {
	t.Helper()
	trimmed := bytes.TrimSpace(b)
	isObject := json.Valid(b) && utf8.Valid(b) && len(trimmed) > 0 && trimmed[0] == '{'

	names := map[string]bool{}
	compact, _, err := scanObject(b, func(n string) bool { names[n] = true; return false })
	if (err == nil) != isObject {
		t.Fatalf("scanObject(%q) err = %v, encoding/json valid object = %v", b, err, isObject)
	}
	if err != nil {
		return
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		t.Fatalf("encoding/json rejects %q: %v", b, err)
	}
	for n := range members {
		if !names[n] {
			t.Fatalf("scanObject(%q) missed member %q", b, n)
		}
	}
	if compact {
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil || !bytes.Equal(buf.Bytes(), b) {
			t.Fatalf("scanObject(%q) says compact, json.Compact gives %q", b, buf.Bytes())
		}
	}

	var cl claimSet
	if err := parseClaims(b, &cl); err != nil {
		return // stricter than encoding/json on types and duplicates: fine
	}
	str := func(name string) (string, bool) {
		raw, ok := members[name]
		if !ok {
			return "", false
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("parseClaims accepted non-string %s in %q", name, b)
		}
		return s, true
	}
	if s, _ := str("iss"); s != cl.Iss {
		t.Fatalf("iss %q, encoding/json %q (%q)", cl.Iss, s, b)
	}
	if s, _ := str("sub"); s != cl.Sub {
		t.Fatalf("sub %q, encoding/json %q (%q)", cl.Sub, s, b)
	}
	if s, ok := str("client_secret"); ok != (cl.ClientSecret != nil) || (ok && s != *cl.ClientSecret) {
		t.Fatalf("client_secret mismatch in %q", b)
	}
	for name, got := range map[string][]byte{"aud": cl.Aud, "reg": cl.Reg, "cnf": cl.Cnf, "iat": []byte(cl.Iat), "exp": []byte(cl.Exp), "nbf": []byte(cl.Nbf)} {
		want, ok := members[name]
		if !ok {
			if len(got) != 0 {
				t.Fatalf("%s present only for parseClaims in %q", name, b)
			}
			continue
		}
		var gc, wc bytes.Buffer
		_ = json.Compact(&gc, got)
		_ = json.Compact(&wc, want)
		if !bytes.Equal(gc.Bytes(), wc.Bytes()) {
			t.Fatalf("%s = %q, encoding/json %q (%q)", name, got, want, b)
		}
	}
}
