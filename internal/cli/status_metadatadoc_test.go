package cli_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// TestStatusMetadataDocument: status names the backend of a Client ID
// Metadata Document server (it said "no backend") with its settings, and
// shows a client's document URL and its key rotation.
func TestStatusMetadataDocument(t *testing.T) {
	needEnvtest(t)
	ctx := context.Background()
	ns := newNamespace(t)
	srv := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "docs"},
		Spec: oauthv1alpha1.AuthorizationServerSpec{ClientIDMetadataDocument: &oauthv1alpha1.ClientIDMetadataDocumentServer{
			BaseURL: "https://clients.example.com/oauth", CacheMaxAge: &metav1.Duration{Duration: 2 * time.Minute},
		}},
	}
	mustCreate(t, srv)
	r := runCLI(t, "status", "authorizationserver", "docs", "-n", ns)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r)
	}
	mustContain(t, "server status", r.stdout,
		"Backend:", oauthv1alpha1.MemberClientIDMetadataDocument,
		"Base URL:", "https://clients.example.com/oauth",
		"Cache max-age:", "2m0s",
		"Client keys:", "ES256, published as JWKS; a rotation switches 2m30s after the next key is published, the old key stays published 10m0s",
	)

	obj := oauthClient(ns, "billing", oauthv1alpha1.ServerReference{Name: "docs"})
	mustCreate(t, obj)
	next := metav1.NewTime(time.Now().Add(90 * time.Second).Truncate(time.Second))
	url := "https://clients.example.com/oauth/" + ns + "/billing"
	obj.Status.ClientID = url
	obj.Status.MetadataDocument = &oauthv1alpha1.MetadataDocumentStatus{URL: url, ActiveKeyID: "kid-a", NextKeyID: "kid-b", NextKeyActiveAt: &next}
	if err := k8s.Status().Update(ctx, obj); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "status", "oauthclient", "billing", "-n", ns)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r)
	}
	mustContain(t, "client status", r.stdout,
		"AuthorizationServer docs ("+oauthv1alpha1.MemberClientIDMetadataDocument+",",
		"Metadata document:", url,
		"Active key:", "kid-a",
		"Next key:", "kid-b, active "+next.UTC().Format(time.RFC3339),
	)
}
