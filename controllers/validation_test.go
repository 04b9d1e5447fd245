package controllers_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// TestAPIServerRefusesInvalidObjects proves the schema and CEL rules in the
// CRDs: the API server itself refuses bad objects, naming the field.
func TestAPIServerRefusesInvalidObjects(t *testing.T) {
	ns := newNamespace(t)
	dyn := &oauthv1alpha1.DynamicRegistration{IssuerURL: "https://idp.example.com"}
	stl := &oauthv1alpha1.StatelessServer{Issuer: "https://idp.example.com"}
	jwks := &apiextensionsv1.JSON{Raw: []byte(`{"keys":[]}`)}

	cases := []struct {
		name string
		obj  client.Object
		// every fragment must appear in the API server's message
		want []string
	}{
		{"both backends", &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "both"},
			Spec: oauthv1alpha1.AuthorizationServerSpec{DynamicRegistration: dyn, Stateless: stl}},
			[]string{"spec", "exactly one of dynamicRegistration, stateless or clientIDMetadataDocument must be set"}},
		{"no backend", &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "none"}},
			[]string{"spec", "exactly one of dynamicRegistration, stateless or clientIDMetadataDocument must be set"}},
		{"registration endpoint on a metadata document server", &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "docs-reg"},
			Spec: oauthv1alpha1.AuthorizationServerSpec{
				ClientIDMetadataDocument: &oauthv1alpha1.ClientIDMetadataDocumentServer{BaseURL: "https://clients.example.com/oauth"},
				RegistrationEndpoint:     &oauthv1alpha1.RegistrationEndpoint{Open: true},
			}},
			[]string{"spec.registrationEndpoint", "not available with clientIDMetadataDocument"}},
		{"metadata document server with an IP base URL", &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "docs-ip"},
			Spec: oauthv1alpha1.AuthorizationServerSpec{ClientIDMetadataDocument: &oauthv1alpha1.ClientIDMetadataDocumentServer{BaseURL: "https://10.0.0.1:8443/oauth"}}},
			[]string{"spec.clientIDMetadataDocument.baseURL", "not an IP address"}},
		{"cluster server no backend", &oauthv1alpha1.ClusterAuthorizationServer{ObjectMeta: metav1.ObjectMeta{Name: "none-" + ns}},
			[]string{"exactly one of dynamicRegistration, stateless or clientIDMetadataDocument must be set"}},
		{"http issuer URL for dynamic registration", &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "plain"},
			Spec: oauthv1alpha1.AuthorizationServerSpec{DynamicRegistration: &oauthv1alpha1.DynamicRegistration{IssuerURL: "http://idp.example.com"}}},
			[]string{"spec.dynamicRegistration.issuerURL", "https"}},
		{"unknown signing alg", &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hs"},
			Spec: oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: "https://i.example", SigningAlgorithm: "HS256"}}},
			[]string{"spec.stateless.signingAlgorithm", "HS256"}},
		{"recipient key mode without key", &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "enc"},
			Spec: oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: "https://i.example",
				Encryption: &oauthv1alpha1.StatelessEncryption{Mode: oauthv1alpha1.EncryptionRecipientKey}}}},
			[]string{"spec.stateless.encryption.recipientKey", "required when mode is RecipientKey"}},
		{"jwks with jwksURI", oauthClient(ns, "both-keys", "idp", func(c *oauthv1alpha1.OAuthClient) {
			c.Spec.JWKS = jwks
			c.Spec.JWKSURI = "https://app.example.org/jwks"
		}), []string{"spec.jwksURI", "jwks and jwksURI are mutually exclusive"}},
		{"plain http redirect", oauthClient(ns, "plain", "idp", withRedirectURIs("https://ok.example.org/cb", "http://app.example.org/cb")), []string{"spec.redirectURIs[1]", "plain http is allowed only for a loopback host"}},
		{"http on a look-alike loopback host", oauthClient(ns, "lookalike", "idp", withRedirectURIs("http://127.0.0.1.evil.example/cb")), []string{"spec.redirectURIs[0]", "plain http"}},
		{"javascript redirect", oauthClient(ns, "js", "idp", withRedirectURIs("javascript:alert(1)")), []string{"spec.redirectURIs[0]", "scheme is not allowed"}},
		{"fragment in redirect", oauthClient(ns, "frag", "idp", withRedirectURIs("https://app.example.org/cb#x")), []string{"spec.redirectURIs[0]", "fragment"}},
		{"wildcard redirect", oauthClient(ns, "wild", "idp", withRedirectURIs("https://*.example.org/cb")), []string{"spec.redirectURIs[0]", "wildcard"}},
		{"relative redirect", oauthClient(ns, "rel", "idp", withRedirectURIs("/cb")), []string{"spec.redirectURIs[0]", "absolute URI"}},
		{"scope with a double quote", oauthClient(ns, "scope", "idp", func(c *oauthv1alpha1.OAuthClient) {
			c.Spec.Scope = `read "write"`
		}), []string{"spec.scope"}},
		{"bad deletion policy", oauthClient(ns, "dp", "idp", withDeletionPolicy("Keep")), []string{"spec.deletionPolicy", "Keep"}},
		{"bad server kind", oauthClient(ns, "kind", "idp", func(c *oauthv1alpha1.OAuthClient) { c.Spec.ServerRef.Kind = "Issuer" }),
			[]string{"spec.serverRef.kind"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := k8s.Create(context.Background(), tc.obj)
			if err == nil {
				t.Fatal("the API server accepted an invalid object")
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not contain %q", err.Error(), w)
				}
			}
		})
	}

	// Valid loopback and private-use redirects pass the schema.
	ok := oauthClient(ns, "native", "idp", func(c *oauthv1alpha1.OAuthClient) {
		c.Spec.ApplicationType = "native"
		c.Spec.TokenEndpointAuthMethod = "none"
		c.Spec.RedirectURIs = []oauthv1alpha1.RedirectURI{"http://127.0.0.1/cb", "http://[::1]:8080/cb", "com.example.app:/cb"}
	})
	if err := k8s.Create(context.Background(), ok); err != nil {
		t.Fatalf("valid native client refused: %v", err)
	}
}

// TestImmutableFields proves the transition rules.
func TestImmutableFields(t *testing.T) {
	ns := newNamespace(t)
	srv := statelessServer(ns, "idp")
	create(t, srv)
	updateRefused(t, srv, func() {
		srv.Spec.Stateless = nil
		srv.Spec.DynamicRegistration = &oauthv1alpha1.DynamicRegistration{IssuerURL: "https://idp.example.com"}
	}, "cannot be changed")

	c := oauthClient(ns, "app", "idp")
	create(t, c)
	updateRefused(t, c, func() { c.Spec.ServerRef.Name = "other" }, "serverRef is immutable")
	updateRefused(t, c, func() { c.Spec.SecretName = "elsewhere" }, "secretName is immutable")
}

// updateRefused reads obj, applies mutate and expects the API server to refuse
// the update as Invalid with want in the message; conflicts (the manager
// writing the same object) are retried.
func updateRefused(t *testing.T, obj client.Object, mutate func(), want string) {
	t.Helper()
	ctx := context.Background()
	for attempt := 0; attempt < 20; attempt++ {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
		mutate()
		err := k8s.Update(ctx, obj)
		if apierrors.IsConflict(err) {
			continue
		}
		if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
			t.Fatalf("update was not refused with %q: %v", want, err)
		}
		return
	}
	t.Fatal("update kept conflicting")
}

// TestInvalidMetadataCondition proves that what the schema cannot say is
// reported on the object by the shared RFC 7591 rules, with the field path.
func TestInvalidMetadataCondition(t *testing.T) {
	ns := newNamespace(t)
	create(t, statelessServer(ns, "idp"))
	create(t, oauthClient(ns, "bad", "idp", func(c *oauthv1alpha1.OAuthClient) {
		c.Spec.GrantTypes = []string{"authorization_code"}
		c.Spec.ResponseTypes = []string{"token"}
	}))
	c := waitClientReason(t, ns, "bad", oauthv1alpha1.ReasonInvalidMetadata)
	msg := ""
	for _, cond := range c.Status.Conditions {
		if cond.Type == oauthv1alpha1.ConditionReady {
			msg = cond.Message
		}
	}
	if !strings.Contains(msg, "spec.responseTypes") && !strings.Contains(msg, "spec.grantTypes") {
		t.Fatalf("condition message %q does not name the field", msg)
	}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "bad-oauth"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a Secret was written for invalid metadata (get: %v)", err)
	}
}
