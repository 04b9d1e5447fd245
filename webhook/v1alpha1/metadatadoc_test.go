package v1alpha1

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

func documentSpec() oauthv1alpha1.AuthorizationServerSpec {
	return oauthv1alpha1.AuthorizationServerSpec{ClientIDMetadataDocument: &oauthv1alpha1.ClientIDMetadataDocumentServer{BaseURL: "https://clients.example.com/oauth"}}
}

// TestMetadataDocumentClientsAreRefusedSecrets: with a metadata document
// server the webhook refuses, with the field and a reason, what a document
// cannot carry, and accepts private_key_jwt without keys (the operator
// generates them), which another backend's clients are refused.
func TestMetadataDocumentClientsAreRefusedSecrets(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := oauthv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	validator := func(spec oauthv1alpha1.AuthorizationServerSpec) *OAuthClientValidator {
		return &OAuthClientValidator{Reader: fake.NewClientBuilder().WithScheme(scheme).WithObjects(nsServer(spec)).Build(), Backends: testBackends}
	}
	docs := validator(documentSpec())
	for _, tc := range []struct {
		name      string
		mod       func(*oauthv1alpha1.OAuthClient)
		field     string
		fragment  string
		allowedBy *OAuthClientValidator
	}{
		{"client_secret_basic", func(c *oauthv1alpha1.OAuthClient) { c.Spec.TokenEndpointAuthMethod = "client_secret_basic" }, "spec.tokenEndpointAuthMethod", "needs a client secret", validator(dynamicSpec())},
		{"client_secret_post", func(c *oauthv1alpha1.OAuthClient) { c.Spec.TokenEndpointAuthMethod = "client_secret_post" }, "spec.tokenEndpointAuthMethod", "needs a client secret", validator(dynamicSpec())},
		{"client_secret_jwt", func(c *oauthv1alpha1.OAuthClient) { c.Spec.TokenEndpointAuthMethod = "client_secret_jwt" }, "spec.tokenEndpointAuthMethod", "needs a client secret", validator(dynamicSpec())},
		{"http logo", func(c *oauthv1alpha1.OAuthClient) {
			c.Spec.TokenEndpointAuthMethod = "none"
			c.Spec.LogoURI = "http://billing.example.com/logo.png"
		}, "spec.logoURI", "https", validator(dynamicSpec())},
	} {
		_, err := docs.ValidateCreate(context.Background(), oauthClient(tc.mod))
		if err == nil || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), tc.fragment) {
			t.Errorf("%s: %v, want a refusal of %s saying %q", tc.name, err, tc.field, tc.fragment)
		}
		if _, err := tc.allowedBy.ValidateCreate(context.Background(), oauthClient(tc.mod)); err != nil {
			t.Errorf("%s: another backend refuses it too (%v): the rule is not the document backend's", tc.name, err)
		}
	}

	pkj := func(c *oauthv1alpha1.OAuthClient) {
		c.Spec.TokenEndpointAuthMethod = "private_key_jwt"
		c.Spec.GrantTypes = []string{"client_credentials"}
		c.Spec.RedirectURIs = nil
	}
	if _, err := docs.ValidateCreate(context.Background(), oauthClient(pkj)); err != nil {
		t.Errorf("private_key_jwt without keys on a document server: %v", err)
	}
	_, err := validator(statelessSpec()).ValidateCreate(context.Background(), oauthClient(pkj))
	if err == nil || !strings.Contains(err.Error(), field.NewPath("spec", "tokenEndpointAuthMethod").String()) || !strings.Contains(err.Error(), "requires jwks or jwks_uri") {
		t.Errorf("private_key_jwt without keys on a stateless server: %v", err)
	}
}

func TestMetadataDocumentServerValidation(t *testing.T) {
	v := ServerValidator[*oauthv1alpha1.AuthorizationServer]{Backends: testBackends}
	for _, tc := range []struct{ base, want string }{
		{"https://10.0.0.1/oauth", "not an IP address"},
		{"https://clients.example.com/a/../b", "dot segments"},
		{"https://Clients.example.com/oauth", "lower-case"},
	} {
		spec := documentSpec()
		spec.ClientIDMetadataDocument.BaseURL = tc.base
		_, err := v.ValidateCreate(context.Background(), nsServer(spec))
		if err == nil || !strings.Contains(err.Error(), "spec.clientIDMetadataDocument.baseURL") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a refusal saying %q", tc.base, err, tc.want)
		}
	}
	spec := documentSpec()
	spec.ClientIDMetadataDocument.CacheMaxAge = dur("5s")
	spec.ClientIDMetadataDocument.Keys = &oauthv1alpha1.DocumentKeys{PropagationMargin: dur("1s")}
	w, err := v.ValidateCreate(context.Background(), nsServer(spec))
	if err != nil || len(w) != 1 || !strings.Contains(w[0], "at least 30s") {
		t.Errorf("a short max-age: warnings %q, err %v", w, err)
	}
}

// TestAdmissionReadsTheServerOnce: the backend's rules, the missing-server
// warning and the stateless update rule share one read of the server.
func TestAdmissionReadsTheServerOnce(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := oauthv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	gets := 0
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(nsServer(statelessSpec())).
		WithInterceptorFuncs(interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			gets++
			return c.Get(ctx, key, obj, opts...)
		}}).Build()
	v := &OAuthClientValidator{Reader: reader, Backends: testBackends}
	if _, err := v.ValidateCreate(context.Background(), oauthClient()); err != nil {
		t.Fatal(err)
	}
	if gets != 1 {
		t.Errorf("a create read the server %d times", gets)
	}
	gets = 0
	old := oauthClient()
	old.Status.ClientID = "minted"
	updated := oauthClient(func(c *oauthv1alpha1.OAuthClient) { c.Spec.ClientName = "Billing 2" }, rotate("r1"))
	if _, err := v.ValidateUpdate(context.Background(), old, updated); err != nil {
		t.Fatal(err)
	}
	if gets != 1 {
		t.Errorf("an update read the server %d times", gets)
	}
}
