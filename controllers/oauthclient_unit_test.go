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
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
)

// Unit tests of the OAuthClient reconciler's decisions, on a fake client, a
// fake backend and a fake clock.

// readyCond is the Ready condition of c, which must have one.
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
			h.reconcileThenDelete(t)
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
	h.reconcileThenDelete(t)
	return h
}

// reconcileThenDelete reconciles once, which must succeed, and deletes the
// OAuthClient (which its finalizer keeps).
func (h *harness) reconcileThenDelete(t *testing.T) {
	t.Helper()
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Delete(context.Background(), h.get(t)); err != nil {
		t.Fatal(err)
	}
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
	h.reconcileThenDelete(t)
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

// ---------------------------------------------------------------- in flight

// Every branch of the in-flight guard, on the fake backend: a "registering"
// backend calls BeforeRegister before its (pretend) request.

// registering returns a Create that calls BeforeRegister and then result.
func registering(h *harness, result func() (*backend.Credentials, error)) func(context.Context, *backend.Request) (*backend.Credentials, error) {
	return func(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
		if err := req.BeforeRegister(ctx, "https://idp.example/reg"); err != nil {
			return nil, err
		}
		return result()
	}
}

func TestInFlightGuard(t *testing.T) {
	uncertain := &backend.UncertainError{Err: errors.New("connection reset after the request was sent")}
	cases := []struct {
		name string
		// result of the registration
		result       func(h *harness) (*backend.Credentials, error)
		wantPending  bool
		wantReason   string
		wantSecret   bool
		wantDeletes  int
		failSecretOK bool // make every Secret create fail
		deleteErr    error
	}{
		{name: "registered and stored", result: func(h *harness) (*backend.Credentials, error) { return creds(h.clock.Now()), nil },
			wantReason: oauthv1alpha1.ReasonReady, wantSecret: true},
		{name: "refused (nothing created)", result: func(*harness) (*backend.Credentials, error) {
			return nil, backend.Permanent(oauthv1alpha1.ReasonRegistrationRejected, "invalid_client_metadata")
		}, wantReason: oauthv1alpha1.ReasonRegistrationRejected},
		{name: "transient (nothing created)", result: func(*harness) (*backend.Credentials, error) {
			return nil, backend.Transient(oauthv1alpha1.ReasonServerUnavailable, errors.New("502"))
		}, wantReason: oauthv1alpha1.ReasonServerUnavailable},
		{name: "uncertain keeps the mark", result: func(*harness) (*backend.Credentials, error) { return nil, uncertain },
			wantPending: true, wantReason: oauthv1alpha1.ReasonRegistrationIncomplete},
		{name: "unstorable result is deleted again", result: func(h *harness) (*backend.Credentials, error) { return creds(h.clock.Now()), nil },
			failSecretOK: true, wantDeletes: 1, wantReason: oauthv1alpha1.ReasonSecretWriteFailed},
		{name: "unstorable and undeletable keeps the mark", result: func(h *harness) (*backend.Credentials, error) { return creds(h.clock.Now()), nil },
			failSecretOK: true, deleteErr: errors.New("server down"), wantDeletes: 1, wantPending: true, wantReason: oauthv1alpha1.ReasonSecretWriteFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyServer(), testClient())
			if tc.failSecretOK {
				h.failSecretCreates = true
			}
			h.be.ObserveFunc = observeStored(true, true)
			h.be.CreateFunc = registering(h, func() (*backend.Credentials, error) { return tc.result(h) })
			h.be.DeleteFunc = func(context.Context, *backend.Request) error { return tc.deleteErr }
			_, _ = h.reconcile(t)
			c := h.get(t)
			if got := c.Status.PendingRegistration != nil; got != tc.wantPending {
				t.Fatalf("pending mark present=%v, want %v (%+v)", got, tc.wantPending, c.Status.PendingRegistration)
			}
			if cond := readyCond(t, c); cond.Reason != tc.wantReason {
				t.Fatalf("Ready reason %s (%s), want %s", cond.Reason, cond.Message, tc.wantReason)
			}
			err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "app-oauth"}, &corev1.Secret{})
			if (err == nil) != tc.wantSecret {
				t.Fatalf("Secret exists=%v, want %v", err == nil, tc.wantSecret)
			}
			if h.be.Calls["Delete"] != tc.wantDeletes {
				t.Fatalf("Delete called %d times, want %d", h.be.Calls["Delete"], tc.wantDeletes)
			}
		})
	}
}

func TestInFlightMarkFailsNothingIsSent(t *testing.T) {
	h := newHarness(t, readyServer(), testClient())
	h.failStatusPatches = true
	h.failObjectPatches = true // the mark is written with the finalizer
	sent := false
	h.be.ObserveFunc = observeStored(true, true)
	h.be.CreateFunc = registering(h, func() (*backend.Credentials, error) { sent = true; return creds(h.clock.Now()), nil })
	if _, err := h.reconcile(t); err == nil {
		t.Fatal("want an error when the mark cannot be written")
	}
	if sent {
		t.Fatal("a registration was sent although its in-flight mark was not stored")
	}
}

func TestPendingMarkFromAnEarlierAttempt(t *testing.T) {
	pending := func(c *oauthv1alpha1.OAuthClient) {
		c.Status.PendingRegistration = &oauthv1alpha1.PendingRegistration{ID: "a1b2", StartedAt: metav1.NewTime(t0), Endpoint: "https://idp.example/reg"}
	}
	// start is a harness for the client with the mark pending (and the
	// recover annotation naming recoverID unless it is empty), whose backend
	// registers when asked.
	start := func(t *testing.T, recoverID string) *harness {
		t.Helper()
		h := newHarness(t, readyServer(), testClient(pending, func(c *oauthv1alpha1.OAuthClient) {
			if recoverID != "" {
				c.Annotations = map[string]string{oauthv1alpha1.AnnotationRecoverRegistration: recoverID}
			}
		}))
		h.be.ObserveFunc = observeStored(true, true)
		h.be.CreateFunc = registering(h, func() (*backend.Credentials, error) { return creds(h.clock.Now()), nil })
		return h
	}
	t.Run("no stored result: stop and do not register", func(t *testing.T) {
		h := start(t, "")
		_, err := h.reconcile(t)
		if !errors.Is(err, reconcile.TerminalError(nil)) {
			t.Fatalf("want a terminal error, got %v", err)
		}
		c := h.get(t)
		cond := readyCond(t, c)
		if cond.Reason != oauthv1alpha1.ReasonRegistrationIncomplete || !strings.Contains(cond.Message, "a1b2") || !strings.Contains(cond.Message, oauthv1alpha1.AnnotationRecoverRegistration) {
			t.Fatalf("condition does not say what happened and how to recover: %+v", cond)
		}
		if h.be.Calls["Create"] != 0 {
			t.Fatal("registered again silently")
		}
	})
	t.Run("a mark only in a cache that is behind: wait, do not stop", func(t *testing.T) {
		// The cache still shows the mark of a registration the server
		// refused, whose clearing status write it has not seen yet.
		h := start(t, "")
		h.r.APIReader = newHarness(t, readyServer(), testClient()).c
		res, err := h.reconcile(t)
		if err != nil || res.RequeueAfter <= 0 || res.RequeueAfter > time.Second {
			t.Fatalf("want a short wait for the cache, got %v %v", res, err)
		}
		if cond := meta.FindStatusCondition(h.get(t).Status.Conditions, oauthv1alpha1.ConditionReady); cond != nil && cond.Reason == oauthv1alpha1.ReasonRegistrationIncomplete {
			t.Fatalf("stopped on a stale mark: %+v", cond)
		}
		if h.be.Calls["Create"] != 0 {
			t.Fatal("registered while the cache was behind")
		}
	})
	t.Run("recover annotation registers again", func(t *testing.T) {
		h := start(t, "a1b2")
		if _, err := h.reconcile(t); err != nil {
			t.Fatal(err)
		}
		if h.be.Calls["Create"] != 1 || h.get(t).Status.PendingRegistration != nil {
			t.Fatal("recovery did not register once and clear the mark")
		}
	})
	t.Run("a recover annotation naming another attempt does not count", func(t *testing.T) {
		h := start(t, "other")
		_, _ = h.reconcile(t)
		if h.be.Calls["Create"] != 0 {
			t.Fatal("registered with a recover annotation for another attempt")
		}
	})
	t.Run("result stored, status lost: mark cleared, nothing sent", func(t *testing.T) {
		h, cr := reconcileWithStoredAttempt(t, testClient(pending), "a1b2")
		got := h.get(t)
		if got.Status.PendingRegistration != nil || got.Status.ClientID != cr.ClientID || h.be.Calls["Create"] != 0 {
			t.Fatalf("status %+v, calls %v", got.Status, h.be.Calls)
		}
	})
}

// reconcileWithStoredAttempt reconciles c once its Secret holds the result
// of attempt id (the status write after it was lost), and returns the
// harness and the stored credentials.
func reconcileWithStoredAttempt(t *testing.T, c *oauthv1alpha1.OAuthClient, id string) (*harness, *backend.Credentials) {
	t.Helper()
	cr := creds(t0)
	cr.AttemptID = id
	h := newHarness(t, readyServer(), c)
	h.storeSecret(t, c, &storedState{current: cr})
	h.be.ObserveFunc = observeStored(true, true)
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	return h, cr
}

// A registration costs three API writes: the in-flight mark with the
// finalizer (one metadata patch), the Secret, the status. Events are not
// counted; there is one.
func TestRegistrationCostsThreeWrites(t *testing.T) {
	noFinalizer := func(c *oauthv1alpha1.OAuthClient) { c.Finalizers = nil }
	for _, tc := range []struct {
		name     string
		register bool // the backend sends a request (calls BeforeRegister)
	}{
		{name: "registered at a server", register: true},
		{name: "minted (nothing sent)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyServer(), testClient(noFinalizer))
			h.be.ObserveFunc = observeStored(true, true)
			h.be.CreateFunc = func(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
				if tc.register {
					if err := req.BeforeRegister(ctx, "https://idp.example/reg"); err != nil {
						return nil, err
					}
				}
				return creds(h.clock.Now()), nil
			}
			h.writes = 0
			if _, err := h.reconcile(t); err != nil {
				t.Fatal(err)
			}
			if h.writes != 3 {
				t.Fatalf("%d API writes for one registration, want 3", h.writes)
			}
			if n := len(h.rec.Events); n != 1 {
				t.Fatalf("%d Events for one registration, want 1", n)
			}
			c := h.get(t)
			if len(c.Finalizers) != 1 || c.Finalizers[0] != oauthv1alpha1.FinalizerOAuthClient {
				t.Fatalf("finalizers %v", c.Finalizers)
			}
			if readyCond(t, c).Reason != oauthv1alpha1.ReasonReady || c.UnresolvedRegistration() != nil || c.Status.PendingRegistration != nil {
				t.Fatalf("not Ready with nothing pending: %+v", c.Status)
			}
			mark := c.RegistrationAttempt()
			if !tc.register {
				if mark != nil {
					t.Fatalf("a mark although nothing was sent: %+v", mark)
				}
				return
			}
			if mark == nil || mark.Endpoint != "https://idp.example/reg" {
				t.Fatalf("in-flight mark %+v", mark)
			}
			if c.Status.ResolvedRegistrationAttempt != mark.ID || h.secret(t).Annotations[oauthv1alpha1.AnnotationAttemptID] != mark.ID {
				t.Fatalf("attempt %s not recorded as answered: status %q, Secret %q", mark.ID, c.Status.ResolvedRegistrationAttempt, h.secret(t).Annotations[oauthv1alpha1.AnnotationAttemptID])
			}
			// The next reconcile finds nothing to do and writes nothing.
			h.writes = 0
			if _, err := h.reconcile(t); err != nil {
				t.Fatal(err)
			}
			if h.writes != 0 || h.be.Calls["Create"] != 1 {
				t.Fatalf("second reconcile: %d writes, %d registrations", h.writes, h.be.Calls["Create"])
			}
		})
	}
}

// The in-flight mark stays on the object after it is answered; only a mark
// that neither the status nor the Secret names stops the client.
func TestAnnotationMark(t *testing.T) {
	mark := func(id string) func(*oauthv1alpha1.OAuthClient) {
		return func(c *oauthv1alpha1.OAuthClient) {
			if err := c.SetRegistrationAttempt(oauthv1alpha1.PendingRegistration{ID: id, StartedAt: metav1.NewTime(t0), Endpoint: "https://idp.example/reg"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("answered (a refusal recorded in status): registers", func(t *testing.T) {
		h := newHarness(t, readyServer(), testClient(mark("a1"), func(c *oauthv1alpha1.OAuthClient) { c.Status.ResolvedRegistrationAttempt = "a1" }))
		h.be.ObserveFunc = observeStored(true, true)
		h.be.CreateFunc = registering(h, func() (*backend.Credentials, error) { return creds(h.clock.Now()), nil })
		if _, err := h.reconcile(t); err != nil {
			t.Fatal(err)
		}
		c := h.get(t)
		if h.be.Calls["Create"] != 1 || readyCond(t, c).Reason != oauthv1alpha1.ReasonReady {
			t.Fatalf("calls %v, status %+v", h.be.Calls, c.Status)
		}
		if m := c.RegistrationAttempt(); m == nil || m.ID == "a1" || c.Status.ResolvedRegistrationAttempt != m.ID {
			t.Fatalf("the new attempt replaced no mark or is not recorded: mark %+v, resolved %q", m, c.Status.ResolvedRegistrationAttempt)
		}
	})
	t.Run("unanswered (killed between request and Secret): stops and shows it", func(t *testing.T) {
		h := newHarness(t, readyServer(), testClient(mark("b2")))
		h.be.ObserveFunc = observeStored(true, true)
		h.be.CreateFunc = registering(h, func() (*backend.Credentials, error) { return creds(h.clock.Now()), nil })
		if _, err := h.reconcile(t); !errors.Is(err, reconcile.TerminalError(nil)) {
			t.Fatalf("want a terminal error, got %v", err)
		}
		c := h.get(t)
		if cond := readyCond(t, c); cond.Reason != oauthv1alpha1.ReasonRegistrationIncomplete || !strings.Contains(cond.Message, "b2") {
			t.Fatalf("condition %+v", cond)
		}
		if pr := c.Status.PendingRegistration; pr == nil || pr.ID != "b2" || pr.Endpoint != "https://idp.example/reg" {
			t.Fatalf("status.pendingRegistration %+v", pr)
		}
		if h.be.Calls["Create"] != 0 {
			t.Fatal("registered again silently")
		}
	})
	t.Run("answered in the Secret only (status write lost): nothing sent", func(t *testing.T) {
		h, cr := reconcileWithStoredAttempt(t, testClient(mark("c3")), "c3")
		got := h.get(t)
		if got.Status.ResolvedRegistrationAttempt != "c3" || got.Status.ClientID != cr.ClientID || h.be.Calls["Create"] != 0 {
			t.Fatalf("status %+v, calls %v", got.Status, h.be.Calls)
		}
	})
	t.Run("a mark answered by a write the cache has not shown yet: wait", func(t *testing.T) {
		h := newHarness(t, readyServer(), testClient(mark("d4")))
		h.be.ObserveFunc = observeStored(true, true)
		h.be.CreateFunc = registering(h, func() (*backend.Credentials, error) { return creds(h.clock.Now()), nil })
		h.r.APIReader = newHarness(t, readyServer(), testClient(mark("d4"), func(c *oauthv1alpha1.OAuthClient) { c.Status.ResolvedRegistrationAttempt = "d4" })).c
		res, err := h.reconcile(t)
		if err != nil || res.RequeueAfter <= 0 || res.RequeueAfter > time.Second {
			t.Fatalf("want a short wait for the cache, got %v %v", res, err)
		}
		if h.be.Calls["Create"] != 0 || h.get(t).Status.PendingRegistration != nil {
			t.Fatalf("acted on a stale mark: calls %v", h.be.Calls)
		}
	})
	t.Run("a hand-edited mark is not taken for none", func(t *testing.T) {
		h := newHarness(t, readyServer(), testClient(func(c *oauthv1alpha1.OAuthClient) {
			c.Annotations = map[string]string{oauthv1alpha1.AnnotationRegistrationAttempt: "not json"}
		}))
		h.be.ObserveFunc = observeStored(true, true)
		h.be.CreateFunc = registering(h, func() (*backend.Credentials, error) { return creds(h.clock.Now()), nil })
		_, _ = h.reconcile(t)
		if h.be.Calls["Create"] != 0 || readyCond(t, h.get(t)).Reason != oauthv1alpha1.ReasonRegistrationIncomplete {
			t.Fatalf("calls %v, Ready %+v", h.be.Calls, readyCond(t, h.get(t)))
		}
	})
}

func TestOwnMarkDoesNotTriggerAReconcile(t *testing.T) {
	p := userAnnotationsChanged()
	old := testClient()
	marked := old.DeepCopy()
	if err := marked.SetRegistrationAttempt(oauthv1alpha1.PendingRegistration{ID: "x"}); err != nil {
		t.Fatal(err)
	}
	if p.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: marked}) {
		t.Fatal("the operator's own mark triggered a reconcile")
	}
	rotated := marked.DeepCopy()
	rotated.Annotations[oauthv1alpha1.AnnotationRotate] = "now"
	if !p.Update(event.UpdateEvent{ObjectOld: marked, ObjectNew: rotated}) {
		t.Fatal("a user's annotation did not trigger a reconcile")
	}
}

// A lost registration is recorded by an Event when it is found, and again
// when the object that was its only record is deleted.
func TestLostRegistrationIsRecordedBeforeTheObjectGoes(t *testing.T) {
	h := newHarness(t, readyServer(), testClient(func(c *oauthv1alpha1.OAuthClient) {
		if err := c.SetRegistrationAttempt(oauthv1alpha1.PendingRegistration{ID: "e5", StartedAt: metav1.NewTime(t0), Endpoint: "https://idp.example/reg"}); err != nil {
			t.Fatal(err)
		}
	}))
	h.be.ObserveFunc = observeStored(true, true)
	h.be.DeleteFunc = func(context.Context, *backend.Request) error { return nil }
	events := func() string {
		var all []string
		for len(h.rec.Events) > 0 {
			all = append(all, <-h.rec.Events)
		}
		return strings.Join(all, "\n")
	}
	_, _ = h.reconcile(t)
	if got := events(); !strings.Contains(got, "Warning RegistrationIncomplete") || !strings.Contains(got, "e5") {
		t.Fatalf("no Warning Event when the lost registration is found: %q", got)
	}
	_, _ = h.reconcile(t)
	if got := events(); got != "" {
		t.Fatalf("the Event is repeated on every reconcile: %q", got)
	}
	if err := h.c.Delete(context.Background(), h.get(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reconcile(t); err != nil || !h.gone(t) {
		t.Fatalf("deletion: %v, gone %v", err, h.gone(t))
	}
	if got := events(); !strings.Contains(got, "Warning RegistrationLeftAtServer") || !strings.Contains(got, "e5") || !strings.Contains(got, "https://idp.example/reg") {
		t.Fatalf("the deletion does not name the registration left at the server: %q", got)
	}
}

// A reconcile working from a copy of the object older than the controller's
// own last write to it does not send a write locked on that copy (the
// in-flight mark, or the finalizer before a minted client's Secret), which
// the API server would refuse (409): a refused write costs as much as a
// write. It waits for the cache, having read once, and reports nothing.
func TestMarkIsNotSentFromACopyOlderThanOurLastWrite(t *testing.T) {
	for _, tc := range []struct {
		name      string
		register  bool // the backend sends a request (the mark is the write)
		freshRV   func(cached string) string
		wantWrite bool
	}{
		{name: "the cache is behind our write", register: true, freshRV: func(string) string { return "newer" }},
		{name: "someone else wrote since (the cache is current)", register: true, freshRV: func(cached string) string { return cached }, wantWrite: true},
		{name: "minted: the cache is behind our write", freshRV: func(string) string { return "newer" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Our earlier status write (which wroteObject remembers) set
			// observedGeneration already.
			h := newHarness(t, readyServer(), testClient(func(c *oauthv1alpha1.OAuthClient) { c.Finalizers, c.Status.ObservedGeneration = nil, 1 }))
			h.be.ObserveFunc = observeStored(true, true)
			sent := 0
			h.be.CreateFunc = func(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
				if tc.register {
					if err := req.BeforeRegister(ctx, "https://idp.example/reg"); err != nil {
						return nil, err
					}
				}
				sent++
				return creds(h.clock.Now()), nil
			}
			cached := h.get(t)
			h.r.wroteObject.Store(client.ObjectKeyFromObject(cached), "what-we-wrote-last")
			fresh := cached.DeepCopy()
			fresh.ResourceVersion = tc.freshRV(cached.ResourceVersion)
			h.r.APIReader = readerOf{fresh}
			h.writes = 0
			res, err := h.reconcile(t)
			if tc.wantWrite {
				if err != nil || sent != 1 || h.writes != 3 {
					t.Fatalf("res %v err %v, registrations %d, writes %d", res, err, sent, h.writes)
				}
				return
			}
			if err != nil || res.RequeueAfter <= 0 || res.RequeueAfter > time.Second {
				t.Fatalf("want a short wait for the cache, got %v %v", res, err)
			}
			if h.writes != 0 || (tc.register && sent != 0) || len(h.rec.Events) != 0 {
				t.Fatalf("writes %d, registrations %d, events %d: want none", h.writes, sent, len(h.rec.Events))
			}
		})
	}
}

// readerOf answers every Get with its object.
type readerOf struct{ obj *oauthv1alpha1.OAuthClient }

func (r readerOf) Get(_ context.Context, _ client.ObjectKey, o client.Object, _ ...client.GetOption) error {
	r.obj.DeepCopyInto(o.(*oauthv1alpha1.OAuthClient))
	return nil
}

func (r readerOf) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("not implemented")
}

// ------------------------------------------------------------------ overlap

// A rotation during the overlap of an earlier one replaces a new client and
// deletes the oldest. When that delete fails, the new credentials are kept
// all the same (they were issued; losing them would orphan a client), and
// an Event names the client left at the server.
func TestRotationDuringAnOverlapKeepsTheNewCredentialsWhenTheOldestCannotBeDeleted(t *testing.T) {
	c := testClient(func(c *oauthv1alpha1.OAuthClient) {
		c.Annotations = map[string]string{oauthv1alpha1.AnnotationRotate: "r2"}
	})
	registered := func(id string) *backend.Credentials {
		return &backend.Credentials{ClientID: id, ClientSecret: "secret-" + id, RegistrationAccessToken: "rat-" + id,
			RegistrationClientURI: "https://idp.example/reg/" + id, Issuer: "https://idp.example", IssuedAt: t0, Digest: "d1"}
	}
	h := newHarness(t, readyServer(), c)
	h.storeSecret(t, c, &storedState{current: registered("c1"), previous: registered("p0"), retireAt: t0.Add(time.Hour), rotationSeen: "r1"})
	h.be.ObserveFunc = observeStored(true, true)
	h.be.RotateFunc = func(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
		if err := req.BeforeRegister(ctx, "https://idp.example/reg"); err != nil {
			return nil, err
		}
		return registered("c2"), nil
	}
	h.be.DeleteFunc = func(_ context.Context, req *backend.Request) error {
		return errors.New("server down while deleting " + req.Stored.ClientID)
	}
	_, _ = h.reconcile(t)

	got := h.secret(t)
	if id := string(got.Data["client_id"]); id != "c2" {
		t.Fatalf("Secret holds client %q, want the new c2", id)
	}
	if id := string(got.Data[oauthv1alpha1.PreviousKeyPrefix+"client_id"]); id != "c1" {
		t.Fatalf("Secret keeps previous client %q for the overlap, want c1", id)
	}
	obj := h.get(t)
	if obj.UnresolvedRegistration() != nil {
		t.Fatalf("the stored registration is not recorded as answered: %+v", obj.UnresolvedRegistration())
	}
	found := false
	for len(h.rec.Events) > 0 {
		if e := <-h.rec.Events; strings.Contains(e, "OrphanedRegistration") && strings.Contains(e, "p0") {
			found = true
		}
	}
	if !found {
		t.Fatal("no Event names the client left at the server")
	}
}
