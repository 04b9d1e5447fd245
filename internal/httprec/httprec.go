// Package httprec records a handler's HTTP answers for tests and reads
// their JSON bodies. It imports nothing from Kubernetes, so registrar's
// tests use it too. Test support only.
package httprec

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Answer is a recorded HTTP answer.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Serve has h answer req and returns the answer.
func Serve(h http.Handler, req *http.Request) *Answer {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return &Answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// Call sends a request to url with a bearer token (none if token is empty)
// and body as JSON (none if body is nil), and records the answer, its body
// read up to 1 MiB. The answer is never nil: its Status is 0 when none came.
func Call(ctx context.Context, hc *http.Client, method, url, token string, body any) (*Answer, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return &Answer{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return &Answer{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &Answer{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return &Answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// Obj decodes the body as a JSON object; a body that is not one fails t.
func (a *Answer) Obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %q", err, a.Body)
	}
	return m
}

// Str is the member of the body's object as a string ("" when it is
// missing or not a string).
func (a *Answer) Str(t testing.TB, member string) string {
	t.Helper()
	s, _ := a.Obj(t)[member].(string)
	return s
}
