package endpoint

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimit is a server's registration rate limit: a token bucket of Burst
// registrations refilled at PerMinute. The zero value (PerMinute 0) means no
// limit.
type RateLimit struct {
	// PerMinute is the sustained rate in registrations per minute.
	PerMinute int
	// Burst is the bucket size; 0 means max(1, PerMinute/6).
	Burst int
}

func (l RateLimit) burst() float64 {
	if l.Burst > 0 {
		return float64(l.Burst)
	}
	return float64(max(1, l.PerMinute/6))
}

// CodeRateLimited is the "error" of a registration refused by the rate limit
// (HTTP 429 with Retry-After). RFC 7591 defines no code for it; RFC 6749
// §4.1.2.1 registers temporarily_unavailable for "unable to handle the
// request due to a temporary overloading", which is what a client must do
// with it: retry later. It is the code of 503 answers too; the status tells
// them apart.
const CodeRateLimited = CodeTemporarilyUnavailable

// bucket is one server's token bucket.
type bucket struct {
	limit  RateLimit
	tokens float64
	last   time.Time
}

// rateLimiter keeps a bucket per server path. A changed limit starts a full
// bucket. Buckets of servers no longer asked about stay until the limiter is
// dropped; there is one per configured server, so this is bounded.
type rateLimiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

// allow takes a token from srv's bucket at now. When the bucket is empty it
// returns false and how long until a token is back.
func (l *rateLimiter) allow(path string, limit RateLimit, now time.Time) (bool, time.Duration) {
	if limit.PerMinute <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b := l.buckets[path]
	if b == nil || b.limit != limit {
		b = &bucket{limit: limit, tokens: limit.burst(), last: now}
		l.buckets[path] = b
	}
	perSecond := float64(limit.PerMinute) / 60
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(limit.burst(), b.tokens+elapsed*perSecond)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / perSecond * float64(time.Second))
	return false, wait
}

// rateLimited is the answer to a registration over the limit: 429
// temporarily_unavailable with Retry-After in whole seconds, rounded up.
func rateLimited(wait time.Duration) *Error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited, RetryAfter: secs,
		Description: "too many registrations at this server, retry after " + strconv.Itoa(secs) + " seconds"}
}
