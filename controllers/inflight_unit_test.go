package controllers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
)

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
	t.Run("no stored result: stop and do not register", func(t *testing.T) {
		h := newHarness(t, readyServer(), testClient(pending))
		h.be.ObserveFunc = observeStored(true, true)
		h.be.CreateFunc = registering(h, func() (*backend.Credentials, error) { return creds(h.clock.Now()), nil })
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
		h := newHarness(t, readyServer(), testClient(pending))
		h.be.ObserveFunc = observeStored(true, true)
		h.be.CreateFunc = registering(h, func() (*backend.Credentials, error) { return creds(h.clock.Now()), nil })
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
		h := newHarness(t, readyServer(), testClient(pending, func(c *oauthv1alpha1.OAuthClient) {
			c.Annotations = map[string]string{oauthv1alpha1.AnnotationRecoverRegistration: "a1b2"}
		}))
		h.be.ObserveFunc = observeStored(true, true)
		h.be.CreateFunc = registering(h, func() (*backend.Credentials, error) { return creds(h.clock.Now()), nil })
		if _, err := h.reconcile(t); err != nil {
			t.Fatal(err)
		}
		if h.be.Calls["Create"] != 1 || h.get(t).Status.PendingRegistration != nil {
			t.Fatal("recovery did not register once and clear the mark")
		}
	})
	t.Run("a recover annotation naming another attempt does not count", func(t *testing.T) {
		h := newHarness(t, readyServer(), testClient(pending, func(c *oauthv1alpha1.OAuthClient) {
			c.Annotations = map[string]string{oauthv1alpha1.AnnotationRecoverRegistration: "other"}
		}))
		h.be.ObserveFunc = observeStored(true, true)
		h.be.CreateFunc = registering(h, func() (*backend.Credentials, error) { return creds(h.clock.Now()), nil })
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

func ptrTo[T any](v T) *T { return &v }

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

var errInjected = apierrors.NewServiceUnavailable("injected")

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
