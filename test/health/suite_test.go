// Package health tests what tools outside the operator read from it: the
// Argo CD health script shipped in charts/clientreg/argocd (run with
// gopher-lua, the interpreter Argo CD embeds), kstatus (Flux, kpt) on the
// objects the real reconcilers write, and the operator's Prometheus series
// scraped from the manager's metrics endpoint.
package health

import (
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/internal/testutil/managertest"
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
	testScheme = testutil.Scheme()
	// Without KUBEBUILDER_ASSETS the fixture tests run.
	os.Exit(testutil.Main(nil, []string{clusterNS}, m.Run, func(cfg *rest.Config, c client.Client) int {
		restCfg, k8s = cfg, c
		return m.Run()
	}))
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
	stop := managertest.Start(t, restCfg, managertest.Options(testScheme, addr), controllers.Options{ClusterResourceNamespace: clusterNS})
	return &manager{metricsURL: "http://" + addr + "/metrics", stop: stop}
}

// newNamespace creates a namespace for the test; it skips the test without
// envtest.
func newNamespace(t *testing.T) string {
	t.Helper()
	needEnvtest(t)
	return testutil.NewNamespace(t, k8s)
}

func eventually(t *testing.T, f func() error) {
	t.Helper()
	testutil.Eventually(t, 60*time.Second, f)
}
