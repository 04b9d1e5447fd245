package controllers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/internal/testutil"
)

// Unit tests of --secret-namespaces: the cache options, the clients that
// refuse Secrets outside the listed namespaces before any request, and the
// conditions the reconcilers report.

func TestCacheOptionsForSecretNamespaces(t *testing.T) {
	secretOpts := func(o Options) (sel string, namespaces []string) {
		t.Helper()
		for obj, by := range CacheOptionsFor(o).ByObject {
			if _, ok := obj.(*corev1.Secret); !ok {
				continue
			}
			for ns, cfg := range by.Namespaces {
				namespaces = append(namespaces, ns)
				if cfg.LabelSelector == nil || cfg.LabelSelector.String() != by.Label.String() {
					t.Errorf("namespace %s selects %v, want the managed-by label %v", ns, cfg.LabelSelector, by.Label)
				}
			}
			slices.Sort(namespaces)
			return by.Label.String(), namespaces
		}
		t.Fatal("no Secret cache options")
		return "", nil
	}
	wantSel := oauthv1alpha1.LabelManagedBy + "=" + oauthv1alpha1.ManagedByValue
	for _, tc := range []struct {
		name string
		opts Options
		want []string
	}{
		{"all namespaces", Options{ClusterResourceNamespace: "clientreg-system"}, nil},
		{"blank entries are all namespaces", Options{ClusterResourceNamespace: "clientreg-system", SecretNamespaces: []string{" ", ""}}, nil},
		{"listed plus the cluster resource namespace", Options{ClusterResourceNamespace: "clientreg-system", SecretNamespaces: []string{"b", "a"}}, []string{"a", "b", "clientreg-system"}},
		{"cluster resource namespace listed too", Options{ClusterResourceNamespace: "a", SecretNamespaces: []string{"a"}}, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel, ns := secretOpts(tc.opts)
			if sel != wantSel {
				t.Errorf("label selector %q, want %q", sel, wantSel)
			}
			if !slices.Equal(ns, tc.want) {
				t.Errorf("namespaces %v, want %v", ns, tc.want)
			}
		})
	}
	if sel, ns := secretOpts(Options{}); sel != wantSel || ns != nil {
		t.Errorf("CacheOptionsFor(Options{}) = %q %v", sel, ns)
	}
}

// countingClient counts every request that reaches the underlying client.
func countingClient(t *testing.T, objs ...client.Object) (client.Client, *int) {
	t.Helper()
	calls := 0
	return testutil.FakeClient(objs...).
		WithStatusSubresource(&oauthv1alpha1.AuthorizationServer{}, &oauthv1alpha1.ClusterAuthorizationServer{}).
		WithInterceptorFuncs(testutil.CountRequests(func() { calls++ })).Build(), &calls
}

// wantRefusal checks err is the SecretNamespaceNotAllowed refusal naming ns
// and the flag.
func wantRefusal(t *testing.T, what string, err error, ns string) {
	t.Helper()
	p, ok := backend.AsPermanent(err)
	if !ok || p.Reason != oauthv1alpha1.ReasonSecretNamespaceNotAllowed {
		t.Errorf("%s: %v, want a %s refusal", what, err, oauthv1alpha1.ReasonSecretNamespaceNotAllowed)
		return
	}
	if !strings.Contains(err.Error(), SecretNamespacesFlag) || (ns != "" && !strings.Contains(err.Error(), `"`+ns+`"`)) {
		t.Errorf("%s: %q does not name the namespace %q and the flag", what, err, ns)
	}
}

func TestScopedClientRefusesSecretsOutsideTheScope(t *testing.T) {
	ctx := context.Background()
	secret := func(ns string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s"}}
	}
	base, calls := countingClient(t, secret("other"), secret("apps"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "cm"}})
	scope := newSecretScope([]string{"apps"}, "clientreg-system")
	c, r := scope.scopeClient(base), scope.scopeReader(base)

	refused := map[string]func() error{
		"get":            func() error { return c.Get(ctx, client.ObjectKey{Namespace: "other", Name: "s"}, &corev1.Secret{}) },
		"reader get":     func() error { return r.Get(ctx, client.ObjectKey{Namespace: "other", Name: "s"}, &corev1.Secret{}) },
		"list":           func() error { return c.List(ctx, &corev1.SecretList{}, client.InNamespace("other")) },
		"reader list":    func() error { return r.List(ctx, &corev1.SecretList{}, client.InNamespace("other")) },
		"create":         func() error { return c.Create(ctx, secret("other")) },
		"update":         func() error { return c.Update(ctx, secret("other")) },
		"patch":          func() error { return c.Patch(ctx, secret("other"), client.MergeFrom(secret("other"))) },
		"delete":         func() error { return c.Delete(ctx, secret("other")) },
		"delete all of":  func() error { return c.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace("other")) },
		"metadata get":   func() error { return c.Get(ctx, client.ObjectKey{Namespace: "other", Name: "s"}, secretMetadata()) },
		"cluster list":   func() error { return c.List(ctx, &corev1.SecretList{}) },
		"cluster reader": func() error { return r.List(ctx, &corev1.SecretList{}) },
	}
	for name, f := range refused {
		ns := "other"
		if strings.HasPrefix(name, "cluster") {
			ns = ""
		}
		wantRefusal(t, name, f(), ns)
	}
	if *calls != 0 {
		t.Errorf("%d refused requests reached the API client", *calls)
	}

	allowed := map[string]func() error{
		"get in a listed namespace":          func() error { return c.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "s"}, &corev1.Secret{}) },
		"reader get in a listed namespace":   func() error { return r.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "s"}, &corev1.Secret{}) },
		"list in the cluster namespace":      func() error { return c.List(ctx, &corev1.SecretList{}, client.InNamespace("clientreg-system")) },
		"create in the cluster namespace":    func() error { return c.Create(ctx, secret("clientreg-system")) },
		"a ConfigMap elsewhere":              func() error { return c.Get(ctx, client.ObjectKey{Namespace: "other", Name: "cm"}, &corev1.ConfigMap{}) },
		"OAuthClients in every namespace":    func() error { return c.List(ctx, &oauthv1alpha1.OAuthClientList{}) },
		"reader OAuthClients everywhere too": func() error { return r.List(ctx, &oauthv1alpha1.OAuthClientList{}) },
	}
	for name, f := range allowed {
		if err := f(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if *calls != len(allowed) {
		t.Errorf("%d requests reached the API client, want %d", *calls, len(allowed))
	}

	// Without --secret-namespaces nothing is wrapped.
	all := newSecretScope(nil, "clientreg-system")
	if _, wrapped := all.scopeClient(base).(scopedClient); wrapped || !all.allows("") || !all.allows("other") {
		t.Error("an empty --secret-namespaces must allow every namespace, unwrapped")
	}
}

func secretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

func TestReconcileRefusesClientsOutsideSecretNamespaces(t *testing.T) {
	for _, tc := range []struct {
		name     string
		obj      *oauthv1alpha1.OAuthClient
		deleting bool
	}{
		{"new client", testClient(func(c *oauthv1alpha1.OAuthClient) { c.Finalizers = nil }), false},
		{"client with credentials", testClient(), false},
		{"client being deleted", testClient(func(c *oauthv1alpha1.OAuthClient) { now := metav1.NewTime(t0); c.DeletionTimestamp = &now }), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The client's Secret exists (its namespace was allowed before).
			stored := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app-oauth"}, Data: map[string][]byte{"client_id": []byte("x")}}
			h := newHarness(t, readyServer(), tc.obj, stored)
			h.r.secretScope = newSecretScope([]string{"apps"}, "clientreg-system")
			h.be.CreateFunc = func(context.Context, *backend.Request) (*backend.Credentials, error) {
				t.Error("credentials were issued")
				return nil, errors.New("no")
			}
			h.be.DeleteFunc = func(context.Context, *backend.Request) error {
				t.Error("a registration was deleted")
				return nil
			}
			res, err := h.reconcile(t)
			if !errors.Is(err, reconcile.TerminalError(nil)) || res.RequeueAfter != 0 {
				t.Errorf("reconcile = %+v, %v; want a terminal error", res, err)
			}
			got := h.get(t)
			ready := readyCond(t, got)
			if ready.Status != metav1.ConditionFalse || ready.Reason != oauthv1alpha1.ReasonSecretNamespaceNotAllowed ||
				!strings.Contains(ready.Message, `"ns"`) || !strings.Contains(ready.Message, SecretNamespacesFlag) {
				t.Errorf("Ready = %+v", ready)
			}
			if !meta.IsStatusConditionTrue(got.Status.Conditions, oauthv1alpha1.ConditionStalled) {
				t.Errorf("Stalled is not True: %+v", got.Status.Conditions)
			}
			if slices.Equal(got.Finalizers, tc.obj.Finalizers) == false {
				t.Errorf("finalizers changed from %v to %v", tc.obj.Finalizers, got.Finalizers)
			}
			if s := h.secret(t); string(s.Data["client_id"]) != "x" || len(s.OwnerReferences) != 0 {
				t.Errorf("the Secret was changed: %+v", s)
			}
			// Only the status patch reached the API server.
			if h.writes != 1 {
				t.Errorf("%d writes, want the one status patch", h.writes)
			}
		})
	}
	t.Run("listed namespace", func(t *testing.T) {
		h := newHarness(t, readyServer(), testClient())
		h.r.secretScope = newSecretScope([]string{"ns"}, "clientreg-system")
		h.be.ObserveFunc = observeStored(true, true)
		h.be.CreateFunc = issue(h)
		if _, err := h.reconcile(t); err != nil {
			t.Fatal(err)
		}
		if c := readyCond(t, h.get(t)); c.Status != metav1.ConditionTrue {
			t.Errorf("Ready = %+v", c)
		}
		h.secret(t)
	})
}

func TestServerRefusesSecretsOutsideSecretNamespaces(t *testing.T) {
	dynamicCluster := &oauthv1alpha1.ClusterAuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Name: "corp", Generation: 1},
		Spec: oauthv1alpha1.AuthorizationServerSpec{DynamicRegistration: &oauthv1alpha1.DynamicRegistration{
			IssuerURL:          "https://corp.example",
			InitialAccessToken: &oauthv1alpha1.SecretKeySelector{Name: "iat", Key: "token", Namespace: "other"},
		}},
	}
	for _, tc := range []struct {
		name   string
		obj    client.Object
		kind   oauthv1alpha1.ServerKind
		naming string
	}{
		{"stateless key Secret", readyServer(), oauthv1alpha1.KindAuthorizationServer, "key Secret ns/idp-stateless-keys"},
		{"initial access token", dynamicCluster, oauthv1alpha1.KindClusterAuthorizationServer, "initial access token Secret other/iat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, calls := countingClient(t, tc.obj)
			r := serverReconciler(c, tc.kind, NewBackends(BackendDeps{Cached: c, Uncached: c, ClusterResourceNamespace: "clientreg-system"}), []string{"apps"})
			_, err := reconcileServer(r, tc.obj)
			requests := *calls
			if !errors.Is(err, reconcile.TerminalError(nil)) {
				t.Errorf("reconcile: %v, want a terminal error", err)
			}
			got := oauthv1alpha1.NewServer(r.Kind)
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(tc.obj), got.(client.Object)); err != nil {
				t.Fatal(err)
			}
			conds := got.GetStatus().Conditions
			ready := meta.FindStatusCondition(conds, oauthv1alpha1.ConditionReady)
			if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != oauthv1alpha1.ReasonSecretNamespaceNotAllowed ||
				!strings.Contains(ready.Message, tc.naming) || !strings.Contains(ready.Message, SecretNamespacesFlag) {
				t.Errorf("Ready = %+v", ready)
			}
			if !meta.IsStatusConditionTrue(conds, oauthv1alpha1.ConditionStalled) {
				t.Errorf("Stalled is not True: %+v", conds)
			}
			// The server's own Get and the status patch; no Secret request.
			if requests != 2 {
				t.Errorf("%d requests, want 2 (get, status patch)", requests)
			}
			var secrets corev1.SecretList
			if err := c.List(context.Background(), &secrets); err != nil || len(secrets.Items) != 0 {
				t.Errorf("Secrets written: %v %v", secrets.Items, err)
			}
		})
	}
}

func TestEndpointTLSSecretOutsideSecretNamespaces(t *testing.T) {
	opts := Options{ClusterResourceNamespace: "clientreg-system", SecretNamespaces: []string{"apps"},
		Endpoint: &EndpointOptions{BaseURL: "https://reg.example", TLSSecret: types.NamespacedName{Namespace: "other", Name: "tls"}}}
	// Refused before the manager is used at all (it is nil here).
	err := setupEndpoint(context.Background(), nil, opts, newSecretScope(opts.SecretNamespaces, opts.ClusterResourceNamespace), nil, nil, nil, nil, nil)
	wantRefusal(t, "TLS Secret", err, "other")
	if err == nil || !strings.Contains(err.Error(), "other/tls") {
		t.Errorf("error %v does not name the Secret", err)
	}
}
