// Package interop tests the operator against real authorization servers
// written by others (node-oidc-provider, started by the tests on 127.0.0.1)
// on a real API server (envtest). Each test runs its own manager, so it can
// inject faults into the manager's HTTP transport and stop the manager
// mid-registration.
package interop

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/controllers/testutil"
	"github.com/clientreg/clientreg/registrar/dcr"
)

var (
	k8s        client.Client
	testScheme *runtime.Scheme
	restCfg    *rest.Config
)

const clusterNS = "clientreg-system"

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if ok, code := testutil.RequireAssets(); !ok {
		return code
	}
	testutil.SetLogger()
	env := &envtest.Environment{CRDDirectoryPaths: testutil.CRDPaths(), ErrorIfCRDPathMissing: true}
	cfg, c, err := testutil.StartEnv(env, clusterNS)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	restCfg, k8s, testScheme = cfg, c, c.Scheme()
	return m.Run()
}

// manager is one running manager of a test.
type manager struct {
	clock  *clocktesting.FakeClock
	faults *faultTransport
	// apiWrites counts the manager's mutating requests to the API server;
	// eventWrites those among them that write Events.
	apiWrites, eventWrites atomic.Int64
	cancel                 context.CancelFunc
	// done is closed when the manager has stopped.
	done chan struct{}
}

// managerOption tweaks a test manager.
type managerOption func(*ctrl.Options, *controllers.Options)

// startManager runs a manager until the test ends (or stop is called).
func startManager(t testing.TB, opts ...managerOption) *manager {
	t.Helper()
	m := &manager{clock: clocktesting.NewFakeClock(time.Now()), faults: newFaultTransport(), done: make(chan struct{})}
	cfg := rest.CopyConfig(restCfg)
	cfg.QPS, cfg.Burst = 500, 1000
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet {
				m.apiWrites.Add(1)
				if strings.Contains(r.URL.Path, "/events") {
					m.eventWrites.Add(1)
				}
			}
			return rt.RoundTrip(r)
		})
	})
	mopts := ctrl.Options{
		Scheme:                 testScheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
		// One manager per test in this process: their controllers share names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	copts := controllers.Options{
		ClusterResourceNamespace: clusterNS,
		Clock:                    m.clock,
		MaxConcurrentReconciles:  8,
		NewRegistrar: func(c dcr.Config) (dcr.Registrar, error) {
			c.HTTPClient = m.faults.client(c)
			return dcr.NewClient(c)
		},
	}
	for _, o := range opts {
		o(&mopts, &copts)
	}
	mgr, err := ctrl.NewManager(cfg, mopts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	if err := controllers.Setup(ctx, mgr, copts); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(m.done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(m.stop)
	return m
}

// stop stops the manager and waits for it (idempotent).
func (m *manager) stop() {
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// eventually retries f until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	testutil.Eventually(t, timeout, f)
}

func newNamespace(t testing.TB) string {
	t.Helper()
	return testutil.NewNamespace(t, k8s)
}

func create(t testing.TB, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitClient waits until check accepts the OAuthClient and returns it.
func waitClient(t testing.TB, ns, name string, timeout time.Duration, check func(*oauthv1alpha1.OAuthClient) error) *oauthv1alpha1.OAuthClient {
	t.Helper()
	c := &oauthv1alpha1.OAuthClient{}
	eventually(t, timeout, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, c); err != nil {
			return err
		}
		return check(c)
	})
	return c
}

// ready accepts a client that is Ready at its generation.
func ready(c *oauthv1alpha1.OAuthClient) error {
	cond := meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady)
	if cond == nil || cond.Status != metav1.ConditionTrue || c.Status.ObservedGeneration != c.Generation {
		return fmt.Errorf("not Ready: %+v", cond)
	}
	return nil
}

// readyFalse accepts a client whose Ready is False with reason.
func readyFalse(reason string) func(*oauthv1alpha1.OAuthClient) error {
	return func(c *oauthv1alpha1.OAuthClient) error {
		cond := meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady)
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != reason {
			return fmt.Errorf("want Ready=False %s, have %+v", reason, cond)
		}
		return nil
	}
}

func getSecret(t testing.TB, ns, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatalf("reading Secret %s/%s: %v", ns, name, err)
	}
	return s
}
