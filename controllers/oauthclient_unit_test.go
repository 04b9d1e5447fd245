package controllers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
)

// Unit tests of the OAuthClient reconciler's decisions, on a fake client, a
// fake backend and a fake clock.

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

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

func newHarness(t *testing.T, objs ...client.Object) *harness {
	t.Helper()
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(oauthv1alpha1.AddToScheme(s))
	h := &harness{clock: clocktesting.NewFakeClock(t0), rec: events.NewFakeRecorder(100)}
	base := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithStatusSubresource(&oauthv1alpha1.OAuthClient{}, &oauthv1alpha1.AuthorizationServer{}).Build()
	count := func() { h.writes++ }
	h.c = interceptor.NewClient(base, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
			count()
			if _, ok := o.(*corev1.Secret); ok && h.failSecretCreates {
				return errInjected
			}
			return c.Create(ctx, o, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
			count()
			return c.Update(ctx, o, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
			count()
			if _, ok := o.(*oauthv1alpha1.OAuthClient); ok && h.failObjectPatches {
				return errInjected
			}
			return c.Patch(ctx, o, p, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.DeleteOption) error {
			count()
			return c.Delete(ctx, o, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			count()
			if h.failStatusPatches {
				return errInjected
			}
			return c.SubResource(sub).Patch(ctx, o, p, opts...)
		},
	})
	h.be = &backend.Fake{}
	h.r = &OAuthClientReconciler{
		Client: h.c, APIReader: h.c, Scheme: s, Recorder: h.rec, Clock: h.clock,
		Backends: new(backend.Registry).MustRegister(oauthv1alpha1.MemberStateless, h.be),
	}
	return h
}

func readyServer() *oauthv1alpha1.AuthorizationServer {
	return &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "idp", Generation: 1},
		Spec:       oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: "https://idp.example"}},
		Status: oauthv1alpha1.AuthorizationServerStatus{Conditions: []metav1.Condition{{
			Type: oauthv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready", ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(t0),
		}}},
	}
}

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

func creds(now time.Time) *backend.Credentials {
	counter++
	return &backend.Credentials{
		ClientID: "id-" + string(rune('a'+counter%26)) + now.Format("150405"), ClientSecret: "s3cret-value-" + now.Format("150405"),
		Issuer: "https://idp.example", IssuedAt: now, ExpiresAt: now.Add(90 * 24 * time.Hour), Digest: "d1",
	}
}

func (h *harness) reconcile(t *testing.T) (ctrl.Result, error) {
	t.Helper()
	return h.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Namespace: "ns", Name: "app"}})
}

func (h *harness) get(t *testing.T) *oauthv1alpha1.OAuthClient {
	t.Helper()
	c := &oauthv1alpha1.OAuthClient{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "app"}, c); err != nil {
		t.Fatal(err)
	}
	return c
}

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

func issue(h *harness) func(context.Context, *backend.Request) (*backend.Credentials, error) {
	return func(context.Context, *backend.Request) (*backend.Credentials, error) {
		return creds(h.clock.Now()), nil
	}
}

func readyCond(t *testing.T, c *oauthv1alpha1.OAuthClient) *metav1.Condition {
	t.Helper()
	cond := meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady)
	if cond == nil {
		t.Fatal("no Ready condition")
	}
	return cond
}

func TestReconcileIssuesThenIdles(t *testing.T) {
	h := newHarness(t, readyServer(), testClient())
	h.be.ObserveFunc = observeStored(true, true)
	h.be.CreateFunc = issue(h)
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if h.be.Calls["Create"] != 1 {
		t.Fatalf("Create called %d times", h.be.Calls["Create"])
	}
	c, s := h.get(t), h.secret(t)
	if !metav1.IsControlledBy(s, c) || string(s.Data["client_id"]) != c.Status.ClientID || len(s.Data["client_secret"]) == 0 {
		t.Fatalf("Secret not written as expected: %v", s)
	}
	if cond := readyCond(t, c); cond.Status != metav1.ConditionTrue || c.Status.ObservedGeneration != 1 {
		t.Fatalf("not Ready: %+v", cond)
	}
	if c.Status.ClientSecretExpiresAt == nil || c.Status.NextRotationTime == nil {
		t.Fatalf("expiry/renewal not in status: %+v", c.Status)
	}
	if got, want := s.Annotations[oauthv1alpha1.AnnotationNextRotation], c.Status.NextRotationTime.UTC().Format(time.RFC3339); got != want {
		t.Fatalf("Secret annotation %s = %q, want status.nextRotationTime %q", oauthv1alpha1.AnnotationNextRotation, got, want)
	}
	if !strings.Contains(<-h.rec.Events, "Registered") {
		t.Fatal("no Registered event")
	}

	// Second pass: stored credentials are current: no backend write, no API write.
	h.writes = 0
	res, err := h.reconcile(t)
	if err != nil {
		t.Fatal(err)
	}
	if h.writes != 0 || h.be.Calls["Create"] != 1 || h.be.Calls["Rotate"] != 0 || h.be.Calls["Update"] != 0 {
		t.Fatalf("idle reconcile wrote %d times / called %v", h.writes, h.be.Calls)
	}
	if res.RequeueAfter <= 0 {
		t.Fatal("no requeue for the next renewal")
	}
}

func TestReconcileDecisions(t *testing.T) {
	cases := []struct {
		name     string
		obs      func(h *harness) func(context.Context, *backend.Request) (backend.Observation, error)
		mutate   func(h *harness, c *oauthv1alpha1.OAuthClient)
		step     time.Duration
		want     string // the backend method called on the second reconcile, "" for none
		wantSeen string
	}{
		{name: "current", want: ""},
		{name: "metadata changed", want: "Update",
			obs: func(*harness) func(context.Context, *backend.Request) (backend.Observation, error) {
				return observeStored(true, false)
			}},
		{name: "stored credentials broken", want: "Rotate",
			obs: func(*harness) func(context.Context, *backend.Request) (backend.Observation, error) {
				return observeStored(false, false)
			}},
		{name: "rotation requested", want: "Rotate", wantSeen: "now",
			mutate: func(_ *harness, c *oauthv1alpha1.OAuthClient) {
				c.Annotations = map[string]string{oauthv1alpha1.AnnotationRotate: "now"}
			}},
		{name: "rotation interval elapsed", want: "Rotate", step: 25 * time.Hour,
			mutate: func(_ *harness, c *oauthv1alpha1.OAuthClient) {
				c.Spec.Rotation = &oauthv1alpha1.Rotation{Interval: &metav1.Duration{Duration: 24 * time.Hour}}
			}},
		{name: "rotation interval not yet", want: "", step: 23 * time.Hour,
			mutate: func(_ *harness, c *oauthv1alpha1.OAuthClient) {
				c.Spec.Rotation = &oauthv1alpha1.Rotation{Interval: &metav1.Duration{Duration: 24 * time.Hour}}
			}},
		{name: "renewal before expiry", want: "Rotate", step: 61 * 24 * time.Hour},
		{name: "not yet due for renewal", want: "", step: 59 * 24 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient()
			h := newHarness(t, readyServer(), c)
			h.be.ObserveFunc = observeStored(true, true)
			h.be.CreateFunc, h.be.UpdateFunc, h.be.RotateFunc = issue(h), issue(h), issue(h)
			if _, err := h.reconcile(t); err != nil {
				t.Fatal(err)
			}
			first := h.get(t).Status.ClientID
			if tc.obs != nil {
				h.be.ObserveFunc = tc.obs(h)
			}
			if tc.mutate != nil {
				c := h.get(t)
				tc.mutate(h, c)
				if err := h.c.Update(context.Background(), c); err != nil {
					t.Fatal(err)
				}
			}
			h.clock.Step(tc.step)
			h.be.Calls = nil
			if _, err := h.reconcile(t); err != nil {
				t.Fatal(err)
			}
			for _, m := range []string{"Create", "Update", "Rotate"} {
				want := 0
				if m == tc.want {
					want = 1
				}
				if h.be.Calls[m] != want {
					t.Fatalf("%s called %d times, want %d (calls %v)", m, h.be.Calls[m], want, h.be.Calls)
				}
			}
			got := h.get(t)
			if changed := got.Status.ClientID != first; changed != (tc.want != "") {
				t.Fatalf("client id changed=%v, want %v", changed, tc.want != "")
			}
			if string(h.secret(t).Data["client_id"]) != got.Status.ClientID {
				t.Fatal("Secret and status disagree")
			}
			if got.Status.ObservedRotationRequest != tc.wantSeen {
				t.Fatalf("observedRotationRequest = %q, want %q", got.Status.ObservedRotationRequest, tc.wantSeen)
			}
			if readyCond(t, got).Status != metav1.ConditionTrue {
				t.Fatal("not Ready")
			}
		})
	}
}

func TestReconcileErrorsAreClassified(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		wantReason string
		terminal   bool
		requeue    bool
	}{
		{"permanent", backend.Permanent(oauthv1alpha1.ReasonInvalidMetadata, "bad metadata"), oauthv1alpha1.ReasonInvalidMetadata, true, false},
		{"pending", &backend.PendingError{Reason: oauthv1alpha1.ReasonServerNotReady, Err: errors.New("wait"), RetryAfter: time.Second}, oauthv1alpha1.ReasonServerNotReady, false, true},
		{"transient", errors.New("connection refused"), oauthv1alpha1.ReasonReconciling, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyServer(), testClient())
			h.be.ObserveFunc = observeStored(true, true)
			h.be.CreateFunc = func(context.Context, *backend.Request) (*backend.Credentials, error) { return nil, tc.err }
			res, err := h.reconcile(t)
			switch {
			case tc.terminal && !errors.Is(err, reconcile.TerminalError(nil)):
				t.Fatalf("want a terminal error, got %v", err)
			case tc.requeue && (err != nil || res.RequeueAfter == 0):
				t.Fatalf("want a requeue without error, got %v %v", res, err)
			case !tc.terminal && !tc.requeue && err == nil:
				t.Fatal("want the error returned for backoff")
			}
			c := h.get(t)
			cond := readyCond(t, c)
			if cond.Status != metav1.ConditionFalse || cond.Reason != tc.wantReason {
				t.Fatalf("Ready = %s/%s, want False/%s", cond.Status, cond.Reason, tc.wantReason)
			}
			if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "app-oauth"}, &corev1.Secret{}); err == nil {
				t.Fatal("a Secret was written although nothing was issued")
			}
		})
	}
}

func TestReconcileWaitsForServer(t *testing.T) {
	notReady := readyServer()
	notReady.Status.Conditions[0].Status = metav1.ConditionFalse
	for name, objs := range map[string][]client.Object{
		oauthv1alpha1.ReasonServerNotFound: {testClient()},
		oauthv1alpha1.ReasonServerNotReady: {testClient(), notReady},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, objs...)
			if _, err := h.reconcile(t); err != nil {
				t.Fatal(err)
			}
			if cond := readyCond(t, h.get(t)); cond.Reason != name {
				t.Fatalf("reason %s, want %s", cond.Reason, name)
			}
			if len(h.be.Calls) != 0 {
				t.Fatalf("backend called while waiting: %v", h.be.Calls)
			}
		})
	}
}

func TestReconcileDeletion(t *testing.T) {
	for _, policy := range []oauthv1alpha1.DeletionPolicy{oauthv1alpha1.DeletionPolicyDelete, oauthv1alpha1.DeletionPolicyOrphan} {
		t.Run(string(policy), func(t *testing.T) {
			h := newHarness(t, readyServer(), testClient(func(c *oauthv1alpha1.OAuthClient) { c.Spec.DeletionPolicy = policy }))
			h.be.ObserveFunc = observeStored(true, true)
			h.be.CreateFunc = issue(h)
			h.be.DeleteFunc = func(context.Context, *backend.Request) error { return nil }
			if _, err := h.reconcile(t); err != nil {
				t.Fatal(err)
			}
			if err := h.c.Delete(context.Background(), h.get(t)); err != nil {
				t.Fatal(err)
			}
			if _, err := h.reconcile(t); err != nil {
				t.Fatal(err)
			}
			err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "app"}, &oauthv1alpha1.OAuthClient{})
			if err == nil {
				t.Fatal("finalizer not released")
			}
			s := &corev1.Secret{}
			serr := h.c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "app-oauth"}, s)
			switch policy {
			case oauthv1alpha1.DeletionPolicyDelete:
				if serr == nil || h.be.Calls["Delete"] != 1 {
					t.Fatalf("Secret kept (%v) or backend Delete not called (%v)", serr, h.be.Calls)
				}
			case oauthv1alpha1.DeletionPolicyOrphan:
				if serr != nil || len(s.OwnerReferences) != 0 || h.be.Calls["Delete"] != 0 {
					t.Fatalf("orphan: %v owners=%v calls=%v", serr, s.OwnerReferences, h.be.Calls)
				}
			}
		})
	}
}

func TestSecretWriterNeverAdoptsForeignSecrets(t *testing.T) {
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app-oauth"}, Data: map[string][]byte{"x": []byte("y")}}
	h := newHarness(t, readyServer(), testClient(), foreign)
	h.be.ObserveFunc = observeStored(true, true)
	h.be.CreateFunc = issue(h)
	res, err := h.reconcile(t)
	if err != nil || res.RequeueAfter != secretConflictRecheck {
		t.Fatalf("want a slow recheck, got %v %v", res, err)
	}
	if cond := readyCond(t, h.get(t)); cond.Reason != oauthv1alpha1.ReasonSecretConflict || cond.Status != metav1.ConditionFalse {
		t.Fatalf("Ready = %+v", cond)
	}
	s := h.secret(t)
	if len(s.Data) != 1 || string(s.Data["x"]) != "y" || len(s.OwnerReferences) != 0 {
		t.Fatal("foreign Secret modified")
	}
	if h.get(t).Status.ClientID != "" {
		t.Fatal("status claims credentials that were never stored")
	}
}

// A typed Secret (here a service account token) that someone pointed at the
// OAuthClient is not the operator's: it is never read as credentials, never
// written, and nothing is registered for it.
func TestSecretWriterNeverWritesTypedSecrets(t *testing.T) {
	c := testClient()
	token := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app-oauth",
			Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: oauthv1alpha1.GroupVersion.String(), Kind: "OAuthClient",
				Name: c.Name, UID: c.UID, Controller: ptrTo(true)}}},
		Type: corev1.SecretTypeServiceAccountToken,
		Data: map[string][]byte{"client_id": []byte("c1")},
	}
	h := newHarness(t, readyServer(), c, token)
	h.be.ObserveFunc = observeStored(true, true)
	h.be.CreateFunc = issue(h)
	res, err := h.reconcile(t)
	if err != nil || res.RequeueAfter != secretConflictRecheck {
		t.Fatalf("want a slow recheck, got %v %v", res, err)
	}
	if cond := readyCond(t, h.get(t)); cond.Reason != oauthv1alpha1.ReasonSecretConflict {
		t.Fatalf("Ready = %+v", cond)
	}
	if h.be.Calls["Create"]+h.be.Calls["Observe"] != 0 {
		t.Fatalf("the backend was asked: %v", h.be.Calls)
	}
	s := h.secret(t)
	if s.Type != corev1.SecretTypeServiceAccountToken || len(s.Data) != 1 || s.Labels[oauthv1alpha1.LabelManagedBy] != "" {
		t.Fatalf("the typed Secret was written: %+v", s)
	}
}

// Freshly issued credentials are looked at again when the backend says
// (CheckAfter), without observing them a second time in the same reconcile.
func TestReconcileRequeuesAtBackendCheckAfter(t *testing.T) {
	h := newHarness(t, readyServer(), testClient())
	h.be.ObserveFunc = observeStored(true, true)
	h.be.CreateFunc = func(context.Context, *backend.Request) (*backend.Credentials, error) {
		c := creds(h.clock.Now())
		c.CheckAfter = h.clock.Now().Add(10 * time.Minute)
		return c, nil
	}
	res, err := h.reconcile(t)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != 10*time.Minute {
		t.Fatalf("RequeueAfter = %s, want the backend's 10m", res.RequeueAfter)
	}
	if h.be.Calls["Observe"] != 1 {
		t.Fatalf("Observe called %d times in one reconcile, want 1", h.be.Calls["Observe"])
	}
}

// A registration made over the embedded endpoint gets no Normal "Registered"
// Event (one API write less per HTTP registration); its later rotations do.
func TestEndpointRegistrationsRaiseNoSuccessEvent(t *testing.T) {
	h := newHarness(t, readyServer(), testClient(func(c *oauthv1alpha1.OAuthClient) {
		c.Labels = map[string]string{oauthv1alpha1.LabelRegisteredVia: oauthv1alpha1.RegisteredViaEndpoint}
	}))
	h.be.ObserveFunc = observeStored(true, true)
	h.be.CreateFunc = func(context.Context, *backend.Request) (*backend.Credentials, error) {
		return creds(h.clock.Now()), nil
	}
	h.be.RotateFunc = h.be.CreateFunc
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if cond := readyCond(t, h.get(t)); cond.Status != metav1.ConditionTrue {
		t.Fatalf("not Ready: %+v", cond)
	}
	select {
	case e := <-h.rec.Events:
		t.Fatalf("event for an endpoint registration: %s", e)
	default:
	}

	c := h.get(t)
	c.Annotations = map[string]string{oauthv1alpha1.AnnotationRotate: "now"}
	if err := h.c.Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-h.rec.Events:
		if !strings.Contains(e, "Rotated") {
			t.Fatalf("event %q, want Rotated", e)
		}
	default:
		t.Fatal("no Rotated event for an endpoint registration's rotation")
	}
}

// deleteWith issues credentials for the test client, deletes the object and
// returns the harness with its backend's Delete set to del.
func deleteWith(t *testing.T, del func(context.Context, *backend.Request) error) *harness {
	t.Helper()
	h := newHarness(t, readyServer(), testClient())
	h.be.ObserveFunc = observeStored(true, true)
	h.be.CreateFunc = issue(h)
	h.be.DeleteFunc = del
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Delete(context.Background(), h.get(t)); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) gone(t *testing.T) bool {
	t.Helper()
	err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "app"}, &oauthv1alpha1.OAuthClient{})
	return err != nil
}

// Deletion at an unreachable server is retried with capped exponential
// backoff (1s, 2s, 4s, ... 2m) for the deletion budget (1h by default) from
// the first failure; the condition says when it gives up; then the client is
// DeletionBlocked (Stalled) and the message says how to let go, with no
// "attempt N of M" that N can exceed.
func TestDeletionRetriesWithBackoffUntilTheBudgetIsSpent(t *testing.T) {
	h := deleteWith(t, func(context.Context, *backend.Request) error {
		return backend.Transient(oauthv1alpha1.ReasonServerUnavailable, errors.New("dial tcp 127.0.0.1:1: connection refused"))
	})
	start := h.clock.Now()
	var waits []time.Duration
	for i := 0; ; i++ {
		if i > 200 {
			t.Fatal("deletion never gave up")
		}
		res, err := h.reconcile(t)
		c := h.get(t)
		cond := readyCond(t, c)
		if err != nil {
			if !errors.Is(err, reconcile.TerminalError(nil)) {
				t.Fatalf("want a terminal error once the budget is spent, got %v", err)
			}
			if cond.Reason != oauthv1alpha1.ReasonDeletionBlocked || !meta.IsStatusConditionTrue(c.Status.Conditions, oauthv1alpha1.ConditionStalled) {
				t.Fatalf("blocked: Ready %+v", cond)
			}
			for _, want := range []string{"gave up at " + start.Add(time.Hour).UTC().Format(time.RFC3339), oauthv1alpha1.AnnotationAbandonRegistration + "=true", "connection refused"} {
				if !strings.Contains(cond.Message, want) {
					t.Errorf("the blocked message lacks %q: %s", want, cond.Message)
				}
			}
			break
		}
		if cond.Reason != oauthv1alpha1.ReasonDeleting || meta.IsStatusConditionTrue(c.Status.Conditions, oauthv1alpha1.ConditionStalled) {
			t.Fatalf("attempt %d: Ready %+v", i+1, cond)
		}
		if want := "giving up at " + start.Add(time.Hour).UTC().Format(time.RFC3339); !strings.Contains(cond.Message, want) {
			t.Fatalf("the message does not say when it gives up (%q): %s", want, cond.Message)
		}
		if int(c.Status.DeletionAttempts) != i+1 || strings.Contains(cond.Message, " of ") {
			t.Fatalf("attempt %d: status says %d: %s", i+1, c.Status.DeletionAttempts, cond.Message)
		}
		waits = append(waits, res.RequeueAfter)
		h.clock.Step(res.RequeueAfter)
	}
	if len(waits) < 7 || waits[0] != time.Second || waits[1] != 2*time.Second || waits[6] != 64*time.Second {
		t.Fatalf("backoff %v", waits)
	}
	for _, w := range waits {
		if w > 2*time.Minute || w <= 0 {
			t.Fatalf("a pause outside (0, 2m]: %v", waits)
		}
	}
	if spent := h.clock.Since(start); spent != time.Hour {
		t.Fatalf("gave up after %s, want the whole 1h budget (the last attempt at its end)", spent)
	}

	// Later: an annotation change makes one more attempt, which succeeds.
	h.be.DeleteFunc = func(context.Context, *backend.Request) error { return nil }
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if !h.gone(t) {
		t.Fatal("finalizer not released after a successful attempt")
	}
}

// A 15-minute outage of the authorization server is survived without help.
func TestDeletionSurvivesAFifteenMinuteOutage(t *testing.T) {
	var h *harness
	var outageEnds time.Time
	h = deleteWith(t, func(context.Context, *backend.Request) error {
		if h.clock.Now().Before(outageEnds) {
			return backend.Transient(oauthv1alpha1.ReasonServerUnavailable, errors.New("503 Service Unavailable"))
		}
		return nil
	})
	outageEnds = h.clock.Now().Add(15 * time.Minute)
	for i := 0; !h.gone(t); i++ {
		if i > 100 {
			t.Fatal("never deleted")
		}
		res, err := h.reconcile(t)
		if err != nil {
			t.Fatalf("attempt %d: %v (Ready %+v)", i+1, err, readyCond(t, h.get(t)))
		}
		h.clock.Step(res.RequeueAfter)
	}
	if late := h.clock.Now().Sub(outageEnds); late > deletionBackoffCap {
		t.Fatalf("deleted %s after the server came back", late)
	}
}

// orphanedFor adopts only what a re-created client can go on with: the same
// name and server, an Opaque managed Secret nobody controls, and credentials
// under the client's own Secret keys.
func TestOrphanedFor(t *testing.T) {
	kept := func(mod func(*corev1.Secret)) *corev1.Secret {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app-oauth",
				Labels:      map[string]string{oauthv1alpha1.LabelManagedBy: oauthv1alpha1.ManagedByValue},
				Annotations: map[string]string{oauthv1alpha1.AnnotationOrphanedFrom: "app/AuthorizationServer/idp"}},
			Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{"client_id": []byte("c1"), "client_secret": []byte("s"),
				"registration_access_token": []byte("rat"), "registration_client_uri": []byte("https://idp.example/reg/c1")},
		}
		if mod != nil {
			mod(s)
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		secret *corev1.Secret
		client *oauthv1alpha1.OAuthClient
		want   bool
	}{
		{"same name and server", kept(nil), testClient(), true},
		{"another server", kept(nil), testClient(func(c *oauthv1alpha1.OAuthClient) { c.Spec.ServerRef.Name = "idp2" }), false},
		{"a cluster server of that name", kept(nil), testClient(func(c *oauthv1alpha1.OAuthClient) {
			c.Spec.ServerRef.Kind = oauthv1alpha1.KindClusterAuthorizationServer
		}), false},
		{"another name", kept(nil), testClient(func(c *oauthv1alpha1.OAuthClient) { c.Name = "other" }), false},
		{"other Secret keys", kept(nil), testClient(func(c *oauthv1alpha1.OAuthClient) {
			c.Spec.SecretTemplate = &oauthv1alpha1.SecretTemplate{Keys: &oauthv1alpha1.SecretKeys{ClientID: "id"}}
		}), false},
		{"a registration URI without its token", kept(func(s *corev1.Secret) { delete(s.Data, "registration_access_token") }), testClient(), false},
		{"no annotation (orphaned by an older operator)", kept(func(s *corev1.Secret) { s.Annotations = nil }), testClient(), false},
		{"controlled by someone", kept(func(s *corev1.Secret) {
			s.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "u", Controller: ptrTo(true)}}
		}), testClient(), false},
		{"typed", kept(func(s *corev1.Secret) { s.Type = corev1.SecretTypeBasicAuth }), testClient(), false},
		{"not managed", kept(func(s *corev1.Secret) { s.Labels = nil }), testClient(), false},
	} {
		if got := orphanedFor(tc.secret, tc.client); got != tc.want {
			t.Errorf("%s: orphanedFor = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A stored registration at a remote server (a registration_client_uri) is
// deleted there by the dynamic backend whatever the server object says now:
// here it was made again as a stateless server, whose backend keeps nothing.
func TestDeletionUsesTheStoredRegistration(t *testing.T) {
	h := newHarness(t, readyServer(), testClient())
	h.be.ObserveFunc = observeStored(true, true)
	h.be.CreateFunc = func(context.Context, *backend.Request) (*backend.Credentials, error) {
		c := creds(h.clock.Now())
		c.RegistrationClientURI, c.RegistrationAccessToken = "https://idp.example/reg/c1", "rat"
		return c, nil
	}
	h.be.DeleteFunc = func(context.Context, *backend.Request) error { return nil }
	remote := &backend.Fake{}
	var deleted string
	remote.DeleteFunc = func(_ context.Context, req *backend.Request) error {
		deleted = req.Stored.RegistrationClientURI
		return nil
	}
	remote.KeepsFunc = func(c *backend.Credentials) bool { return c.RegistrationClientURI != "" } // as the dynamic backend's
	h.r.Backends.MustRegister(oauthv1alpha1.MemberDynamicRegistration, remote)
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Delete(context.Background(), h.get(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if deleted != "https://idp.example/reg/c1" || h.be.Calls["Delete"] != 0 || !h.gone(t) {
		t.Fatalf("deleted at %q, stateless Delete calls %d, gone %v", deleted, h.be.Calls["Delete"], h.gone(t))
	}
}

// spec.adoptFrom never takes over a typed Secret (here a service account
// token that happens to hold registration keys): AdoptionFailed, untouched.
func TestAdoptFromRefusesTypedSecrets(t *testing.T) {
	token := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "legacy-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}},
		Type:       corev1.SecretTypeServiceAccountToken,
		Data: map[string][]byte{"client_id": []byte("c1"), "registration_access_token": []byte("rat"),
			"registration_client_uri": []byte("https://idp.example/reg/c1")},
	}
	h := newHarness(t, readyServer(), testClient(func(c *oauthv1alpha1.OAuthClient) {
		c.Spec.AdoptFrom = &oauthv1alpha1.AdoptFrom{SecretName: "legacy-token"}
	}), token)
	h.be.ObserveFunc = observeStored(true, true)
	h.be.CreateFunc = issue(h)
	_, _ = h.reconcile(t)
	if cond := readyCond(t, h.get(t)); cond.Reason != oauthv1alpha1.ReasonAdoptionFailed || !strings.Contains(cond.Message, "Opaque") {
		t.Fatalf("Ready = %+v", cond)
	}
	s := &corev1.Secret{}
	if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(token), s); err != nil {
		t.Fatal(err)
	}
	if len(s.OwnerReferences) != 0 || s.Labels[oauthv1alpha1.LabelManagedBy] != "" || h.be.Calls["Create"]+h.be.Calls["Observe"] != 0 {
		t.Fatalf("the typed Secret was taken over (%+v) or the backend asked (%v)", s.ObjectMeta, h.be.Calls)
	}
}
