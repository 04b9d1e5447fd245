package endpoint_test

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// checkRateLimited asserts a 429 answer (REG-37): temporarily_unavailable,
// JSON, no-store, Retry-After in seconds.
func checkRateLimited(t *testing.T, r *resp, retryAfter string) {
	t.Helper()
	checkErrorAnswer(t, r, http.StatusTooManyRequests, "temporarily_unavailable")
	if got := r.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, retryAfter)
	}
}

// REG-37: with rate limiting configured, 1 000 rapid POST V from one source
// give some 429 and no 5xx; nothing is stored for a 429; the bucket refills
// with the (injected) clock and never holds more than its burst.
func TestREG37RateLimit(t *testing.T) {
	e := newEnv(t)
	counts := map[int]int{}
	for i := range 1000 {
		r := e.post(t, "/rl", bodyV)
		counts[r.Status]++
		if r.Status >= 500 {
			t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
		}
		if r.Status == http.StatusTooManyRequests && i == 3 {
			checkRateLimited(t, r, "1")
		}
	}
	if counts[http.StatusCreated] != 3 || counts[http.StatusTooManyRequests] != 997 {
		t.Fatalf("answers = %v, want 3 x 201 (the burst) and 997 x 429", counts)
	}
	if n := len(e.store.Registrations(e.servers["/rl"])); n != 3 {
		t.Fatalf("%d registrations stored, want 3", n)
	}

	// 60 per minute: one token per second.
	e.clock.Advance(999 * time.Millisecond)
	checkRateLimited(t, e.post(t, "/rl", bodyV), "1")
	e.clock.Advance(time.Millisecond)
	e.mustRegister(t, "/rl", bodyV)
	checkRateLimited(t, e.post(t, "/rl", bodyV), "1")

	// A long pause fills the bucket to its burst, not beyond.
	e.clock.Advance(10 * time.Minute)
	for range 3 {
		e.mustRegister(t, "/rl", bodyV)
	}
	checkRateLimited(t, e.post(t, "/rl", bodyV), "1")
}

// Retry-After is the time until the next token, rounded up to whole seconds;
// the default burst of 1 per minute is 1.
func TestRateLimitRetryAfter(t *testing.T) {
	e := newEnv(t)
	e.mustRegister(t, "/rlslow", bodyV)
	checkRateLimited(t, e.post(t, "/rlslow", bodyV), "60")
	e.clock.Advance(30*time.Second + 500*time.Millisecond)
	checkRateLimited(t, e.post(t, "/rlslow", bodyV), "30")
	e.clock.Advance(29 * time.Second)
	checkRateLimited(t, e.post(t, "/rlslow", bodyV), "1")
	e.clock.Advance(time.Second)
	e.mustRegister(t, "/rlslow", bodyV)
}

// What counts: every registration that passed the initial access token
// check, valid or not; not unauthenticated requests (they cannot use up the
// limit of the token holders) and not management requests.
func TestRateLimitWhatCounts(t *testing.T) {
	e := newEnv(t)
	for range 5 {
		checkErrorAnswer(t, e.post(t, "/rliat", bodyV), http.StatusUnauthorized, "invalid_request")
		checkErrorAnswer(t, e.post(t, "/rliat", bodyV, bearer("wrong-token-wrong-token-wrong-token-0")...), http.StatusUnauthorized, "invalid_token")
	}
	reg := e.mustRegister(t, "/rliat", bodyV, bearer(iatToken)...)
	checkRateLimited(t, e.post(t, "/rliat", bodyV, bearer(iatToken)...), "1")
	for range 5 {
		if r := e.get(t, reg.path, reg.rat); r.Status != http.StatusOK {
			t.Fatalf("GET while rate limited = %d %s, want 200", r.Status, r.Body)
		}
	}
	e.clock.Advance(time.Second)
	// An invalid registration takes a token too.
	checkErrorAnswer(t, e.post(t, "/rliat", `{"redirect_uris":["http://client.example.org/cb"]}`, bearer(iatToken)...), http.StatusBadRequest, "invalid_redirect_uri")
	checkRateLimited(t, e.post(t, "/rliat", bodyV, bearer(iatToken)...), "1")
	// Servers have their own buckets.
	e.mustRegister(t, "/oauth", bodyV)
}

// A Stateless server is rate limited the same way.
func TestRateLimitStateless(t *testing.T) {
	e := newEnv(t)
	for range 2 {
		if r := e.post(t, "/slrl", bodyV); r.Status != http.StatusCreated {
			t.Fatalf("POST = %d %s", r.Status, r.Body)
		}
	}
	checkRateLimited(t, e.post(t, "/slrl", bodyV), "1")
}

// SEC-08: register V+{"software_id":"S","software_version":"1"} twice with a
// single-instance policy for S: the second gives 400 ICM and stores nothing.
func TestSEC08SingleInstanceSoftware(t *testing.T) {
	e := newEnv(t)
	srv := e.servers["/si"]
	s1 := jsonWith(t, bodyV, map[string]any{"software_id": "S", "software_version": "1"})
	first := e.mustRegister(t, "/si", s1)
	r := e.post(t, "/si", s1)
	checkErrorAnswer(t, r, http.StatusBadRequest, "invalid_client_metadata")
	if n := len(e.store.Registrations(srv)); n != 1 {
		t.Fatalf("%d registrations stored, want 1", n)
	}
	// Another version, software that is not single-instance, and the same
	// software at another server are not duplicates.
	s2 := e.mustRegister(t, "/si", jsonWith(t, bodyV, map[string]any{"software_id": "S", "software_version": "2"}))
	t1 := jsonWith(t, bodyV, map[string]any{"software_id": "T", "software_version": "1"})
	e.mustRegister(t, "/si", t1)
	e.mustRegister(t, "/si", t1)
	e.mustRegister(t, "/oauth", s1)
	e.mustRegister(t, "/oauth", s1)

	// RFC 7592 update: the instance itself may change other metadata; another
	// registration may not become a duplicate.
	upd := jsonWith(t, s1, map[string]any{"client_id": first.id, "client_name": "renamed"})
	if r := e.put(t, first.path, first.rat, upd); r.Status != http.StatusOK {
		t.Fatalf("PUT of the instance itself = %d %s, want 200", r.Status, r.Body)
	}
	dup := jsonWith(t, s1, map[string]any{"client_id": s2.id})
	checkErrorAnswer(t, e.put(t, s2.path, s2.rat, dup), http.StatusBadRequest, "invalid_client_metadata")
	if got := e.get(t, s2.path, s2.rat).Str(t, "software_version"); got != "2" {
		t.Fatalf("software_version after the refused PUT = %q, want 2", got)
	}

	// Once the instance is deleted, the software may register again.
	if r := e.do(t, request{method: http.MethodDelete, path: first.path, auth: bearer(first.rat)}); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", r.Status, r.Body)
	}
	e.mustRegister(t, "/si", s1)
}

// SEC-08 under concurrency: of 20 simultaneous registrations of the same
// single-instance software, exactly one is registered.
func TestSEC08Concurrent(t *testing.T) {
	e := newEnv(t)
	body := jsonWith(t, bodyV, map[string]any{"software_id": "S", "software_version": "9"})
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[int]int{}
	)
	for range 20 {
		wg.Go(func() {
			r := e.post(t, "/si", body)
			mu.Lock()
			counts[r.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts[http.StatusCreated] != 1 || counts[http.StatusBadRequest] != 19 {
		t.Fatalf("answers = %v, want one 201 and 19 x 400", counts)
	}
}

// A Stateless server keeps nothing to compare with: single-instance software
// is refused (fail closed, 500 server_error) rather than registered
// unchecked. The operator's CRD and resolver refuse that configuration.
func TestSEC08StatelessFailsClosed(t *testing.T) {
	e := newEnv(t)
	checkErrorAnswer(t, e.post(t, "/slsi", jsonWith(t, bodyV, map[string]any{"software_id": "S"})), http.StatusInternalServerError, "server_error")
	if r := e.post(t, "/slsi", jsonWith(t, bodyV, map[string]any{"software_id": "T"})); r.Status != http.StatusCreated {
		t.Fatalf("software that is not single-instance: %d %s", r.Status, r.Body)
	}
}
