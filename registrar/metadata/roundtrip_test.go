package metadata

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func mustDecode(t testing.TB, body string, keepUnknown bool) *Metadata {
	t.Helper()
	m, err := Decode([]byte(body), keepUnknown)
	if err != nil {
		t.Fatalf("Decode(%s): %v", body, err)
	}
	return m
}

func mustMarshal(t testing.TB, m *Metadata) string {
	t.Helper()
	b, err := m.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	body := `{
		"redirect_uris":["https://client.example.org/cb?a=1&b=2","com.example.app:/cb"],
		"client_name":"My Client",
		"client_name#en":"My Client",
		"client_name#ja-Jpan-JP":"クライアント名",
		"logo_uri#fr":"https://client.example.org/logo-fr.png",
		"software_id":"4NRB1-0XZABZI9E6-5SM3R",
		"software_version":"2.1",
		"software_statement":"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln",
		"grant_types":["client_credentials"],
		"response_types":[],
		"default_max_age":0,
		"require_auth_time":false,
		"jwks":{ "keys" : [ ] },
		"x_vendor":{"tier":"gold","n":[1,2]},
		"redirect_uris#en":["https://evil.example/cb"],
		"client_id":"alice"
	}`
	t.Run("keepUnknown", func(t *testing.T) {
		m := mustDecode(t, body, true)
		raw := mustMarshal(t, m)
		for _, want := range []string{
			`"redirect_uris":["https://client.example.org/cb?a=1&b=2","com.example.app:/cb"]`,
			`"client_name#ja-Jpan-JP":"クライアント名"`,
			`"client_name#en":"My Client"`,
			`"logo_uri#fr":"https://client.example.org/logo-fr.png"`,
			`"software_id":"4NRB1-0XZABZI9E6-5SM3R"`,
			`"software_statement":"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"`,
			`"response_types":[]`,
			`"default_max_age":0`,
			`"require_auth_time":false`,
			`"jwks":{"keys":[]}`,
			`"x_vendor":{"tier":"gold","n":[1,2]}`,
			`"redirect_uris#en":["https://evil.example/cb"]`,
		} {
			if !strings.Contains(raw, want) {
				t.Errorf("output lacks %s\n%s", want, raw)
			}
		}
		if strings.Contains(raw, "alice") || strings.Contains(raw, `"client_id"`) {
			t.Errorf("client_id echoed: %s", raw)
		}
		if !reflect.DeepEqual(m.RedirectURIs, []string{"https://client.example.org/cb?a=1&b=2", "com.example.app:/cb"}) {
			t.Errorf("tagged redirect_uris merged: %v", m.RedirectURIs)
		}
		again := mustDecode(t, raw, true)
		if !reflect.DeepEqual(m, again) {
			t.Errorf("round trip differs:\n%#v\n%#v", m, again)
		}
		if raw2 := mustMarshal(t, again); raw2 != raw {
			t.Errorf("encoding not stable:\n%s\n%s", raw, raw2)
		}
	})
	t.Run("dropUnknown", func(t *testing.T) {
		m := mustDecode(t, body, false)
		if m.Extra != nil {
			t.Errorf("Extra = %v, want nil", m.Extra)
		}
		raw := mustMarshal(t, m)
		if strings.Contains(raw, "x_vendor") || strings.Contains(raw, "redirect_uris#en") {
			t.Errorf("unknown members kept: %s", raw)
		}
		if !strings.Contains(raw, `"client_name#ja-Jpan-JP"`) {
			t.Errorf("localized member dropped: %s", raw)
		}
	})
}

func TestMarshalDetails(t *testing.T) {
	t.Run("sorted keys", func(t *testing.T) {
		m := &Metadata{Scope: "s", ClientName: "n", RedirectURIs: []string{"https://a.example/cb"}, Extra: map[string]json.RawMessage{"aaa": json.RawMessage(`1`)}}
		if got, want := mustMarshal(t, m), `{"aaa":1,"client_name":"n","redirect_uris":["https://a.example/cb"],"scope":"s"}`; got != want {
			t.Errorf("got %s\nwant %s", got, want)
		}
	})
	t.Run("response_types nil vs empty", func(t *testing.T) {
		if got := mustMarshal(t, &Metadata{}); got != `{}` {
			t.Errorf("nil response_types: %s", got)
		}
		if got := mustMarshal(t, &Metadata{ResponseTypes: []string{}}); got != `{"response_types":[]}` {
			t.Errorf("empty response_types: %s", got)
		}
		if got := mustMarshal(t, &Metadata{GrantTypes: []string{}}); got != `{}` {
			t.Errorf("empty grant_types: %s", got)
		}
		m := mustDecode(t, `{"response_types":[],"grant_types":[]}`, false)
		if m.ResponseTypes == nil || m.GrantTypes != nil {
			t.Errorf("decoded %#v / %#v", m.ResponseTypes, m.GrantTypes)
		}
	})
	t.Run("reserved extra keys skipped", func(t *testing.T) {
		m := &Metadata{ClientName: "real", Localized: map[string]string{"redirect_uris": "x", "client_name#en": "en"},
			Extra: map[string]json.RawMessage{"client_name": json.RawMessage(`"fake"`), "client_secret": json.RawMessage(`"s"`), "client_name#en": json.RawMessage(`"fake"`)}}
		if got, want := mustMarshal(t, m), `{"client_name":"real","client_name#en":"en"}`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("no HTML escaping", func(t *testing.T) {
		if got := mustMarshal(t, &Metadata{ClientName: "<a&b>"}); got != `{"client_name":"<a&b>"}` {
			t.Errorf("got %s", got)
		}
	})
	t.Run("invalid raw JSON", func(t *testing.T) {
		if _, err := (&Metadata{JWKS: json.RawMessage(`{`)}).MarshalJSON(); err == nil {
			t.Error("invalid jwks encoded")
		}
		if _, err := (&Metadata{Extra: map[string]json.RawMessage{"x": nil}}).MarshalJSON(); err == nil {
			t.Error("invalid extra encoded")
		}
	})
	t.Run("nil", func(t *testing.T) {
		var m *Metadata
		if got := mustMarshal(t, m); got != "null" {
			t.Errorf("got %s", got)
		}
	})
	t.Run("encoding/json", func(t *testing.T) {
		m := &Metadata{ClientName: "n", Localized: map[string]string{"client_name#de": "N"}}
		b, err := json.Marshal(m)
		if err != nil || string(b) != `{"client_name":"n","client_name#de":"N"}` {
			t.Errorf("json.Marshal = %s, %v", b, err)
		}
		var back Metadata
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(&back, m) {
			t.Errorf("json.Unmarshal = %+v, %v", back, err)
		}
		if err := json.Unmarshal([]byte(`{"redirect_uris":"x"}`), &back); err == nil {
			t.Error("UnmarshalJSON accepted a type error")
		}
	})
}

func TestDecodeStrict(t *testing.T) {
	cases := []struct {
		body string
		path string // "" with ok=false: body-level error
		ok   bool
	}{
		{`{}`, "", true},
		{` {"client_name":"x"} `, "", true},
		{`null`, "", false},
		{`"x"`, "", false},
		{`{"a":1}{"b":2}`, "", false},
		{`{"a":1} x`, "", false},
		{`{"a":}`, "", false},
		{`{"client_name":"a","client_name":"b"}`, "client_name", false},
		{`{"x":1,"x":2}`, "x", false},
		{`{"default_max_age":1e3}`, "default_max_age", false},
		{`{"default_max_age":-0}`, "", true},
		{`{"require_auth_time":"true"}`, "require_auth_time", false},
		{`{"jwks":null}`, "", true},
		{`{"contacts":[]}`, "", true},
		{"\xef\xbb\xbf{}", "", false},
	}
	for _, tc := range cases {
		m, err := Decode([]byte(tc.body), true)
		if tc.ok {
			if err != nil || m == nil {
				t.Errorf("%s: %v", tc.body, err)
			}
			continue
		}
		l, isList := err.(ErrorList)
		if !isList || len(l) == 0 || m != nil {
			t.Errorf("%s: got %v, %v", tc.body, m, err)
			continue
		}
		if l[0].Path() != tc.path || l[0].Code != CodeInvalidClientMetadata {
			t.Errorf("%s: first error %s %q, want %q", tc.body, l[0].Code, l[0].Path(), tc.path)
		}
	}
}

func TestDeepCopy(t *testing.T) {
	age, yes := int64(5), true
	m := &Metadata{
		RedirectURIs: []string{"https://a.example/cb"}, ResponseTypes: []string{}, JWKS: json.RawMessage(`{"keys":[]}`),
		DefaultMaxAge: &age, RequireAuthTime: &yes, Localized: map[string]string{"client_name#en": "x"},
		Extra: map[string]json.RawMessage{"x": json.RawMessage(`1`)},
	}
	c := m.DeepCopy()
	if !reflect.DeepEqual(m, c) {
		t.Fatalf("copy differs")
	}
	c.RedirectURIs[0] = "changed"
	c.JWKS[0] = '['
	*c.DefaultMaxAge = 9
	*c.RequireAuthTime = false
	c.Localized["client_name#en"] = "changed"
	c.Extra["x"][0] = '2'
	if m.RedirectURIs[0] != "https://a.example/cb" || m.JWKS[0] != '{' || *m.DefaultMaxAge != 5 || !*m.RequireAuthTime ||
		m.Localized["client_name#en"] != "x" || string(m.Extra["x"]) != "1" {
		t.Errorf("copy shares memory: %+v", m)
	}
	if c.ResponseTypes == nil {
		t.Error("empty ResponseTypes became nil")
	}
	if (*Metadata)(nil).DeepCopy() != nil {
		t.Error("nil copy")
	}
}
