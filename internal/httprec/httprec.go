// Package httprec records a handler's HTTP answers for tests and reads
// their JSON bodies. It imports nothing from Kubernetes, so registrar's
// tests use it too. Test support only.
package httprec

import (
	"encoding/json"
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
