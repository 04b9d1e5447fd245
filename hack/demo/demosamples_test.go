package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// TestDemoSamplesDecodeStrictly fills in hack/demo/samples as the demo does
// and checks that every clientreg object decodes into the Go types without
// unknown fields, with the values where the placeholders were.
func TestDemoSamplesDecodeStrictly(t *testing.T) {
	vars := map[string]string{"PROVIDER_ISSUER": "https://127.0.0.1:1234", "PROVIDER_CA_BUNDLE": "LS0tLS1CRUdJTg=="}
	samples, err := loadTemplatedSamples("samples", vars)
	if err != nil {
		t.Fatal(err)
	}
	var server *oauthv1alpha1.AuthorizationServer
	var clients int
	for _, s := range samples {
		switch s.obj.GetKind() {
		case "AuthorizationServer":
			server = &oauthv1alpha1.AuthorizationServer{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(s.obj.Object, server, true); err != nil {
				t.Fatalf("%s: %v", s.source, err)
			}
		case "OAuthClient":
			clients++
			c := &oauthv1alpha1.OAuthClient{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(s.obj.Object, c, true); err != nil {
				t.Fatalf("%s: %v", s.source, err)
			}
			if !strings.Contains(strings.Join(c.Spec.GrantTypes, " "), "client_credentials") {
				t.Errorf("%s: the demo's token needs a client_credentials client", s)
			}
		}
	}
	if server == nil || clients == 0 {
		t.Fatalf("hack/demo/samples needs an AuthorizationServer and an OAuthClient; got %v", samples)
	}
	dr := server.Spec.DynamicRegistration
	if dr == nil || string(dr.IssuerURL) != vars["PROVIDER_ISSUER"] || string(dr.CABundle) != "-----BEGIN" {
		t.Errorf("the placeholders were not filled in: %+v", dr)
	}
	if server.Spec.RegistrationEndpoint == nil || !server.Spec.RegistrationEndpoint.Open {
		t.Error("the demo registers at the embedded endpoint without an initial access token: the server needs registrationEndpoint.open")
	}
}

func TestExpandRefusesUndefinedPlaceholders(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: ${DEFINED}, y: ${TYPO}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadTemplatedSamples(dir, map[string]string{"DEFINED": "1"})
	if err == nil || !strings.Contains(err.Error(), "TYPO") {
		t.Fatalf("got %v, want an error naming TYPO", err)
	}
	got, err := expand([]byte("a ${DEFINED} b $HOME"), map[string]string{"DEFINED": "1"})
	if err != nil || string(got) != "a 1 b $HOME" {
		t.Fatalf("expand = %q, %v", got, err)
	}
}
