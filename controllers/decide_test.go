package controllers

import (
	"testing"
	"time"

	"github.com/clientreg/clientreg/controllers/backend"
)

func TestDecide(t *testing.T) {
	now := t0
	issued := now.Add(-10 * 24 * time.Hour)
	stored := func(mods ...func(*backend.Credentials)) *storedState {
		c := &backend.Credentials{ClientID: "id-1", IssuedAt: issued}
		for _, m := range mods {
			m(c)
		}
		return &storedState{current: c}
	}
	expires := func(after time.Duration) func(*backend.Credentials) {
		return func(c *backend.Credentials) { c.ExpiresAt = issued.Add(after) }
	}
	current := backend.Observation{Exists: true, UpToDate: true}
	cases := []struct {
		name    string
		state   *storedState
		obs     backend.Observation
		policy  rotationPolicy
		want    action
		why     string
		answers string
	}{
		{name: "nothing stored", state: &storedState{}, obs: backend.Observation{}, want: actionCreate, why: "first registration"},
		{name: "stored without a client id", state: stored(func(c *backend.Credentials) { c.ClientID = "" }), obs: backend.Observation{}, want: actionCreate, why: "first registration"},
		{name: "gone at the server", state: stored(), obs: backend.Observation{Gone: true, Message: "registration deleted at the server"}, want: actionCreate, why: "registration deleted at the server"},
		{name: "stored but no longer valid", state: stored(), obs: backend.Observation{Message: "signature does not verify"}, want: actionRotate, why: "signature does not verify"},
		{name: "current", state: stored(), obs: current, want: actionNone},
		{name: "rotation requested", state: stored(), obs: current, policy: rotationPolicy{request: "r1"}, want: actionRotate, why: "rotation requested by annotation", answers: "r1"},
		{name: "rotation request already answered", state: &storedState{current: stored().current, rotationSeen: "r1"}, obs: current, policy: rotationPolicy{request: "r1"}, want: actionNone},
		{name: "interval elapsed", state: stored(), obs: current, policy: rotationPolicy{interval: 10 * 24 * time.Hour}, want: actionRotate, why: "rotation interval elapsed"},
		{name: "interval not yet elapsed", state: stored(), obs: current, policy: rotationPolicy{interval: 11 * 24 * time.Hour}, want: actionNone},
		{name: "interval without an issue time", state: stored(func(c *backend.Credentials) { c.IssuedAt = time.Time{} }), obs: current, policy: rotationPolicy{interval: time.Hour}, want: actionNone},
		{name: "two thirds of the lifetime passed", state: stored(expires(15 * 24 * time.Hour)), obs: current, want: actionRotate, why: "credentials are about to expire"},
		{name: "less than two thirds passed", state: stored(expires(16 * 24 * time.Hour)), obs: current, want: actionNone},
		{name: "out of date", state: stored(), obs: backend.Observation{Exists: true, Message: "redirect_uris differ"}, want: actionUpdate, why: "redirect_uris differ"},
		{name: "a rotation request wins over an update", state: stored(), obs: backend.Observation{Exists: true, Message: "redirect_uris differ"}, policy: rotationPolicy{request: "r2"}, want: actionRotate, why: "rotation requested by annotation", answers: "r2"},
		{name: "a failed check wins over a rotation request", state: stored(), obs: backend.Observation{Message: "unknown client"}, policy: rotationPolicy{request: "r3"}, want: actionRotate, why: "unknown client", answers: "r3"},
		{name: "observed as existing with nothing stored", state: &storedState{}, obs: current, policy: rotationPolicy{interval: time.Hour}, want: actionNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(tc.state, tc.obs, tc.policy, now)
			if d.action != tc.want || d.why != tc.why || d.answersRequest != tc.answers {
				t.Fatalf("decide = %+v, want action %q why %q answering %q", d, tc.want, tc.why, tc.answers)
			}
		})
	}
}
