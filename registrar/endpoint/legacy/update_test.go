package legacy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// register makes a client_associate registration at path.
func (e *env) register(t testing.TB, path string) associated {
	t.Helper()
	return mustOK(t, e.form(t, path, url.Values{
		"type": {"client_associate"}, "redirect_uri": {redirect}, "application_name": {"Before"},
	}))
}

// updateForm is a client_update form changing the name and redirect URI.
func updateForm(id, secret string) url.Values {
	v := url.Values{"type": {"client_update"}, "redirect_url": {"https://client.example.org/new"}, "application_name": {"After"}}
	if id != "" {
		v.Set("client_id", id)
	}
	if secret != "" {
		v.Set("client_secret", secret)
	}
	return v
}

// TestUpdateForm updates with client_id and client_secret parameters.
func TestUpdateForm(t *testing.T) {
	e := newEnv(t, false)
	a := e.register(t, "/open")
	other := e.register(t, "/open")
	u := mustOK(t, e.form(t, "/open", updateForm(a.id, a.secret)))
	if u.id != a.id || u.secret != a.secret {
		t.Errorf("update changed the credentials: %+v -> %+v", a, u)
	}
	md := e.stored(t, "/open", a.id)
	if md["client_name"] != "After" || toJSON(t, md["redirect_uris"]) != `["https://client.example.org/new"]` {
		t.Errorf("stored metadata not replaced: %v", md)
	}
	if e.stored(t, "/open", other.id)["client_name"] != "Before" {
		t.Errorf("another client was changed")
	}
	if e.fake.Len() != 2 {
		t.Errorf("%d registrations, want 2", e.fake.Len())
	}
}

// TestUpdateWrongSecret: wrong, missing or other clients' secrets and
// unknown client ids change nothing.
func TestUpdateWrongSecret(t *testing.T) {
	e := newEnv(t, false)
	a := e.register(t, "/open")
	other := e.register(t, "/open")
	last := a.secret[len(a.secret)-1]
	flipped := a.secret[:len(a.secret)-1] + string(rune(map[bool]byte{true: 'A', false: 'B'}[last != 'A']))
	before := e.fake.Snapshot()
	for name, c := range map[string]struct {
		vals url.Values
		code string
	}{
		"last byte differs":     {updateForm(a.id, flipped), CodeInvalidClientSecret},
		"prefix":                {updateForm(a.id, a.secret[:len(a.secret)-1]), CodeInvalidClientSecret},
		"longer":                {updateForm(a.id, a.secret+"x"), CodeInvalidClientSecret},
		"other client's secret": {updateForm(a.id, other.secret), CodeInvalidClientSecret},
		"no secret":             {updateForm(a.id, ""), CodeInvalidClientSecret},
		"unknown client_id":     {updateForm("client-unknown", a.secret), CodeInvalidClientID},
		"no client_id":          {updateForm("", a.secret), CodeInvalidClientID},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.form(t, "/open", c.vals)
			checkErr(t, r, http.StatusUnauthorized, c.code)
			if r.Header.Get("WWW-Authenticate") != "" {
				t.Errorf("Basic challenge without Basic credentials")
			}
		})
	}
	r := e.json(t, "/open", map[string]any{"type": "client_update", "client_id": 7, "client_secret": a.secret, "redirect_uri": redirect})
	checkErr(t, r, http.StatusBadRequest, CodeInvalidClientID)
	if e.fake.Snapshot() != before {
		t.Error("a failed client_update changed the store")
	}
	if e.lookup.lookups != 5 { // every case with both credentials
		t.Errorf("%d lookups; the secret checks did not reach the store", e.lookup.lookups)
	}
	mustOK(t, e.form(t, "/open", updateForm(a.id, a.secret)))
	if e.fake.Snapshot() == before {
		t.Error("the right secret did not update")
	}
}

// TestUpdateJSON updates with a JSON body.
func TestUpdateJSON(t *testing.T) {
	e := newEnv(t, false)
	a := e.register(t, "/oidc")
	u := mustOK(t, e.json(t, "/oidc", map[string]any{
		"type": "client_update", "client_id": a.id, "client_secret": a.secret,
		"redirect_uris": []string{"https://client.example.org/j"}, "logo_url": "https://client.example.org/logo.png",
	}))
	if u.id != a.id {
		t.Errorf("client_id changed")
	}
	md := e.stored(t, "/oidc", a.id)
	if md["logo_uri"] != "https://client.example.org/logo.png" || md["client_name"] != nil {
		t.Errorf("update is not a full replacement: %v", md)
	}
}

// TestUpdateBasic authenticates with HTTP Basic.
func TestUpdateBasic(t *testing.T) {
	e := newEnv(t, false)
	a := e.register(t, "/open")
	before := e.fake.Snapshot()
	r := e.form(t, "/open", updateForm("", ""), "Authorization", basic(a.id, a.secret+"x"))
	checkErr(t, r, http.StatusUnauthorized, CodeInvalidClientSecret)
	if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("WWW-Authenticate = %q, want a Basic challenge", r.Header.Get("WWW-Authenticate"))
	}
	checkErr(t, e.form(t, "/open", updateForm("", a.secret), "Authorization", basic(a.id, a.secret)),
		http.StatusBadRequest, "invalid_request")
	checkErr(t, e.form(t, "/open", updateForm("someone-else", ""), "Authorization", basic(a.id, a.secret)),
		http.StatusBadRequest, "invalid_request")
	checkErr(t, e.form(t, "/open", updateForm("", ""), "Authorization", basic("nobody", a.secret)),
		http.StatusUnauthorized, CodeInvalidClientID)
	if e.fake.Snapshot() != before {
		t.Fatal("failed Basic updates changed the store")
	}
	mustOK(t, e.form(t, "/open", updateForm(a.id, ""), "Authorization", basic(a.id, a.secret)))
	if e.stored(t, "/open", a.id)["client_name"] != "After" {
		t.Error("Basic update not applied")
	}
}

// TestUpdateValidated: client_update runs the final validation.
func TestUpdateValidated(t *testing.T) {
	e := newEnv(t, false)
	a := e.register(t, "/open")
	before := e.fake.Snapshot()
	v := updateForm(a.id, a.secret)
	v.Set("redirect_url", "http://client.example.org/plain-http")
	r := e.form(t, "/open", v)
	checkErr(t, r, http.StatusBadRequest, CodeInvalidConfigurationParameter)
	if !strings.Contains(r.Str(t, "error_description"), "redirect_url") {
		t.Errorf("description does not name redirect_url: %s", r.Body)
	}
	if e.fake.Snapshot() != before {
		t.Error("an invalid update changed the store")
	}
}

// TestUpdateStateless: Stateless servers refuse client_update.
func TestUpdateStateless(t *testing.T) {
	e := newEnv(t, false)
	a := e.register(t, "/sl")
	r := e.form(t, "/sl", updateForm(a.id, a.secret))
	checkErr(t, r, http.StatusBadRequest, CodeInvalidType)
	if !strings.Contains(r.Str(t, "error_description"), "stateless") {
		t.Errorf("description does not explain the refusal: %s", r.Body)
	}
	if e.lookup.lookups != 0 {
		t.Errorf("the store was consulted for a stateless server")
	}
}

// TestUpdateNeedsLookup: a store without ClientIDLookup cannot serve
// client_update; client_associate still works.
func TestUpdateNeedsLookup(t *testing.T) {
	e := newEnv(t, true)
	a := e.register(t, "/open")
	checkErr(t, e.form(t, "/open", updateForm(a.id, a.secret)), http.StatusBadRequest, CodeInvalidType)
	if e.stored(t, "/open", a.id)["client_name"] != "Before" {
		t.Error("updated without ClientIDLookup")
	}
}

// TestSecretMatches checks the constant-time comparison helper.
func TestSecretMatches(t *testing.T) {
	const s = "s3cr3t-value-0123456789"
	for _, c := range []struct {
		presented, stored string
		want              bool
	}{
		{s, s, true},
		{s[:len(s)-1] + "X", s, false},
		{s[:len(s)-1], s, false},
		{s + "0", s, false},
		{"", s, false},
		{"", "", false},
		{"x", "", false},
	} {
		if got := secretMatches(c.presented, c.stored); got != c.want {
			t.Errorf("secretMatches(%q, %q) = %t, want %t", c.presented, c.stored, got, c.want)
		}
	}
}
