package controllers_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// An OAuthClient without spec.secretName (or with an empty one) gets the one
// message that matters, naming the field, and not also the API server's
// "some validation rules were not checked because the object was invalid",
// which it adds when a schema error keeps it from running the CEL rules of an
// enclosing object.
func TestMissingSecretNameGetsOneMessage(t *testing.T) {
	ns := newNamespace(t)
	for _, tc := range []struct {
		name string
		spec map[string]any
	}{
		{"absent", map[string]any{"serverRef": map[string]any{"name": "idp"}, "redirectURIs": []any{"https://app.example.com/cb"}}},
		{"empty", map[string]any{"serverRef": map[string]any{"name": "idp"}, "secretName": "", "redirectURIs": []any{"https://app.example.com/cb"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": oauthv1alpha1.GroupVersion.String(), "kind": "OAuthClient",
				"metadata": map[string]any{"namespace": ns, "name": "no-secret-" + tc.name},
				"spec":     tc.spec,
			}}
			err := k8s.Create(context.Background(), u, client.DryRunAll)
			if err == nil {
				t.Fatal("an OAuthClient without a secretName was accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, "spec.secretName") || strings.Contains(msg, "not checked") {
				t.Fatalf("want one message naming spec.secretName, got: %s", msg)
			}
		})
	}
	// The same for serverRef.
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": oauthv1alpha1.GroupVersion.String(), "kind": "OAuthClient",
		"metadata": map[string]any{"namespace": ns, "name": "no-server"},
		"spec":     map[string]any{"secretName": "s"},
	}}
	err := k8s.Create(context.Background(), u, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "spec.serverRef") || !strings.Contains(err.Error(), "required") || strings.Contains(err.Error(), "not checked") {
		t.Fatalf("want one message naming spec.serverRef, got: %v", err)
	}
}
