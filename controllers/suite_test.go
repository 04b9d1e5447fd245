package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/internal/testutil"
)

// The suite runs one real kube-apiserver and etcd (envtest, built by
// hack/build-test-binaries.sh) and one manager for every test in the package.
var (
	k8s          client.Client // direct, uncached client for assertions
	testScheme   *runtime.Scheme
	fakeClock    *clocktesting.FakeClock
	managerWrite atomic.Int64 // mutating requests the manager sent to the API server
	restCfg      *rest.Config
)

const clusterNS = "clientreg-system"

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	fakeClock = clocktesting.NewFakeClock(time.Now())
	mgrCfg := rest.CopyConfig(cfg)
	mgrCfg.QPS, mgrCfg.Burst = 500, 1000
	mgrCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt} })
	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{
		Scheme:                 testScheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{ClusterResourceNamespace: clusterNS, Clock: fakeClock, MaxConcurrentReconciles: 8}); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
	}
	return code
}

// countingTransport counts the manager's mutating requests.
type countingTransport struct{ rt http.RoundTripper }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		managerWrite.Add(1)
	}
	return c.rt.RoundTrip(r)
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	testutil.Eventually(t, timeout, f)
}

// newNamespace creates a namespace unique to the test.
func newNamespace(t testing.TB) string {
	t.Helper()
	return testutil.NewNamespace(t, k8s)
}
