package clientid

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/internal/josetest"
)

func TestFingerprintRevealsNothing(t *testing.T) {
	secret := "s3cr3t-Value-That-Must-Not-Show-0123456789"
	fp := Fingerprint(secret)
	if strings.Contains(fp, secret[:4]) || strings.Contains(fp, secret[len(secret)-4:]) {
		t.Fatalf("Fingerprint(%d chars) = %q shows part of the value", len(secret), fp)
	}
	if !strings.HasPrefix(fp, "42 chars, sha256:") {
		t.Fatalf("Fingerprint = %q, want the length and a sha256 prefix", fp)
	}
	if Fingerprint(secret) != fp || Fingerprint(secret+"x") == fp {
		t.Fatal("Fingerprint is not stable, or does not tell values apart")
	}
	if Fingerprint("") != "empty" {
		t.Fatalf("Fingerprint(\"\") = %q", Fingerprint(""))
	}
}

func TestSplit(t *testing.T) {
	for id, want := range map[string]Form{"a.b.c": Signed, "a.b.c.d.e": Encrypted, "opaque-id": Opaque, "a.b": Opaque} {
		if got, _ := Split(id); got != want {
			t.Errorf("Split(%q) = %s, want %s", id, got, want)
		}
	}
}

func TestPrintSegmentMasksClientSecret(t *testing.T) {
	seg := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"abc","client_secret":"hunter2-hunter2-hunter2"}`))
	var out bytes.Buffer
	if err := PrintSegment(&out, "  ", "Claims", seg, Fingerprint); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Fatalf("the client_secret member is printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"sub": "abc"`) || !strings.Contains(out.String(), Fingerprint("hunter2-hunter2-hunter2")) {
		t.Fatalf("unexpected output:\n%s", out.String())
	}
}

func TestPublicVerifierRefusesPrivateKeys(t *testing.T) {
	k := josetest.P256Key(t)
	for _, tc := range []struct {
		key     any
		wantErr string
	}{
		{k, "publishes a private key"},
		{&k.PublicKey, ""},
	} {
		set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: tc.key, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = PublicVerifier("https://idp.example.com", "https://idp.example.com", string(set), nil)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("key %T: err = %v, want %q", tc.key, err, tc.wantErr)
		}
	}
	if _, err := PublicVerifier("https://idp.example.com", "https://idp.example.com", "not json", nil); err == nil {
		t.Error("a JWKS that is not JSON was accepted")
	}
}
