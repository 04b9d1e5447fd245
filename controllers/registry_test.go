package controllers

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/controllers/metrics"
	"github.com/clientreg/clientreg/internal/registration"
	webhookv1alpha1 "github.com/clientreg/clientreg/webhook/v1alpha1"
)

// TestRegistryAdmitsANewBackend shows the claim of package backend: a
// backend is its own package and one registration line. Here a fake,
// registered alone under a union member, serves everything the operator does
// with a server of that member (the server reconciler, the Secret scope, the
// OAuthClient reconciler with creation and deletion, the webhook, the
// embedded endpoint, the metrics), none of which names a concrete backend.
func TestRegistryAdmitsANewBackend(t *testing.T) {
	ctx := context.Background()
	fake := &backend.Fake{
		ReconcileServerFunc: func(_ context.Context, s oauthv1alpha1.ServerObject) (backend.ServerResult, error) {
			s.GetStatus().Issuer = "https://fake.example"
			return backend.ServerResult{Ready: "the fake backend is ready"}, nil
		},
		ValidateServerFunc: func(_ oauthv1alpha1.ServerObject, p *field.Path) (field.ErrorList, []string) {
			return field.ErrorList{field.Invalid(p.Child("issuer"), "x", "refused by the fake")}, []string{"warned by the fake"}
		},
		ServerSecretsFunc: func(s oauthv1alpha1.ServerObject, _ string) []backend.ServerSecret {
			return []backend.ServerSecret{{Description: "the fake's Secret", NamespacedName: client.ObjectKey{Namespace: s.GetNamespace(), Name: "fake"}}}
		},
		DigestFunc:  func(*backend.Request) (string, error) { return "d", nil },
		ObserveFunc: observeStored(true, true),
		CreateFunc: func(context.Context, *backend.Request) (*backend.Credentials, error) {
			return &backend.Credentials{ClientID: "fake-client", ClientSecret: "fake-secret", Issuer: "https://fake.example", IssuedAt: t0}, nil
		},
		DeleteFunc: func(context.Context, *backend.Request) error { return nil },
	}
	// The one registration line.
	backends := new(backend.Registry).MustRegister(oauthv1alpha1.MemberStateless, fake)

	server := readyServer()
	server.Status = oauthv1alpha1.AuthorizationServerStatus{}
	server.Spec.RegistrationEndpoint = &oauthv1alpha1.RegistrationEndpoint{Open: true}
	h := newHarness(t, server, testClient())
	h.r.Backends = backends
	sr := serverReconciler(h.c, oauthv1alpha1.KindAuthorizationServer, backends, nil)

	// Server: the backend brings it to Ready.
	if _, err := reconcileServer(sr, server); err != nil {
		t.Fatal(err)
	}
	got := &oauthv1alpha1.AuthorizationServer{}
	if err := h.c.Get(ctx, client.ObjectKeyFromObject(server), got); err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, oauthv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue || c.Message != "the fake backend is ready" || got.Status.Issuer != "https://fake.example" {
		t.Fatalf("server status %+v", got.Status)
	}
	// The Secret scope asks the backend which Secrets the server needs.
	if err := newSecretScope([]string{"elsewhere"}, "clientreg-system").checkServerSecrets(fake, got, "clientreg-system"); err == nil || !strings.Contains(err.Error(), "the fake's Secret") {
		t.Fatalf("Secret scope: %v", err)
	}

	// Client: issued by the backend, stored in the Secret.
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if s := h.secret(t); string(s.Data["client_id"]) != "fake-client" || readyCond(t, h.get(t)).Status != metav1.ConditionTrue {
		t.Fatalf("Secret %v, Ready %+v", s.Data, readyCond(t, h.get(t)))
	}

	// Webhook: the backend validates its member, at its path.
	errs, warnings := webhookv1alpha1.ValidateServer(backends, got)
	if len(errs) != 1 || errs[0].Field != "spec.stateless.issuer" || len(warnings) != 1 {
		t.Fatalf("webhook: %v %v", errs, warnings)
	}

	// Embedded endpoint: the backend configures it.
	res := &registration.Resolver{Client: h.c, APIReader: h.c, BaseURL: "https://reg.example", ClusterResourceNamespace: "clientreg-system", Backends: backends}
	if _, err := res.Lookup(ctx, registration.ServerPath(got)); err != nil {
		t.Fatal(err)
	}

	// Metrics label the server by its member.
	if m := metrics.BackendOf(got); m != oauthv1alpha1.MemberStateless {
		t.Fatalf("metrics backend %q", m)
	}

	// Deletion: the backend deletes the client, then forgets the server.
	if err := h.c.Delete(ctx, h.get(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reconcile(t); err != nil || !h.gone(t) {
		t.Fatalf("client deletion: %v, gone %v", err, h.gone(t))
	}
	if err := h.c.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	// The fake client removes an object without finalizers at once; a
	// deleting server is what the reconciler sees in a cluster.
	deleting := got.DeepCopy()
	deleting.ResourceVersion, deleting.Finalizers = "", []string{"test.clientreg.dev/hold"}
	deleting.DeletionTimestamp = nil
	if err := h.c.Create(ctx, deleting); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Delete(ctx, deleting); err != nil {
		t.Fatal(err)
	}
	if _, err := reconcileServer(sr, server); err != nil {
		t.Fatal(err)
	}

	for _, call := range []string{"ReconcileServer", "ServerSecrets", "Observe", "Create", "ValidateServer", "ConfigureEndpoint", "Delete", "ForgetServer"} {
		if fake.Calls[call] == 0 {
			t.Errorf("the backend was not asked to %s (calls %v)", call, fake.Calls)
		}
	}
}
