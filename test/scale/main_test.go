package scale

import (
	"flag"
	"os"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/clientreg/clientreg/internal/testutil"
)

var (
	// restCfg and k8s are the shared API server; nil when no benchmark
	// runs (the benchmarks then skip).
	restCfg *rest.Config
	k8s     client.Client
)

// clusterNS is the manager's --cluster-resource-namespace.
const clusterNS = "clientreg-system"

func TestMain(m *testing.M) { os.Exit(run(m)) }

// run starts envtest only when benchmarks were asked for (-test.bench): the
// unit tests of this package need no API server, and `make test` runs them
// without paying for one.
func run(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		return m.Run()
	}
	// Without KUBEBUILDER_ASSETS the benchmarks skip.
	return testutil.Main(nil, []string{clusterNS}, m.Run, func(cfg *rest.Config, c client.Client) int {
		restCfg, k8s = cfg, c
		return m.Run()
	})
}
