package oidcprovider

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg/registrar/stateless"
)

// TestDiscoveryOptionNamesAForeignRegistrationEndpoint pins how an
// authorization server points clients at a registration endpoint it does not
// serve: node-oidc-provider's `discovery` option adds members to its
// discovery document, but only members it does not set itself, so the
// provider's own registration must be off.
func TestDiscoveryOptionNamesAForeignRegistrationEndpoint(t *testing.T) {
	const foreign = "https://clientreg.example/namespaces/apps/idp/register"
	p := Start(t, Options{DisableRegistration: true, Discovery: map[string]any{"registration_endpoint": foreign}})
	var doc map[string]any
	if r := do(t, p, http.MethodGet, p.URL+"/.well-known/openid-configuration", "", nil); r.status != http.StatusOK || json.Unmarshal(r.body, &doc) != nil {
		t.Fatalf("discovery: %d %s", r.status, r.body)
	}
	if doc["registration_endpoint"] != foreign || doc["issuer"] != p.URL {
		t.Fatalf("discovery: registration_endpoint %v, issuer %v", doc["registration_endpoint"], doc["issuer"])
	}
	if r := do(t, p, http.MethodPost, p.URL+"/reg", "", ccRegistration); r.status != http.StatusNotFound {
		t.Fatalf("registration at the provider is off, yet POST /reg: %d %s", r.status, r.body)
	}

	// With its own registration on, the provider's member wins.
	q := Start(t, Options{Discovery: map[string]any{"registration_endpoint": foreign}})
	var own map[string]any
	if r := do(t, q, http.MethodGet, q.URL+"/.well-known/openid-configuration", "", nil); r.status != http.StatusOK || json.Unmarshal(r.body, &own) != nil {
		t.Fatalf("discovery: %d %s", r.status, r.body)
	}
	if own["registration_endpoint"] != q.URL+"/reg" {
		t.Fatalf("registration_endpoint %v, want the provider's own", own["registration_endpoint"])
	}
}

// TestStatelessIDsAccepted starts the provider with the integration on a key
// set file and gets a token with an id minted by registrar/stateless for the
// provider's issuer; a tampered id and a wrong secret are invalid_client.
func TestStatelessIDsAccepted(t *testing.T) {
	key, err := stateless.GenerateKey("sig", "ES256", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := (&stateless.KeySet{Keys: []stateless.Key{key}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	p := Start(t, Options{Stateless: &Stateless{KeySetFile: file}, DisableRegistration: true})
	m, err := stateless.NewMinter(stateless.MinterConfig{Issuer: p.URL, SigningKey: key, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	minted, err := m.Mint(stateless.MintRequest{
		Reg:          json.RawMessage(`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}`),
		Confidential: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, body := tokenStatus(t, p, minted.ClientID, minted.ClientSecret); st != http.StatusOK {
		t.Fatalf("token with a minted id: %d %s", st, body)
	}
	if st, body := tokenStatus(t, p, minted.ClientID, minted.ClientSecret+"x"); st != http.StatusUnauthorized || !strings.Contains(string(body), "invalid_client") {
		t.Fatalf("wrong secret: %d %s", st, body)
	}
	// Flip a character of the signature.
	id := []byte(minted.ClientID)
	i := len(id) - 5
	id[i] = map[bool]byte{true: 'B', false: 'A'}[id[i] == 'A']
	if st, body := tokenStatus(t, p, string(id), minted.ClientSecret); st != http.StatusUnauthorized || !strings.Contains(string(body), "invalid_client") {
		t.Fatalf("tampered id: %d %s", st, body)
	}
}

// TestAliasPinnedDependency: an npm alias ("npm:<package>@<version>") counts
// as installed only when node_modules holds that package at that version.
func TestAliasPinnedDependency(t *testing.T) {
	dir := t.TempDir()
	write := func(name, version string) {
		t.Helper()
		d := filepath.Join(dir, "node_modules", "alias")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]string{"name": name, "version": version})
		if err := os.WriteFile(filepath.Join(d, "package.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("openid-client", "6.9.1")
	for spec, want := range map[string]bool{
		"npm:openid-client@6.9.1": true,
		"npm:openid-client@6.9.0": false,
		"npm:other@6.9.1":         false,
		"6.9.1":                   false, // the package is named openid-client, not alias
		"npm:openid-client":       false,
	} {
		if got := installed(dir, "alias", spec); got != want {
			t.Errorf("installed(%q) = %v, want %v", spec, got, want)
		}
	}
}
