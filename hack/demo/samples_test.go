package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// TestSamplesDecodeStrictly checks that config/samples parses and that every
// clientreg object in it decodes into the Go types without unknown fields, so
// a misspelled field fails here rather than being pruned by the API server.
func TestSamplesDecodeStrictly(t *testing.T) {
	samples, err := loadSamples(filepath.Join("..", "..", "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range samples {
		seen[s.String()] = true
		var into any
		switch s.obj.GetKind() {
		case "OAuthClient":
			into = &oauthv1alpha1.OAuthClient{}
		case "AuthorizationServer":
			into = &oauthv1alpha1.AuthorizationServer{}
		case "ClusterAuthorizationServer":
			into = &oauthv1alpha1.ClusterAuthorizationServer{}
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(s.obj.Object, into, true); err != nil {
			t.Errorf("%s: %v", s.source, err)
		}
	}
	for _, want := range []string{
		"Namespace apps",
		"ClusterAuthorizationServer corp-idp",
		"AuthorizationServer apps/apps-idp",
		"OAuthClient apps/billing",
		"OAuthClient apps/reports",
	} {
		if !seen[want] {
			t.Errorf("config/samples has no %s", want)
		}
	}
}

func TestDecodeFileMultiDoc(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multi.yaml")
	data := "# comment only\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  n: \"1\"\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := decodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].String() != "Namespace a" || got[1].String() != "ConfigMap b" {
		t.Fatalf("decoded %v", got)
	}
}

func TestMaskNeverRevealsMoreThanFourChars(t *testing.T) {
	for _, secret := range []string{"", "short", "0123456789abcdef", strings.Repeat("s3cr3t", 8)} {
		m := mask(secret)
		if len(secret) >= 5 && strings.Contains(m, secret[:5]) {
			t.Errorf("mask(%q) = %q reveals more than 4 characters", secret, m)
		}
	}
}

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
