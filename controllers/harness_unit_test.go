package controllers

// The harness of the unit tests of the reconcilers: a fake client, a fake
// backend and a fake clock.

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/internal/testutil"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// harness is an OAuthClientReconciler over a fake client, a fake backend
// (registered as the stateless member), a fake clock and a fake recorder.
type harness struct {
	// failSecretCreates, failStatusPatches and failObjectPatches (patches
	// of an OAuthClient's metadata) inject API errors.
	failSecretCreates, failStatusPatches, failObjectPatches bool
	r                                                       *OAuthClientReconciler
	c                                                       client.Client
	be                                                      *backend.Fake
	clock                                                   *clocktesting.FakeClock
	writes                                                  int
	rec                                                     *events.FakeRecorder
}

// newHarness is a harness whose fake client holds objs.
func newHarness(t *testing.T, objs ...client.Object) *harness {
	t.Helper()
	h := &harness{clock: clocktesting.NewFakeClock(t0), rec: events.NewFakeRecorder(100)}
	h.c = testutil.FakeClient(objs...).
		WithStatusSubresource(&oauthv1alpha1.OAuthClient{}, &oauthv1alpha1.AuthorizationServer{}).
		WithInterceptorFuncs(testutil.Hook(h.intercept)).Build()
	h.be = &backend.Fake{}
	h.r = &OAuthClientReconciler{
		Client: h.c, APIReader: h.c, Scheme: h.c.Scheme(), Recorder: h.rec, Clock: h.clock,
		Backends: new(backend.Registry).MustRegister(oauthv1alpha1.MemberStateless, h.be),
	}
	return h
}

// intercept counts the writes (the status subresource's too) and fails
// those that h says to.
func (h *harness) intercept(op testutil.Op, o runtime.Object) error {
	switch op {
	case testutil.OpCreate, testutil.OpUpdate, testutil.OpPatch, testutil.OpDelete, testutil.OpSubResourcePatch:
		h.writes++
	default:
		return nil
	}
	_, secret := o.(*corev1.Secret)
	_, object := o.(*oauthv1alpha1.OAuthClient)
	switch {
	case op == testutil.OpCreate && secret && h.failSecretCreates,
		op == testutil.OpPatch && object && h.failObjectPatches,
		op == testutil.OpSubResourcePatch && h.failStatusPatches:
		return errInjected
	}
	return nil
}

// readyServer is the stateless server ns/idp, Ready.
func readyServer() *oauthv1alpha1.AuthorizationServer {
	return &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "idp", Generation: 1},
		Spec:       oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: "https://idp.example"}},
		Status: oauthv1alpha1.AuthorizationServerStatus{Conditions: []metav1.Condition{{
			Type: oauthv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready", ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(t0),
		}}},
	}
}

// testClient is the OAuthClient ns/app of idp, with its finalizer, changed
// by mods.
func testClient(mods ...func(*oauthv1alpha1.OAuthClient)) *oauthv1alpha1.OAuthClient {
	c := &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", UID: "uid-app", Generation: 1,
			Finalizers: []string{oauthv1alpha1.FinalizerOAuthClient}},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:    oauthv1alpha1.ServerReference{Name: "idp"},
			SecretName:   "app-oauth",
			RedirectURIs: []oauthv1alpha1.RedirectURI{"https://app.example/cb"},
		},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

var counter int

// creds are new credentials (another client id each time) issued at now.
func creds(now time.Time) *backend.Credentials {
	counter++
	return &backend.Credentials{
		ClientID: "id-" + string(rune('a'+counter%26)) + now.Format("150405"), ClientSecret: "s3cret-value-" + now.Format("150405"),
		Issuer: "https://idp.example", IssuedAt: now, ExpiresAt: now.Add(90 * 24 * time.Hour), Digest: "d1",
	}
}

// reconcile reconciles ns/app once.
func (h *harness) reconcile(t *testing.T) (ctrl.Result, error) {
	t.Helper()
	return h.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Namespace: "ns", Name: "app"}})
}

// get reads ns/app.
func (h *harness) get(t *testing.T) *oauthv1alpha1.OAuthClient {
	t.Helper()
	c := &oauthv1alpha1.OAuthClient{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "app"}, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// secret reads the Secret ns/app-oauth.
func (h *harness) secret(t *testing.T) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "app-oauth"}, s); err != nil {
		t.Fatalf("Secret: %v", err)
	}
	return s
}

// observeStored reports the stored credentials as present and current unless told otherwise.
func observeStored(exists, upToDate bool) func(context.Context, *backend.Request) (backend.Observation, error) {
	return func(_ context.Context, req *backend.Request) (backend.Observation, error) {
		if req.Stored == nil {
			return backend.Observation{Message: "none stored"}, nil
		}
		return backend.Observation{Exists: exists, UpToDate: upToDate, Message: "observed"}, nil
	}
}

// issue issues new credentials at the harness's time.
func issue(h *harness) func(context.Context, *backend.Request) (*backend.Credentials, error) {
	return func(context.Context, *backend.Request) (*backend.Credentials, error) {
		return creds(h.clock.Now()), nil
	}
}

// gone reports whether ns/app no longer exists.
func (h *harness) gone(t *testing.T) bool {
	t.Helper()
	err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "app"}, &oauthv1alpha1.OAuthClient{})
	return err != nil
}

// ptrTo returns a pointer to a copy of v.
func ptrTo[T any](v T) *T { return &v }

// storeSecret creates the credentials Secret of c holding state, as the
// reconciler writes it (controlled by c).
func (h *harness) storeSecret(t *testing.T, c *oauthv1alpha1.OAuthClient, state *storedState) {
	t.Helper()
	sec := h.r.desiredSecret(c, state)
	sec.OwnerReferences = []metav1.OwnerReference{{APIVersion: "oauth.clientreg.dev/v1alpha1", Kind: "OAuthClient", Name: c.Name, UID: c.UID, Controller: ptrTo(true)}}
	if err := h.c.Create(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
}

// errInjected is the API error the harness injects.
var errInjected = apierrors.NewServiceUnavailable("injected")

// serverReconciler is a ServerReconciler of kind over c with backends, a
// fake recorder and the fake clock at t0, whose Secret scope is
// secretNamespaces.
func serverReconciler(c client.Client, kind oauthv1alpha1.ServerKind, backends *backend.Registry, secretNamespaces []string) *ServerReconciler {
	return &ServerReconciler{
		Client: c, APIReader: c, Scheme: c.Scheme(), Recorder: events.NewFakeRecorder(10), Clock: clocktesting.NewFakeClock(t0),
		Kind: kind, ClusterResourceNamespace: "clientreg-system", Backends: backends,
		secretScope: newSecretScope(secretNamespaces, "clientreg-system"),
	}
}

// reconcileServer reconciles server once with r.
func reconcileServer(r *ServerReconciler, server client.Object) (ctrl.Result, error) {
	return r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(server)})
}
