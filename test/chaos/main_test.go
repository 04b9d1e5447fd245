package chaos

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/clientreg/clientreg/internal/testutil"
)

var (
	env     *envtest.Environment
	k8s     client.Client
	restCfg *rest.Config
)

// clusterNS is the manager's --cluster-resource-namespace.
const clusterNS = "clientreg-system"

var seedFlag = flag.Int64("chaos.seed", 0, "seed of the kill matrix's schedule (0: CLIENTREG_CHAOS_SEED, else the time)")

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	// The API server is restarted during the test. envtest generates its
	// serving certificate into its certificate directory, and a directory
	// of its own choosing is removed on Stop, so a restart would serve a
	// certificate from a new CA that no kubeconfig written before trusts.
	// With a directory of ours the certificate, and the port, stay.
	certDir, err := os.MkdirTemp("", "clientreg-chaos-apiserver-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(certDir) }()
	env = testutil.Env()
	env.ControlPlane.APIServer = &envtest.APIServer{CertDir: certDir}
	// A graceful stop waits for the open watches (every manager's
	// informers) to end, which they never do by themselves: without a
	// bound, envtest's 20 s stop timeout passes and the API server is
	// killed. With it, it ends them after a second, as a rolling update
	// of a real control plane does.
	env.ControlPlane.APIServer.Configure().Set("shutdown-watch-termination-grace-period", "1s")
	return testutil.Main(env, []string{clusterNS}, nil, func(cfg *rest.Config, c client.Client) int {
		restCfg, k8s = cfg, c
		return m.Run()
	})
}

// config sizes one run of the kill matrix.
type config struct {
	seed              int64
	kills             int
	clients           int
	apiServerRestarts int
	// logDir, if set, keeps every manager's output.
	logDir string
}

// loadConfig reads the run's size from the environment and the seed from
// -chaos.seed, CLIENTREG_CHAOS_SEED or the clock.
func loadConfig(t *testing.T) config {
	t.Helper()
	c := config{
		kills:             testutil.EnvInt(t, "CLIENTREG_CHAOS_KILLS", 10),
		clients:           testutil.EnvInt(t, "CLIENTREG_CHAOS_CLIENTS", 100),
		apiServerRestarts: testutil.EnvInt(t, "CLIENTREG_CHAOS_APISERVER_RESTARTS", 1),
		logDir:            os.Getenv("CLIENTREG_CHAOS_LOGDIR"),
	}
	switch s := os.Getenv("CLIENTREG_CHAOS_SEED"); {
	case *seedFlag != 0:
		c.seed = *seedFlag
	case s != "":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("CLIENTREG_CHAOS_SEED=%q: %v", s, err)
		}
		c.seed = n
	default:
		c.seed = time.Now().UnixNano()
	}
	if c.kills < 1 || c.clients < 1 || c.apiServerRestarts < 0 {
		t.Fatalf("want at least 1 kill and 1 client and no negative restarts, have %+v", c)
	}
	if c.apiServerRestarts > c.kills {
		t.Fatalf("the API server is restarted during a manager's life: at most one restart per kill (%d kills, %d restarts)", c.kills, c.apiServerRestarts)
	}
	if c.logDir != "" {
		if err := os.MkdirAll(c.logDir, 0o755); err != nil {
			t.Fatalf("CLIENTREG_CHAOS_LOGDIR: %v", err)
		}
	}
	return c
}
