package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
)

// The documented outcomes (README, "What can go wrong during registration"):
// a request that certainly did not create a client (refused, 4xx, 5xx) is
// retried and leaves nothing behind; a result that cannot be stored is
// deleted at the server again; a manager that stops after the answer still
// stores it; only a request whose answer never arrives can leave one client
// at the server that the operator cannot see, and then the operator stops
// (RegistrationIncomplete) instead of registering again on its own.

func setup(t *testing.T, p *oidcprovider.Provider, opts ...managerOption) (*manager, string) {
	t.Helper()
	m := startManager(t, opts...)
	ns := newNamespace(t)
	srv := dynamicServer(ns, "idp", p, func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.DynamicRegistration.Timeout = &metav1.Duration{Duration: time.Second}
	})
	create(t, srv)
	waitServerReady(t, srv)
	return m, ns
}

func assertWorks(t *testing.T, p *oidcprovider.Provider, ns, secret string) {
	t.Helper()
	id, sec, _, _ := creds(t, ns, secret)
	if got := tokenStatus(t, p, id, sec); got != http.StatusOK {
		t.Fatalf("stored credentials do not work: token %d", got)
	}
}

func TestFaultServerErrorsAreRetried(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{})
	m, ns := setup(t, p)
	rule := m.faults.add(&faultRule{method: http.MethodPost, pathSuffix: "/reg", mode: faultStatus, status: http.StatusBadGateway, remaining: 3})
	create(t, serviceClient(ns, "app", "idp"))
	c := waitClient(t, ns, "app", 60*time.Second, ready)
	if rule.hits != 3 {
		t.Fatalf("fault applied %d times, want 3", rule.hits)
	}
	if n := len(p.Clients(t)); n != 1 {
		t.Fatalf("server has %d clients, want exactly 1", n)
	}
	if c.Status.PendingRegistration != nil {
		t.Fatal("in-flight mark left behind")
	}
	assertWorks(t, p, ns, "app-oauth")
}

func TestFaultReadErrorsKeepCredentials(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{})
	m, ns := setup(t, p)
	create(t, serviceClient(ns, "app", "idp"))
	c := waitClient(t, ns, "app", 30*time.Second, ready)
	id, sec, rat, rcu := creds(t, ns, "app-oauth")
	m.faults.add(&faultRule{method: http.MethodGet, pathSuffix: "/reg/" + id, mode: faultStatus, status: http.StatusInternalServerError, remaining: -1})
	m.clock.Step(2 * time.Minute) // past the resync interval
	patchClient(t, c, func(c *oauthv1alpha1.OAuthClient) { c.Annotations = map[string]string{"test.clientreg.dev/poke": "1"} })
	waitClient(t, ns, "app", 30*time.Second, readyFalse(oauthv1alpha1.ReasonServerUnavailable))
	if i, s, r, u := creds(t, ns, "app-oauth"); i != id || s != sec || r != rat || u != rcu {
		t.Fatal("a failing read changed the stored credentials")
	}
	m.faults.clear()
	waitClient(t, ns, "app", 60*time.Second, ready)
}

// incompleteRegistration registers the client app at a new provider through
// a manager whose first registration request meets mode, and returns once
// app reports the registration incomplete.
func incompleteRegistration(t *testing.T, mode faultMode) (*oidcprovider.Provider, string, *oauthv1alpha1.OAuthClient) {
	t.Helper()
	p := oidcprovider.Start(t, oidcprovider.Options{})
	m, ns := setup(t, p)
	m.faults.add(&faultRule{method: http.MethodPost, pathSuffix: "/reg", mode: mode, remaining: 1})
	create(t, serviceClient(ns, "app", "idp"))
	return p, ns, waitClient(t, ns, "app", 30*time.Second, readyFalse(oauthv1alpha1.ReasonRegistrationIncomplete))
}

func TestFaultTimeoutStopsInsteadOfRegisteringTwice(t *testing.T) {
	p, ns, c := incompleteRegistration(t, faultHang)
	pr := c.Status.PendingRegistration
	if pr == nil || pr.Endpoint != p.URL+"/reg" {
		t.Fatalf("the in-flight mark does not say what was sent: %+v", pr)
	}
	// It does not register again on its own.
	time.Sleep(2 * time.Second)
	if st := p.Stats(t); st.Register != 0 {
		t.Fatalf("registered %d times after an unanswered request", st.Register)
	}
	recoverRegistration(t, c, pr.ID)
	assertRecovered(t, p, ns, 1, "the hung request never reached it")
}

func TestFaultAnswerLostAfterCommit(t *testing.T) {
	p, ns, c := incompleteRegistration(t, faultDropAfterCommit)
	time.Sleep(2 * time.Second)
	if st := p.Stats(t); st.Register != 1 {
		t.Fatalf("%d registrations, want exactly the 1 whose answer was lost", st.Register)
	}
	if _, err := getSecretErr(ns, "app-oauth"); !apierrors.IsNotFound(err) {
		t.Fatal("a Secret exists although no answer arrived")
	}
	recoverRegistration(t, c, c.Status.PendingRegistration.ID)
	// Documented: at most one client per lost answer stays at the server.
	assertRecovered(t, p, ns, 2, "1 in use + 1 whose answer was lost")
}

// assertRecovered waits until the client app is Ready, and checks that the
// server holds want clients (why says which) and that app's credentials
// work.
func assertRecovered(t *testing.T, p *oidcprovider.Provider, ns string, want int, why string) {
	t.Helper()
	waitClient(t, ns, "app", 30*time.Second, ready)
	if n := len(p.Clients(t)); n != want {
		t.Fatalf("server has %d clients, want %d (%s)", n, want, why)
	}
	assertWorks(t, p, ns, "app-oauth")
}

func TestFaultManagerStopsBetweenRegistrationAndSecretWrite(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{})
	m1, ns := setup(t, p)
	fired := make(chan struct{})
	m1.faults.add(&faultRule{method: http.MethodPost, pathSuffix: "/reg", mode: faultHook, remaining: 1, hook: func() { close(fired); m1.cancel() }})
	create(t, serviceClient(ns, "app", "idp"))
	select {
	case <-fired:
	case <-time.After(60 * time.Second):
		c := &oauthv1alpha1.OAuthClient{}
		_ = k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "app"}, c)
		t.Fatalf("no registration was sent within 60s; client status: %+v", c.Status)
	}
	select {
	case <-m1.done:
	case <-time.After(60 * time.Second):
		t.Fatal("manager did not stop within 60s of its context ending")
	}
	// The answer that arrived while stopping was stored all the same.
	id, sec, rat, _ := creds(t, ns, "app-oauth")
	if id == "" || sec == "" || rat == "" {
		t.Fatal("credentials lost while the manager stopped")
	}
	startManager(t) // a new leader takes over
	waitClient(t, ns, "app", 30*time.Second, func(c *oauthv1alpha1.OAuthClient) error {
		if c.Status.PendingRegistration != nil {
			return errors.New("in-flight mark not resolved")
		}
		return ready(c)
	})
	if st := p.Stats(t); st.Register != 1 || len(p.Clients(t)) != 1 {
		t.Fatalf("registrations %d, clients %d: want 1 and 1", st.Register, len(p.Clients(t)))
	}
	assertWorks(t, p, ns, "app-oauth")
}

func TestFaultSecretWriteFailsRegistrationIsTakenBack(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{})
	var failures atomic.Int32
	failures.Store(4) // every in-process retry of the first write fails
	_, ns := setup(t, p, func(o *ctrl.Options, _ *controllers.Options) {
		o.NewClient = func(cfg *rest.Config, opts client.Options) (client.Client, error) {
			c, err := client.NewWithWatch(cfg, opts)
			if err != nil {
				return nil, err
			}
			return interceptor.NewClient(c, interceptor.Funcs{Create: func(ctx context.Context, w client.WithWatch, o client.Object, co ...client.CreateOption) error {
				if _, ok := o.(*corev1.Secret); ok && o.GetName() == "app-oauth" && failures.Add(-1) >= 0 {
					return apierrors.NewServiceUnavailable("injected: etcd is unhappy")
				}
				return w.Create(ctx, o, co...)
			}}), nil
		}
	})
	create(t, serviceClient(ns, "app", "idp"))
	waitClient(t, ns, "app", 60*time.Second, ready)
	st := p.Stats(t)
	if st.Register != 2 || st.Delete != 1 || len(p.Clients(t)) != 1 {
		t.Fatalf("want 2 registrations, 1 deletion (the unstorable one), 1 client; have %+v, %d clients", st, len(p.Clients(t)))
	}
	assertWorks(t, p, ns, "app-oauth")
}

// readyApp registers the client app at a new provider through a new
// manager and returns once it is Ready.
func readyApp(t *testing.T) (*oidcprovider.Provider, *manager, string, *oauthv1alpha1.OAuthClient) {
	t.Helper()
	p := oidcprovider.Start(t, oidcprovider.Options{})
	m, ns := setup(t, p)
	c := serviceClient(ns, "app", "idp")
	create(t, c)
	waitClient(t, ns, "app", 30*time.Second, ready)
	return p, m, ns, c
}

func TestFaultUnreachableServerDoesNotHoldDeletionHostage(t *testing.T) {
	p, m, ns, c := readyApp(t)
	m.faults.add(&faultRule{method: http.MethodDelete, pathSuffix: "", mode: faultStatus, status: http.StatusServiceUnavailable, remaining: -1})
	if err := k8s.Delete(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	// Retrying, and saying until when.
	c = waitClient(t, ns, "app", 30*time.Second, readyFalse(oauthv1alpha1.ReasonDeleting))
	if c.Status.DeletionDeadline == nil || !strings.Contains(meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady).Message,
		"giving up at "+c.Status.DeletionDeadline.UTC().Format(time.RFC3339)) {
		t.Fatalf("the condition does not say when deletion gives up: %+v", c.Status)
	}
	// The budget (1h on the manager's clock) runs out.
	m.clock.Step(2 * time.Hour)
	c = waitClient(t, ns, "app", 90*time.Second, readyFalse(oauthv1alpha1.ReasonDeletionBlocked))
	if msg := meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady).Message; !strings.Contains(msg, "gave up at") ||
		!strings.Contains(msg, oauthv1alpha1.AnnotationAbandonRegistration) {
		t.Fatalf("the blocked condition does not say how to let go: %s", msg)
	}
	patchClient(t, c, func(c *oauthv1alpha1.OAuthClient) {
		c.Annotations = map[string]string{oauthv1alpha1.AnnotationAbandonRegistration: "true"}
	})
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(c), c); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	if n := len(p.Clients(t)); n != 1 {
		t.Fatalf("the abandoned registration should stay at the server: %d clients", n)
	}
}

// An outage of the authorization server of a few seconds (the old budget of
// five attempts was spent in under a second) does not block deletion: the
// registration is deleted once the server answers again.
func TestFaultShortOutageDuringDeletionIsSurvived(t *testing.T) {
	p, m, _, c := readyApp(t)
	outage := m.faults.add(&faultRule{method: http.MethodDelete, mode: faultStatus, status: http.StatusServiceUnavailable, remaining: -1,
		until: time.Now().Add(3 * time.Second)})
	if err := k8s.Delete(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c, 60*time.Second)
	if outage.hits < 2 {
		t.Fatalf("the outage was hit %d times", outage.hits)
	}
	if n := len(p.Clients(t)); n != 0 {
		t.Fatalf("%d clients left at the server", n)
	}
}

// Deleting a client of a server whose certificate comes from a private CA
// (caBundle) uses that CA, kept with the credentials in the Secret, whether
// the server object is gone or not Ready.
func TestDeletionWithPrivateCAWithoutAReadyServer(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{})
	for _, tc := range []struct {
		name    string
		disrupt func(t *testing.T, srv *oauthv1alpha1.AuthorizationServer)
	}{
		{"server deleted", func(t *testing.T, srv *oauthv1alpha1.AuthorizationServer) {
			if err := k8s.Delete(context.Background(), srv); err != nil {
				t.Fatal(err)
			}
			eventually(t, 30*time.Second, func() error {
				if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(srv), srv); !apierrors.IsNotFound(err) {
					return fmt.Errorf("server still there: %v", err)
				}
				return nil
			})
		}},
		{"server not Ready", func(t *testing.T, srv *oauthv1alpha1.AuthorizationServer) {
			// Its issuer unreachable: the probe fails, the server is not Ready.
			if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(srv), srv); err != nil {
				t.Fatal(err)
			}
			srv.Spec.DynamicRegistration.IssuerURL = "https://127.0.0.1:1"
			if err := k8s.Update(context.Background(), srv); err != nil {
				t.Fatal(err)
			}
			eventually(t, 30*time.Second, func() error {
				if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(srv), srv); err != nil {
					return err
				}
				cond := meta.FindStatusCondition(srv.Status.Conditions, oauthv1alpha1.ConditionReady)
				if cond == nil || cond.Status != metav1.ConditionFalse || cond.ObservedGeneration != srv.Generation {
					return fmt.Errorf("server Ready %+v", cond)
				}
				return nil
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ns := setup(t, p)
			before := len(p.Clients(t))
			c := serviceClient(ns, "app", "idp")
			create(t, c)
			waitClient(t, ns, "app", 30*time.Second, ready)
			s, err := getSecretErr(ns, "app-oauth")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s.Data[oauthv1alpha1.KeyRegistrationCABundle], p.CAPEM) {
				t.Fatalf("the Secret does not keep the server's CA bundle: %q", s.Data[oauthv1alpha1.KeyRegistrationCABundle])
			}
			if got := len(p.Clients(t)); got != before+1 {
				t.Fatalf("%d clients at the server, want %d", got, before+1)
			}
			srv := &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "idp"}}
			tc.disrupt(t, srv)
			if err := k8s.Delete(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			waitGone(t, c, 60*time.Second)
			if got := len(p.Clients(t)); got != before {
				t.Fatalf("%d clients at the server after deletion, want %d: the registration was not deleted", got, before)
			}
		})
	}
}

// waitGone waits until obj no longer exists, and fails with its conditions.
func waitGone(t *testing.T, c *oauthv1alpha1.OAuthClient, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() error {
		got := &oauthv1alpha1.OAuthClient{}
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(c), got); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v): %+v", err, got.Status.Conditions)
		}
		return nil
	})
}

func recoverRegistration(t *testing.T, c *oauthv1alpha1.OAuthClient, id string) {
	t.Helper()
	patchClient(t, c, func(c *oauthv1alpha1.OAuthClient) {
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[oauthv1alpha1.AnnotationRecoverRegistration] = id
	})
}

func getSecretErr(ns, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	return s, k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s)
}
