// Package health tests what tools outside the operator read from it: the
// Argo CD health script shipped in charts/clientreg/argocd (run with
// gopher-lua, the interpreter Argo CD embeds), kstatus (Flux, kpt) on the
// objects the real reconcilers write, and the operator's Prometheus series
// scraped from the manager's metrics endpoint.
package health

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/controllers/testutil"
)

var (
	// restCfg and k8s are nil when KUBEBUILDER_ASSETS is not set: the
	// envtest tests skip, the fixture tests still run.
	restCfg    *rest.Config
	k8s        client.Client
	testScheme *runtime.Scheme
)

const clusterNS = "clientreg-system"

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	testScheme = testutil.Scheme()
	if ok, code := testutil.RequireAssets(); !ok {
		if code != 0 {
			return code
		}
		return m.Run() // the fixture tests
	}
	testutil.SetLogger()
	env := &envtest.Environment{CRDDirectoryPaths: testutil.CRDPaths(), ErrorIfCRDPathMissing: true}
	cfg, c, err := testutil.StartEnv(env, clusterNS)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	restCfg, k8s = cfg, c
	return m.Run()
}

func needEnvtest(t *testing.T) {
	t.Helper()
	if restCfg == nil {
		t.Skip("KUBEBUILDER_ASSETS not set; run `make test`")
	}
}

// manager is a running manager with its metrics endpoint.
type manager struct {
	metricsURL string
	stop       func()
}

// startManager starts a manager with every reconciler (controllers.Setup,
// so the operator's metrics land in controller-runtime's registry) and its
// metrics server on a free port of 127.0.0.1. It stops at the end of the
// test, or earlier through stop.
func startManager(t *testing.T) *manager {
	t.Helper()
	addr := testutil.FreeAddr(t)
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 testScheme,
		Metrics:                metricsserver.Options{BindAddress: addr},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
		// Tests start a manager more than once in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controllers.Setup(ctx, mgr, controllers.Options{ClusterResourceNamespace: clusterNS}); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("manager did not stop within 60s")
		}
	}
	t.Cleanup(stop)
	return &manager{metricsURL: "http://" + addr + "/metrics", stop: stop}
}

func newNamespace(t *testing.T) string {
	t.Helper()
	return testutil.NewNamespace(t, k8s)
}

func eventually(t *testing.T, f func() error) {
	t.Helper()
	testutil.Eventually(t, 60*time.Second, f)
}
