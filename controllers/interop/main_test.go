// Package interop tests the operator against real authorization servers
// written by others (node-oidc-provider, started by the tests on 127.0.0.1)
// on a real API server (envtest). Each test runs its own manager, so it can
// inject faults into the manager's HTTP transport and stop the manager
// mid-registration.
package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/internal/testutil/managertest"
	"github.com/clientreg/clientreg/registrar/dcr"
)

var (
	k8s        client.Client
	testScheme *runtime.Scheme
	restCfg    *rest.Config
)

const clusterNS = "clientreg-system"

func TestMain(m *testing.M) {
	os.Exit(testutil.Main(nil, []string{clusterNS}, nil, func(cfg *rest.Config, c client.Client) int {
		restCfg, k8s, testScheme = cfg, c, c.Scheme()
		return m.Run()
	}))
}

// manager is one running manager of a test.
type manager struct {
	clock  *clocktesting.FakeClock
	faults *faultTransport
	// apiWrites counts the manager's mutating requests to the API server;
	// eventWrites those among them that write Events.
	apiWrites, eventWrites atomic.Int64
	// writes counts writes by method, resource and status code (countWrite).
	writes sync.Map
	cancel context.CancelFunc
	// done is closed when the manager has stopped.
	done chan struct{}
}

// countWrite records a write by method, resource and outcome, as in
// "PATCH oauthclients/status 200".
func (m *manager) countWrite(r *http.Request, resp *http.Response) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	res := ""
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			res = strings.Join(parts[i+2:], "/")
		}
	}
	if f := strings.Split(res, "/"); len(f) == 3 {
		res = f[0] + "/" + f[2] // resource/name/subresource
	} else {
		res = f[0]
	}
	if res == "oauthclients/status" && r.GetBody != nil {
		// Status writes that only report a missing or unready server are
		// not part of registering.
		if body, err := r.GetBody(); err == nil {
			b, _ := io.ReadAll(body)
			_ = body.Close()
			if bytes.Contains(b, []byte(oauthv1alpha1.ReasonServerNotFound)) || bytes.Contains(b, []byte(oauthv1alpha1.ReasonServerNotReady)) {
				res += "(waiting for the server)"
			}
		}
	}
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	v, _ := m.writes.LoadOrStore(fmt.Sprintf("%s %s %d", r.Method, res, code), new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// writeCounts returns the writes counted so far by countWrite.
func (m *manager) writeCounts() map[string]int64 {
	out := map[string]int64{}
	m.writes.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// managerOption tweaks a test manager.
type managerOption func(*ctrl.Options, *controllers.Options)

// realClock runs the manager on the real clock instead of the fake one, for
// a peer that keeps real time (caches, token lifetimes).
func realClock(_ *ctrl.Options, o *controllers.Options) { o.Clock = clock.RealClock{} }

// startManager runs a manager until the test ends (or stop is called).
func startManager(t testing.TB, opts ...managerOption) *manager {
	t.Helper()
	m := &manager{clock: clocktesting.NewFakeClock(time.Now()), faults: newFaultTransport(), done: make(chan struct{})}
	cfg := rest.CopyConfig(restCfg)
	cfg.QPS, cfg.Burst = 500, 1000
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodGet {
				return rt.RoundTrip(r)
			}
			m.apiWrites.Add(1)
			if strings.Contains(r.URL.Path, "/events") {
				m.eventWrites.Add(1)
			}
			resp, err := rt.RoundTrip(r)
			m.countWrite(r, resp)
			return resp, err
		})
	})
	mopts := managertest.Options(testScheme, "0")
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
var eventually = testutil.Eventually

func newNamespace(t testing.TB) string {
	t.Helper()
	return testutil.NewNamespace(t, k8s)
}

// doJSON sends req with c and returns the status and the answer decoded as
// a JSON object (nil when it is not one); a failed request fails t.
func doJSON(t testing.TB, c *http.Client, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
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
	return testutil.GetSecret(t, k8s, ns, name)
}
