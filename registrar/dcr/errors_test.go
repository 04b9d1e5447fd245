package dcr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// TestStatusMapping checks the Kind, code, description and Retry-After of
// every error status, for each of the four client-information operations,
// while the server echoes every credential it received into its answers.
func TestStatusMapping(t *testing.T) {
	httpDate := fixedNow.Add(120 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		wantKind  Kind
		wantCode  string
		wantDesc  string // substring of Description
		wantRetry time.Duration
	}{
		{name: "400 invalid_client_metadata", status: 400, header: map[string]string{"Content-Type": "application/json"},
			body:     `{"error":"invalid_client_metadata","error_description":"jwks and jwks_uri both set"}`,
			wantKind: KindInvalidMetadata, wantCode: "invalid_client_metadata", wantDesc: "jwks and jwks_uri both set"},
		{name: "400 invalid_redirect_uri", status: 400, header: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			body: `{"error":"invalid_redirect_uri"}`, wantKind: KindInvalidMetadata, wantCode: "invalid_redirect_uri"},
		{name: "400 invalid_software_statement", status: 400, header: map[string]string{"Content-Type": "application/json"},
			body: `{"error":"invalid_software_statement","error_description":"bad signature"}`, wantKind: KindInvalidMetadata, wantCode: "invalid_software_statement", wantDesc: "bad signature"},
		{name: "400 unapproved_software_statement", status: 400, header: map[string]string{"Content-Type": "application/json"},
			body: `{"error":"unapproved_software_statement"}`, wantKind: KindInvalidMetadata, wantCode: "unapproved_software_statement"},
		{name: "400 extra members ignored (ERR-04)", status: 400, header: map[string]string{"Content-Type": "application/json"},
			body: `{"error":"invalid_client_metadata","x":1,"status_code":400}`, wantKind: KindInvalidMetadata, wantCode: "invalid_client_metadata"},
		{name: "400 plain text", status: 400, header: map[string]string{"Content-Type": "text/plain"},
			body: "redirect_uris is required\n", wantKind: KindInvalidMetadata, wantDesc: "redirect_uris is required"},
		{name: "400 JSON body without JSON content type", status: 400, header: map[string]string{"Content-Type": "text/plain"},
			body: `{"error":"invalid_client_metadata","error_description":"nope"}`, wantKind: KindInvalidMetadata, wantCode: "invalid_client_metadata", wantDesc: "nope"},
		{name: "400 JSON content type, invalid JSON", status: 400, header: map[string]string{"Content-Type": "application/json"},
			body: `{"error":`, wantKind: KindInvalidMetadata, wantDesc: `{"error":`},
		{name: "400 empty body", status: 400, wantKind: KindInvalidMetadata},
		{name: "409 conflict", status: 409, body: "client id in use", wantKind: KindInvalidMetadata, wantDesc: "client id in use"},
		{name: "422", status: 422, wantKind: KindInvalidMetadata},
		{name: "401 Bearer invalid_token", status: 401,
			header:   map[string]string{"WWW-Authenticate": `Bearer realm="as", error="invalid_token", error_description="The access token expired"`},
			wantKind: KindUnauthorized, wantCode: "invalid_token", wantDesc: "The access token expired"},
		{name: "401 Bearer without error", status: 401, header: map[string]string{"WWW-Authenticate": `Bearer realm="as"`},
			wantKind: KindUnauthorized},
		{name: "401 without WWW-Authenticate, plain text (Hydra)", status: 401, header: map[string]string{"Content-Type": "text/plain"},
			body: "Unauthorized", wantKind: KindUnauthorized, wantDesc: "Unauthorized"},
		{name: "401 JSON body wins over header", status: 401,
			header:   map[string]string{"Content-Type": "application/json", "WWW-Authenticate": `Bearer error="invalid_request"`},
			body:     `{"error":"invalid_token","error_description":"gone"}`,
			wantKind: KindUnauthorized, wantCode: "invalid_token", wantDesc: "gone"},
		{name: "403", status: 403, header: map[string]string{"Content-Type": "application/json"},
			body: `{"error":"access_denied","error_description":"client may not delete itself"}`, wantKind: KindForbidden, wantCode: "access_denied", wantDesc: "may not delete itself"},
		{name: "403 with Bearer insufficient_scope", status: 403, header: map[string]string{"WWW-Authenticate": `Bearer error=insufficient_scope`},
			wantKind: KindForbidden, wantCode: "insufficient_scope"},
		{name: "404", status: 404, body: "404 page not found", wantKind: KindGone, wantDesc: "404 page not found"},
		{name: "410", status: 410, wantKind: KindGone},
		{name: "429 Retry-After seconds", status: 429, header: map[string]string{"Retry-After": "30"}, wantKind: KindRateLimited, wantRetry: 30 * time.Second},
		{name: "429 Retry-After HTTP-date", status: 429, header: map[string]string{"Retry-After": httpDate}, wantKind: KindRateLimited, wantRetry: 120 * time.Second},
		{name: "429 Retry-After huge", status: 429, header: map[string]string{"Retry-After": "99999999999999999999999"}, wantKind: KindRateLimited, wantRetry: MaxRetryAfter},
		{name: "429 without Retry-After", status: 429, wantKind: KindRateLimited},
		{name: "503 with Retry-After", status: 503, header: map[string]string{"Retry-After": "5"}, wantKind: KindRateLimited, wantRetry: 5 * time.Second},
		{name: "503 with Retry-After date", status: 503, header: map[string]string{"Retry-After": httpDate}, wantKind: KindRateLimited, wantRetry: 120 * time.Second},
		{name: "503 with unparsable Retry-After", status: 503, header: map[string]string{"Retry-After": "soon"}, wantKind: KindTransient},
		{name: "503 without Retry-After", status: 503, wantKind: KindTransient},
		{name: "500", status: 500, header: map[string]string{"Content-Type": "application/json"},
			body: `{"error":"server_error"}`, wantKind: KindTransient, wantCode: "server_error"},
		{name: "500 with Retry-After keeps its kind", status: 500, header: map[string]string{"Retry-After": "7"}, wantKind: KindTransient, wantRetry: 7 * time.Second},
		{name: "502 HTML", status: 502, header: map[string]string{"Content-Type": "text/html"},
			body:     "<html><head><title>502 Bad Gateway</title><style>body{color:red}</style></head><body><h1>Bad Gateway</h1><p>upstream\tfailed</p></body></html>",
			wantKind: KindTransient, wantDesc: "502 Bad Gateway: Bad Gateway upstream failed"},
		{name: "504", status: 504, wantKind: KindTransient},
		{name: "408", status: 408, wantKind: KindTransient},
		{name: "405", status: 405, header: map[string]string{"Allow": "GET"}, wantKind: KindProtocol},
		{name: "415", status: 415, wantKind: KindProtocol},
		{name: "302 not followed", status: 302, header: map[string]string{"Location": "https://other.example/x?token=abc#f"},
			wantKind: KindProtocol, wantDesc: "redirect to https://other.example/x not followed"},
		{name: "307 not followed", status: 307, header: map[string]string{"Location": "/elsewhere"}, wantKind: KindProtocol, wantDesc: "not followed"},
	}
	for _, op := range ops {
		for _, tc := range tests {
			t.Run(op.name+"/"+tc.name, func(t *testing.T) {
				var hits atomic.Int32
				srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
					hits.Add(1)
					_, _ = io.ReadAll(r.Body)
					for k, v := range tc.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tc.status)
					_, _ = io.WriteString(w, tc.body)
				})
				c := newTestClient(t, Config{})
				c.now = func() time.Time { return fixedNow }
				err := op.call(context.Background(), c, srv.URL)
				e := mustDCRError(t, err, tc.wantKind)
				if e.StatusCode != tc.status {
					t.Errorf("StatusCode = %d, want %d", e.StatusCode, tc.status)
				}
				if e.Code != tc.wantCode {
					t.Errorf("Code = %q, want %q", e.Code, tc.wantCode)
				}
				if !strings.Contains(e.Description, tc.wantDesc) {
					t.Errorf("Description = %q, want it to contain %q", e.Description, tc.wantDesc)
				}
				if e.RetryAfter != tc.wantRetry {
					t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tc.wantRetry)
				}
				if e.Op != op.name {
					t.Errorf("Op = %q, want %q", e.Op, op.name)
				}
				if !e.Sent || e.Uncertain() {
					t.Errorf("Sent = %v, Uncertain = %v; want true, false", e.Sent, e.Uncertain())
				}
				if n := hits.Load(); n != 1 {
					t.Errorf("server saw %d requests, want 1 (no redirect or retry)", n)
				}
				if strings.Contains(e.Error(), "token=abc") {
					t.Errorf("Error() contains a query string: %s", e.Error())
				}
			})
		}
	}
}

// TestErrorBodiesEchoingCredentials checks that credentials a server echoes
// (in JSON, text, HTML, WWW-Authenticate) never reach Error().
func TestErrorBodiesEchoingCredentials(t *testing.T) {
	bodies := []struct {
		name, contentType, format string
		status                    int
	}{
		{"json", "application/json", `{"error":"invalid_token %[1]s","error_description":"bad %[1]s / %[2]s"}`, 400},
		{"text", "text/plain", "token %[1]s rejected; body was %[2]s", 400},
		{"html", "text/html", "<html><title>%[1]s</title><body>%[2]s</body></html>", 500},
		{"header", "", "", 401},
	}
	for _, op := range ops {
		for _, b := range bodies {
			t.Run(op.name+"/"+b.name, func(t *testing.T) {
				srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					auth := r.Header.Get("Authorization")
					if b.name == "header" {
						w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="invalid_token", error_description="%s %s"`, auth, strings.ReplaceAll(string(body), `"`, `'`)))
					}
					if b.contentType != "" {
						w.Header().Set("Content-Type", b.contentType)
					}
					w.WriteHeader(b.status)
					if b.format != "" {
						fmt.Fprintf(w, b.format, strings.TrimPrefix(auth, "Bearer "), strings.ReplaceAll(string(body), `"`, `'`))
					}
				})
				c := newTestClient(t, Config{})
				err := op.call(context.Background(), c, srv.URL)
				e, ok := AsError(err)
				if !ok {
					t.Fatalf("want *Error, got %v", err)
				}
				assertNoSecrets(t, err)
				if !strings.Contains(e.Description+e.Code, "[REDACTED]") {
					t.Errorf("the echoed credential was not replaced: Code %q Description %q", e.Code, e.Description)
				}
			})
		}
	}
}

func TestSanitize(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := []struct {
		name, in, want string
	}{
		{"control characters", "line1\r\nline2\x00\x1b[31mred\u202e", "line1 line2 [31mred"},
		{"whitespace collapses", "  a \t\t b  ", "a b"},
		{"invalid utf-8", "a\xffb", "a\uFFFDb"},
		{"truncated", long, strings.Repeat("é", 199) + "…"},
		{"redacted", "x " + testRAT + " y", "x [REDACTED] y"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sanitize(tc.in, maxDescription, []string{testRAT})
			if got != tc.want {
				t.Errorf("sanitize = %q, want %q", got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > maxDescription {
				t.Errorf("length %d > %d", n, maxDescription)
			}
		})
	}
}

func TestLongErrorDescriptionTruncated(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":"invalid_client_metadata","error_description":%q}`, strings.Repeat("x", 5000)+"\n\x07")
	})
	_, err := newTestClient(t, Config{}).Register(context.Background(), srv.URL, RegisterRequest{})
	e := mustDCRError(t, err, KindInvalidMetadata)
	if n := utf8.RuneCountInString(e.Description); n != maxDescription {
		t.Errorf("Description has %d characters, want %d", n, maxDescription)
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", time.Second, true},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"-5", 0, false},
		{"7200", MaxRetryAfter, true},
		{fixedNow.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{fixedNow.Add(-time.Hour).Format(http.TimeFormat), time.Second, true},
		{fixedNow.Add(90 * time.Second).Format(time.RFC850), 90 * time.Second, true},
		{fixedNow.Add(90 * time.Second).Format(time.ANSIC), 90 * time.Second, true},
		{"tomorrow", 0, false},
		{"1.5", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseRetryAfter(tc.in, fixedNow)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestKindString(t *testing.T) {
	want := map[Kind]string{
		KindInvalidMetadata: "InvalidMetadata", KindUnauthorized: "Unauthorized", KindGone: "Gone",
		KindForbidden: "Forbidden", KindRateLimited: "RateLimited", KindTransient: "Transient",
		KindProtocol: "Protocol", KindInvalidArgument: "InvalidArgument", Kind(0): "Kind(0)", Kind(99): "Kind(99)",
	}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), k.String(), s)
		}
	}
}

func TestErrorHelpers(t *testing.T) {
	cause := errors.New("boom")
	e := &Error{Op: opRead, Kind: KindTransient, URL: "https://as.example/reg/c1", Sent: true, Err: cause, RetryAfter: 3 * time.Second}
	wrapped := fmt.Errorf("reconcile: %w", e)
	if got, ok := AsError(wrapped); !ok || got != e {
		t.Fatalf("AsError(wrapped) = %v, %v", got, ok)
	}
	if !IsKind(wrapped, KindTransient) || IsKind(wrapped, KindGone) || IsKind(cause, KindTransient) {
		t.Error("IsKind mismatch")
	}
	if _, ok := AsError(nil); ok {
		t.Error("AsError(nil) reported an *Error")
	}
	if !errors.Is(wrapped, cause) {
		t.Error("Unwrap does not reach the cause")
	}
	if !e.Uncertain() {
		t.Error("Sent without status should be Uncertain")
	}
	want := "dcr: read https://as.example/reg/c1: Transient (request sent, no response: the server may have acted on it) (retry after 3s): boom"
	if e.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", e.Error(), want)
	}
	e2 := &Error{Op: opRegister, Kind: KindInvalidMetadata, StatusCode: 400, Code: "invalid_redirect_uri", Description: "bad", Sent: true}
	if got := e2.Error(); got != "dcr: register: InvalidMetadata (HTTP 400, invalid_redirect_uri): bad" {
		t.Errorf("Error() = %q", got)
	}
	if e2.Uncertain() {
		t.Error("a response with a status is not Uncertain")
	}
}
