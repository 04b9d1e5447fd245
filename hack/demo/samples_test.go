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
