package v1alpha1

import (
	"context"
	"reflect"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/testutil"
)

func needEnvtest(t *testing.T) {
	t.Helper()
	if !envtestOn {
		t.Skip("KUBEBUILDER_ASSETS not set; run `make test`")
	}
}

// envtestNamespace skips t without envtest and creates a namespace for it.
func envtestNamespace(t *testing.T) (context.Context, string) {
	t.Helper()
	needEnvtest(t)
	return context.Background(), testutil.NewNamespace(t, k8s)
}

// accepted fails t when the API server (and so the webhooks) refused what.
func accepted(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s refused: %v", what, err)
	}
}

// refusedBy checks that err is the API server's Invalid error produced by
// the named admission webhook, and that it names every given field path.
func refusedBy(t *testing.T, err error, webhook string, paths ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a refusal by %s naming %v", webhook, paths)
	}
	msg := err.Error()
	if !strings.Contains(msg, `admission webhook "`+webhook+`" denied the request`) {
		t.Fatalf("not refused by webhook %s: %v", webhook, err)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want an Invalid (422) error, got %v", err)
	}
	for _, p := range paths {
		if !strings.Contains(msg, p+":") {
			t.Errorf("the message does not name %s: %s", p, msg)
		}
	}
}

func TestEnvtestValidObjectsPass(t *testing.T) {
	ctx, ns := envtestNamespace(t)
	srv := nsServer(statelessSpec())
	srv.Namespace = ns
	accepted(t, k8s.Create(ctx, srv), "a valid AuthorizationServer")
	cs := clusterServer(dynamicSpec())
	cs.Name = "valid-" + ns
	cs.Spec.DynamicRegistration.CABundle = caPEM(t)
	cs.Spec.DynamicRegistration.InitialAccessToken = &oauthv1alpha1.SecretKeySelector{Name: "iat", Key: "token", Namespace: "other"}
	accepted(t, k8s.Create(ctx, cs), "a valid ClusterAuthorizationServer")
	t.Cleanup(func() { _ = k8s.Delete(ctx, cs) })
	oc := oauthClient()
	oc.Namespace = ns
	accepted(t, k8s.Create(ctx, oc), "a valid OAuthClient")
	// An update that changes the spec goes through validation again.
	oc.Spec.Scope = "openid profile"
	accepted(t, k8s.Update(ctx, oc), "a valid spec update")
}

func TestEnvtestOAuthClientRefusedWithEveryError(t *testing.T) {
	ctx, ns := envtestNamespace(t)
	oc := oauthClient(func(c *oauthv1alpha1.OAuthClient) {
		c.Namespace = ns
		c.Spec.GrantTypes = []string{"authorization_code", "urn:example:unsupported"}
		c.Spec.TokenEndpointAuthMethod = "bogus"
		c.Spec.ExtraMetadata = map[string]apiextensionsv1.JSON{"client_name": {Raw: []byte(`"dup"`)}}
	})
	err := k8s.Create(ctx, oc)
	refusedBy(t, err, "voauthclient-v1alpha1.oauth.clientreg.dev", "spec.grantTypes[1]", "spec.tokenEndpointAuthMethod", "spec.extraMetadata[client_name]")
	if n := len(err.(apierrors.APIStatus).Status().Details.Causes); n != 3 {
		t.Fatalf("%d causes, want 3 (every error at once): %v", n, err)
	}
}

func TestEnvtestServerRefusedWithEveryError(t *testing.T) {
	ctx, ns := envtestNamespace(t)
	s := nsServer(dynamicSpec())
	s.Namespace = ns
	d := s.Spec.DynamicRegistration
	d.IssuerURL = "https://idp.example.com/?tenant=a" // passes CEL (https prefix), not RFC 8414
	d.CABundle = []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
	d.Timeout = dur("-5s")
	refusedBy(t, k8s.Create(ctx, s), "vauthorizationserver-v1alpha1.oauth.clientreg.dev",
		"spec.dynamicRegistration.issuerURL", "spec.dynamicRegistration.caBundle", "spec.dynamicRegistration.timeout")

	c := clusterServer(statelessSpec())
	c.Name = "keys-" + ns
	c.Spec.Stateless.ClientIDLifetime, c.Spec.Stateless.KeyRotationInterval = dur("2160h"), dur("1h")
	c.Spec.Stateless.KeySecretName = "UPPER"
	refusedBy(t, k8s.Create(ctx, c), "vclusterauthorizationserver-v1alpha1.oauth.clientreg.dev",
		"spec.stateless.keyRotationInterval", "spec.stateless.keySecretName")
}

func TestEnvtestCrossNamespaceRefused(t *testing.T) {
	ctx, ns := envtestNamespace(t)
	s := nsServer(dynamicSpec())
	s.Namespace = ns
	s.Spec.DynamicRegistration.InitialAccessToken = &oauthv1alpha1.SecretKeySelector{Name: "iat", Key: "token", Namespace: "kube-system"}
	s.Spec.RegistrationEndpoint = &oauthv1alpha1.RegistrationEndpoint{
		InitialAccessTokens: &oauthv1alpha1.SecretReference{Name: "iats", Namespace: "kube-system"},
		Namespace:           "kube-system",
	}
	err := k8s.Create(ctx, s)
	refusedBy(t, err, "vauthorizationserver-v1alpha1.oauth.clientreg.dev",
		"spec.dynamicRegistration.initialAccessToken.namespace", "spec.registrationEndpoint.initialAccessTokens.namespace", "spec.registrationEndpoint.namespace")
	if !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("want Forbidden causes: %v", err)
	}

	// The same references in the server's own namespace are fine.
	s.Spec.DynamicRegistration.InitialAccessToken.Namespace = ns
	s.Spec.RegistrationEndpoint.InitialAccessTokens.Namespace = ns
	s.Spec.RegistrationEndpoint.Namespace = ""
	accepted(t, k8s.Create(ctx, s), "references in the server's own namespace")
	// And an update cannot point them elsewhere.
	s.Spec.DynamicRegistration.InitialAccessToken.Namespace = "kube-system"
	refusedBy(t, k8s.Update(ctx, s), "vauthorizationserver-v1alpha1.oauth.clientreg.dev", "spec.dynamicRegistration.initialAccessToken.namespace")
}

func TestEnvtestDefaulting(t *testing.T) {
	ctx, ns := envtestNamespace(t)

	// Server: the webhook fills keySecretName; the schema fills the rest.
	s := nsServer(statelessSpec())
	s.Namespace = ns
	accepted(t, k8s.Create(ctx, s), "a stateless AuthorizationServer")
	got := &oauthv1alpha1.AuthorizationServer{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(s), got); err != nil {
		t.Fatal(err)
	}
	st := got.Spec.Stateless
	if st.KeySecretName != "idp-stateless-keys" {
		t.Errorf("keySecretName = %q, want idp-stateless-keys (mutating webhook)", st.KeySecretName)
	}
	if st.SigningAlgorithm != oauthv1alpha1.SigningES256 || st.ClientIDLifetime == nil || st.ClientIDLifetime.Duration.String() != "2160h0m0s" {
		t.Errorf("schema defaults missing: %+v", st)
	}
	if st.Audience != "" {
		t.Errorf("audience = %q: a default derived from a mutable field must not be written", st.Audience)
	}

	// OAuthClient: schema defaults only; no RFC 7591 defaults in the spec.
	oc := oauthClient(func(c *oauthv1alpha1.OAuthClient) {
		c.Namespace = ns
		c.Spec.ServerRef.Kind = ""
		c.Spec.GrantTypes = nil
		c.Spec.Rotation = &oauthv1alpha1.Rotation{Interval: dur("720h")}
	})
	accepted(t, k8s.Create(ctx, oc), "an OAuthClient relying on defaults")
	gotc := &oauthv1alpha1.OAuthClient{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(oc), gotc); err != nil {
		t.Fatal(err)
	}
	if gotc.Spec.ServerRef.Kind != oauthv1alpha1.KindAuthorizationServer || gotc.Spec.DeletionPolicy != oauthv1alpha1.DeletionPolicyDelete ||
		gotc.Spec.Rotation.Overlap == nil || gotc.Spec.Rotation.Overlap.Duration.String() != "1h0m0s" {
		t.Errorf("schema defaults missing: serverRef %+v, deletionPolicy %q, rotation %+v", gotc.Spec.ServerRef, gotc.Spec.DeletionPolicy, gotc.Spec.Rotation)
	}
	if gotc.Spec.GrantTypes != nil || gotc.Spec.ResponseTypes != nil || gotc.Spec.TokenEndpointAuthMethod != "" {
		t.Errorf("RFC 7591 defaults were written into the spec: grantTypes %v, responseTypes %v, tokenEndpointAuthMethod %q",
			gotc.Spec.GrantTypes, gotc.Spec.ResponseTypes, gotc.Spec.TokenEndpointAuthMethod)
	}
}

// TestEnvtestReapplyIsStable applies the same manifest twice with
// server-side apply, as GitOps tools do: the second apply changes nothing,
// so Git and the cluster agree after defaulting.
func TestEnvtestReapplyIsStable(t *testing.T) {
	ctx, ns := envtestNamespace(t)
	manifest := func() *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": oauthv1alpha1.GroupVersion.String(),
			"kind":       "AuthorizationServer",
			"metadata":   map[string]any{"name": "gitops", "namespace": ns},
			"spec":       map[string]any{"stateless": map[string]any{"issuer": "https://idp.example.com"}},
		}}
	}
	apply := func() *oauthv1alpha1.AuthorizationServer {
		t.Helper()
		if err := k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(manifest()), client.FieldOwner("gitops"), client.ForceOwnership); err != nil {
			t.Fatal(err)
		}
		got := &oauthv1alpha1.AuthorizationServer{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gitops"}, got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := apply()
	if first.Spec.Stateless.KeySecretName != "gitops-stateless-keys" {
		t.Fatalf("keySecretName = %q after apply", first.Spec.Stateless.KeySecretName)
	}
	// No reconciler runs here, so the stored object has no status yet: the
	// first re-apply persists the schema's default status
	// ({observedGeneration: 0}) once, without touching spec or generation.
	// From then on a re-apply writes nothing.
	second := apply()
	if second.Generation != first.Generation || !reflect.DeepEqual(second.Spec, first.Spec) {
		t.Fatalf("re-applying the same manifest changed the spec: generation %d -> %d, spec %+v -> %+v",
			first.Generation, second.Generation, first.Spec, second.Spec)
	}
	third := apply()
	if third.Generation != second.Generation || third.ResourceVersion != second.ResourceVersion {
		t.Fatalf("re-applying the same manifest changed the object: generation %d -> %d, resourceVersion %s -> %s",
			second.Generation, third.Generation, second.ResourceVersion, third.ResourceVersion)
	}
	// A dry-run apply (what a GitOps diff does) predicts the stored spec.
	predicted := manifest()
	if err := k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(predicted), client.FieldOwner("gitops"), client.ForceOwnership, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
}

func TestEnvtestStatelessRegistrationImmutable(t *testing.T) {
	ctx, ns := envtestNamespace(t)
	s := nsServer(statelessSpec())
	s.Namespace = ns
	accepted(t, k8s.Create(ctx, s), "a stateless AuthorizationServer")
	oc := oauthClient(func(c *oauthv1alpha1.OAuthClient) { c.Namespace = ns })
	accepted(t, k8s.Create(ctx, oc), "an OAuthClient")
	// Before credentials are minted, the registration may change.
	oc.Spec.ClientName = "Billing (draft)"
	accepted(t, k8s.Update(ctx, oc), "update before minting")
	// What the reconciler writes once it minted an id.
	oc.Status.ClientID = "eyJhbGciOiJFUzI1NiJ9.minted.sig"
	accepted(t, k8s.Status().Update(ctx, oc), "writing the minted client id into the status")

	changed := oc.DeepCopy()
	changed.Spec.ClientName = "Billing v2"
	changed.Spec.RedirectURIs = append(changed.Spec.RedirectURIs, "https://billing.example.com/cb2")
	err := k8s.Update(ctx, changed)
	refusedBy(t, err, "voauthclient-v1alpha1.oauth.clientreg.dev", "spec.clientName", "spec.redirectURIs")
	if !strings.Contains(err.Error(), oauthv1alpha1.AnnotationRotate) {
		t.Fatalf("the refusal does not say how to proceed: %v", err)
	}

	// Settings outside the registration change freely.
	fresh := &oauthv1alpha1.OAuthClient{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(oc), fresh); err != nil {
		t.Fatal(err)
	}
	fresh.Spec.SecretTemplate = &oauthv1alpha1.SecretTemplate{Labels: map[string]string{"team": "billing"}}
	accepted(t, k8s.Update(ctx, fresh), "secretTemplate change")

	// The same change with a rotation request is allowed, with a warning.
	fresh.Spec.ClientName = "Billing v2"
	fresh.Annotations = map[string]string{oauthv1alpha1.AnnotationRotate: "2026-11-28"}
	accepted(t, k8s.Update(ctx, fresh), "change with a rotation request")
	// The next change needs a new request: the old value does not count twice.
	fresh.Spec.ClientName = "Billing v3"
	refusedBy(t, k8s.Update(ctx, fresh), "voauthclient-v1alpha1.oauth.clientreg.dev", "spec.clientName")

	// Deleting is never refused, whatever the spec.
	accepted(t, k8s.Delete(ctx, &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: oc.Name}}), "deleting a client with a minted id")
}
