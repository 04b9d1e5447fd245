package dcr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func decodeObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", b, err)
	}
	return m
}

func TestRegisterRequest(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		req       RegisterRequest
		wantAuth  string
		wantUA    string
		wantBody  map[string]any
		wantInRaw string // exact substring of the raw body
	}{
		{
			name:     "open registration: no Authorization",
			req:      RegisterRequest{Metadata: json.RawMessage(`{"redirect_uris":["https://c.example/cb?a=1&b=2"],"client_name":"A"}`)},
			wantUA:   "clientreg",
			wantBody: map[string]any{"redirect_uris": []any{"https://c.example/cb?a=1&b=2"}, "client_name": "A"},
			// "&" is not HTML-escaped on the wire.
			wantInRaw: `"https://c.example/cb?a=1&b=2"`,
		},
		{
			name:     "initial access token and software statement",
			cfg:      Config{UserAgent: "clientreg/1.2.3"},
			req:      RegisterRequest{Metadata: json.RawMessage(`{"software_statement":"old","scope":"read"}`), InitialAccessToken: testIAT, SoftwareStatement: testStatement},
			wantAuth: "Bearer " + testIAT,
			wantUA:   "clientreg/1.2.3",
			wantBody: map[string]any{"scope": "read", "software_statement": testStatement},
		},
		{
			name:     "nil metadata is an empty object",
			req:      RegisterRequest{},
			wantUA:   "clientreg",
			wantBody: map[string]any{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec := recordingServer(t, http.StatusCreated, `{"client_id":"c1"}`)
			reg, err := newTestClient(t, tc.cfg).Register(context.Background(), srv.URL+"/reg", tc.req)
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			if reg.ClientID != "c1" {
				t.Errorf("ClientID = %q", reg.ClientID)
			}
			reqs := rec.all()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests", len(reqs))
			}
			got := reqs[0]
			if got.method != http.MethodPost || got.path != "/reg" {
				t.Errorf("request %s %s, want POST /reg", got.method, got.path)
			}
			for k, want := range map[string]string{
				"Content-Type": "application/json", "Accept": "application/json",
				"User-Agent": tc.wantUA, "Authorization": tc.wantAuth,
			} {
				if v := got.header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
			if _, ok := got.header["Authorization"]; ok != (tc.wantAuth != "") {
				t.Errorf("Authorization header present = %v, want %v", ok, tc.wantAuth != "")
			}
			if m := decodeObject(t, got.body); !reflect.DeepEqual(m, tc.wantBody) {
				t.Errorf("body = %v, want %v", m, tc.wantBody)
			}
			if !bytes.Contains(got.body, []byte(tc.wantInRaw)) {
				t.Errorf("raw body %s lacks %s", got.body, tc.wantInRaw)
			}
		})
	}
}

func TestRegisterResponse(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		body        string
		want        Registration // Metadata is checked separately
		wantKind    Kind         // 0: success
		wantPartial bool
	}{
		{
			name:   "201 full response, numbers",
			status: 201,
			body: `{"client_id":"c1","client_secret":"` + testSecret + `","registration_access_token":"` + testRAT + `",` +
				`"registration_client_uri":"https://as.example/reg/c1","client_id_issued_at":1700000000,"client_secret_expires_at":1800000000,"redirect_uris":["https://c.example/cb"]}`,
			want: Registration{ClientID: "c1", ClientSecret: testSecret, RegistrationAccessToken: testRAT, RegistrationClientURI: "https://as.example/reg/c1",
				ClientIDIssuedAt: time.Unix(1700000000, 0).UTC(), ClientSecretExpiresAt: time.Unix(1800000000, 0).UTC(), SecretExpires: true},
		},
		{
			name:   "200 accepted, expires_at 0 means never",
			status: 200,
			body:   `{"client_id":"c1","client_secret":"s","client_secret_expires_at":0}`,
			want:   Registration{ClientID: "c1", ClientSecret: "s"},
		},
		{
			name:   "numeric strings and a fraction",
			status: 201,
			body:   `{"client_id":"c1","client_id_issued_at":"1700000000","client_secret_expires_at":1800000000.9}`,
			want:   Registration{ClientID: "c1", ClientIDIssuedAt: time.Unix(1700000000, 0).UTC(), ClientSecretExpiresAt: time.Unix(1800000000, 0).UTC(), SecretExpires: true},
		},
		{
			name:   "expires_at as string 0, nulls",
			status: 201,
			body:   `{"client_id":"c1","client_secret_expires_at":"0","client_secret":null,"registration_access_token":null,"client_id_issued_at":null}`,
			want:   Registration{ClientID: "c1"},
		},
		{name: "202", status: 202, body: `{"client_id":"c1"}`, wantKind: KindProtocol},
		{name: "not JSON", status: 201, body: `<html>created</html>`, wantKind: KindProtocol},
		{name: "JSON array", status: 201, body: `[{"client_id":"c1"}]`, wantKind: KindProtocol},
		{name: "JSON null", status: 201, body: `null`, wantKind: KindProtocol},
		{name: "empty body", status: 201, body: ``, wantKind: KindProtocol},
		{name: "no client_id", status: 201, body: `{"client_secret":"` + testSecret + `"}`, wantKind: KindProtocol, wantPartial: true,
			want: Registration{ClientSecret: testSecret}},
		{name: "empty client_id", status: 201, body: `{"client_id":""}`, wantKind: KindProtocol, wantPartial: true},
		{name: "numeric client_id", status: 201, body: `{"client_id":42}`, wantKind: KindProtocol, wantPartial: true},
		{name: "secret not a string", status: 201, body: `{"client_id":"c1","client_secret":123,"registration_access_token":"` + testRAT + `"}`,
			wantKind: KindProtocol, wantPartial: true, want: Registration{ClientID: "c1", RegistrationAccessToken: testRAT}},
		{name: "expires_at not a number", status: 201, body: `{"client_id":"c1","client_secret_expires_at":"soon"}`, wantKind: KindProtocol, wantPartial: true,
			want: Registration{ClientID: "c1"}},
		{name: "expires_at negative", status: 201, body: `{"client_id":"c1","client_secret_expires_at":-1}`, wantKind: KindProtocol, wantPartial: true,
			want: Registration{ClientID: "c1"}},
		{name: "issued_at boolean", status: 201, body: `{"client_id":"c1","client_id_issued_at":true}`, wantKind: KindProtocol, wantPartial: true,
			want: Registration{ClientID: "c1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			reg, err := newTestClient(t, Config{}).Register(context.Background(), srv.URL, RegisterRequest{InitialAccessToken: testIAT})
			if tc.wantKind != 0 {
				e := mustDCRError(t, err, tc.wantKind)
				if reg != nil {
					t.Errorf("Registration %v returned with an error", reg)
				}
				if e.StatusCode != tc.status || !e.Sent {
					t.Errorf("StatusCode %d Sent %v, want %d true", e.StatusCode, e.Sent, tc.status)
				}
				if (e.Partial != nil) != tc.wantPartial {
					t.Fatalf("Partial = %v, want present %v", e.Partial, tc.wantPartial)
				}
				if e.Partial != nil {
					got := *e.Partial
					got.Metadata = nil
					if !reflect.DeepEqual(got, tc.want) {
						t.Errorf("Partial = %#v\nwant %#v", got, tc.want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			if string(reg.Metadata) != tc.body {
				t.Errorf("Metadata = %s, want the body verbatim", reg.Metadata)
			}
			got := *reg
			got.Metadata = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Registration = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestUpdateBody(t *testing.T) {
	full := `{"client_id":"other","client_secret":"` + testSecret + `","registration_access_token":"` + testRAT + `",` +
		`"registration_client_uri":"https://as.example/reg/c1","client_secret_expires_at":0,"client_id_issued_at":1700000000,` +
		`"redirect_uris":["https://c.example/cb"],"client_name":"B"}`
	tests := []struct {
		name     string
		req      UpdateRequest
		wantBody map[string]any
	}{
		{
			name:     "full read response passed back: forbidden members dropped, client_id set",
			req:      UpdateRequest{ClientID: "c1", Metadata: json.RawMessage(full)},
			wantBody: map[string]any{"client_id": "c1", "redirect_uris": []any{"https://c.example/cb"}, "client_name": "B"},
		},
		{
			name:     "client_secret only when given",
			req:      UpdateRequest{ClientID: "c1", Metadata: json.RawMessage(full), ClientSecret: testNewSecret},
			wantBody: map[string]any{"client_id": "c1", "client_secret": testNewSecret, "redirect_uris": []any{"https://c.example/cb"}, "client_name": "B"},
		},
		{
			name:     "nil metadata",
			req:      UpdateRequest{ClientID: "c1"},
			wantBody: map[string]any{"client_id": "c1"},
		},
		{
			name:     "empty response_types kept (node-oidc-provider client credentials)",
			req:      UpdateRequest{ClientID: "c1", Metadata: json.RawMessage(`{"grant_types":["client_credentials"],"response_types":[]}`)},
			wantBody: map[string]any{"client_id": "c1", "grant_types": []any{"client_credentials"}, "response_types": []any{}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec := recordingServer(t, http.StatusOK, `{"client_id":"c1","registration_access_token":"`+testNewRAT+`"}`)
			reg, err := newTestClient(t, Config{}).Update(context.Background(), srv.URL+"/reg/c1", testRAT, tc.req)
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if reg.RegistrationAccessToken != testNewRAT {
				t.Errorf("rotated token not returned: %v", reg)
			}
			got := rec.all()[0]
			if got.method != http.MethodPut || got.path != "/reg/c1" {
				t.Errorf("request %s %s, want PUT /reg/c1", got.method, got.path)
			}
			if a := got.header.Get("Authorization"); a != "Bearer "+testRAT {
				t.Errorf("Authorization = %q", a)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			m := decodeObject(t, got.body)
			if !reflect.DeepEqual(m, tc.wantBody) {
				t.Errorf("body = %v\nwant %v", m, tc.wantBody)
			}
			for _, k := range []string{"registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"} {
				if _, ok := m[k]; ok {
					t.Errorf("body has forbidden member %s", k)
				}
			}
		})
	}
}

func TestReadRotationAndFill(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		want      Registration
		uriFromRq bool // want RegistrationClientURI = the request URI
	}{
		{
			name: "Keycloak/Curity: new token and secret on GET",
			body: `{"client_id":"c1","client_secret":"` + testNewSecret + `","client_secret_expires_at":0,"registration_access_token":"` + testNewRAT + `","registration_client_uri":"https://as.example/reg/c1"}`,
			want: Registration{ClientID: "c1", ClientSecret: testNewSecret, RegistrationAccessToken: testNewRAT, RegistrationClientURI: "https://as.example/reg/c1"},
		},
		{
			name:      "Hydra: no secret, token or URI: empty means unchanged, URI filled",
			body:      `{"client_id":"c1","client_name":"A"}`,
			want:      Registration{ClientID: "c1"},
			uriFromRq: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				rec.add(r, nil)
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, tc.body)
			})
			uri := srv.URL + "/reg/c1?tenant=t1"
			reg, err := newTestClient(t, Config{}).Read(context.Background(), uri, testRAT)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			want := tc.want
			if tc.uriFromRq {
				want.RegistrationClientURI = uri
			}
			got := *reg
			got.Metadata = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Registration = %+v\nwant %+v", got, want)
			}
			if string(reg.Metadata) != tc.body {
				t.Errorf("Metadata not verbatim: %s", reg.Metadata)
			}
			q := rec.all()[0]
			if q.method != http.MethodGet || q.header.Get("Authorization") != "Bearer "+testRAT || q.header.Get("Accept") != "application/json" {
				t.Errorf("request %s, headers %v", q.method, q.header)
			}
			if q.header.Get("Content-Length") != "" || q.header.Get("Transfer-Encoding") != "" {
				t.Errorf("GET carried body headers: %v", q.header)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	tests := []struct {
		status   int
		body     string
		wantKind Kind
	}{
		{204, "", 0},
		{200, `{"deleted":true}`, 0},
		{202, "", KindProtocol},
		{401, "", KindUnauthorized},
		{404, "", KindGone},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			var rec recorder
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				rec.add(r, nil)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			err := newTestClient(t, Config{}).Delete(context.Background(), srv.URL+"/reg/c1", testRAT)
			if tc.wantKind == 0 && err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if tc.wantKind != 0 {
				mustDCRError(t, err, tc.wantKind)
			}
			q := rec.all()[0]
			if q.method != http.MethodDelete || q.header.Get("Authorization") != "Bearer "+testRAT || q.header.Get("User-Agent") != "clientreg" {
				t.Errorf("request %s %v", q.method, q.header)
			}
		})
	}
}

// TestInvalidArguments checks calls refused before anything is sent.
func TestInvalidArguments(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	c := newTestClient(t, Config{})
	strict, err := NewClient(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	uri := srv.URL + "/reg/c1"
	tests := []struct {
		name string
		call func() error
	}{
		{"register: empty endpoint", func() error { _, err := c.Register(ctx, "", RegisterRequest{}); return err }},
		{"register: relative endpoint", func() error { _, err := c.Register(ctx, "/reg", RegisterRequest{}); return err }},
		{"register: ftp endpoint", func() error { _, err := c.Register(ctx, "ftp://as.example/reg", RegisterRequest{}); return err }},
		{"register: userinfo", func() error {
			_, err := c.Register(ctx, "https://user:"+testSecret+"@as.example/reg", RegisterRequest{})
			return err
		}},
		{"register: http without AllowInsecureHTTP", func() error { _, err := strict.Register(ctx, srv.URL, RegisterRequest{}); return err }},
		{"register: metadata array", func() error {
			_, err := c.Register(ctx, srv.URL, RegisterRequest{Metadata: json.RawMessage(`[1]`)})
			return err
		}},
		{"register: metadata broken", func() error {
			_, err := c.Register(ctx, srv.URL, RegisterRequest{Metadata: json.RawMessage(`{"a":`), InitialAccessToken: testIAT})
			return err
		}},
		{"register: token with newline", func() error {
			_, err := c.Register(ctx, srv.URL, RegisterRequest{InitialAccessToken: testIAT + "\r\nX-Evil: 1"})
			return err
		}},
		{"read: empty token", func() error { _, err := c.Read(ctx, uri, ""); return err }},
		{"read: token with space", func() error { _, err := c.Read(ctx, uri, testRAT+" x"); return err }},
		{"read: http without AllowInsecureHTTP", func() error { _, err := strict.Read(ctx, uri, testRAT); return err }},
		{"update: empty client id", func() error { _, err := c.Update(ctx, uri, testRAT, UpdateRequest{}); return err }},
		{"update: metadata string", func() error {
			_, err := c.Update(ctx, uri, testRAT, UpdateRequest{ClientID: "c1", Metadata: json.RawMessage(`"x"`), ClientSecret: testSecret})
			return err
		}},
		{"delete: empty token", func() error { return c.Delete(ctx, uri, "") }},
		{"delete: bad URL", func() error { return c.Delete(ctx, "https://as.example/%zz", testRAT) }},
		{"discover: query", func() error { _, err := c.Discover(ctx, srv.URL+"?x=1"); return err }},
		{"discover: fragment", func() error { _, err := c.Discover(ctx, srv.URL+"#f"); return err }},
		{"discover: http without AllowInsecureHTTP", func() error { _, err := strict.Discover(ctx, srv.URL); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustDCRError(t, tc.call(), KindInvalidArgument)
			if e.Sent || e.StatusCode != 0 {
				t.Errorf("Sent %v StatusCode %d for a refused call", e.Sent, e.StatusCode)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server saw %d requests; refused calls must send nothing", n)
	}
}

// TestConcurrentUse shares one Client between goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	var n atomic.Int64
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"client_id":"c%d"}`, n.Add(1))
	})
	c := newTestClient(t, Config{})
	var wg sync.WaitGroup
	ids := make(chan string, 50)
	for range 50 {
		wg.Go(func() {
			reg, err := c.Register(context.Background(), srv.URL, RegisterRequest{Metadata: json.RawMessage(`{}`)})
			if err != nil {
				t.Error(err)
				return
			}
			ids <- reg.ClientID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 50 {
		t.Errorf("%d distinct client ids, want 50", len(seen))
	}
}

func TestRegistrationStringHidesSecrets(t *testing.T) {
	r := Registration{ClientID: "c1", ClientSecret: testSecret, RegistrationAccessToken: testRAT,
		Metadata: json.RawMessage(`{"client_secret":"` + testSecret + `"}`)}
	for _, format := range []string{"%v", "%+v", "%s", "%#v"} {
		for _, v := range []any{r, &r} {
			out := fmt.Sprintf(format, v)
			if strings.Contains(out, testSecret) || strings.Contains(out, testRAT) || !strings.Contains(out, "c1") {
				t.Errorf("%s: %s", format, out)
			}
		}
	}
}
