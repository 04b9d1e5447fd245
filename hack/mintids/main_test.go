package main

import (
	"encoding/json"
	"testing"
	"time"
)

// TestVectors mints a full set (run self-checks every vector with the Go
// verifier) and checks that every mode and the rotation scenario are there.
func TestVectors(t *testing.T) {
	out, err := run("https://as.example.test", "https://as.example.test", time.Now().Truncate(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range out.Cases {
		names[c.Name] = true
	}
	for _, want := range []string{"signed-es256", "signed-eddsa", "signed-rs256", "nested-generated", "nested-recipient-ec", "nested-recipient-rsa", "pkjwt-cnf-jwk"} {
		if !names[want] {
			t.Errorf("case %s missing", want)
		}
	}
	if len(out.Negative) < 20 {
		t.Errorf("only %d negative vectors", len(out.Negative))
	}
	for phase, n := range map[string]int{"old": 1, "both": 2, "new": 1} {
		var jwks struct{ Keys []any }
		if err := json.Unmarshal(out.Rotation.JWKS[phase], &jwks); err != nil || len(jwks.Keys) != n {
			t.Errorf("rotation jwks %s: %d keys (want %d), %v", phase, len(jwks.Keys), n, err)
		}
	}
	if _, err := json.Marshal(out); err != nil {
		t.Fatal(err)
	}
}
