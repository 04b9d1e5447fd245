// Command load measures the embedded registration endpoint (RFC 7591) under
// load, without a cluster. It starts a local control plane with envtest (a
// real kube-apiserver and etcd from the directory in KUBEBUILDER_ASSETS),
// installs the CRDs from config/crd/bases and runs the manager in-process, as
// main.go builds it (default reconcile workers), with the registration
// endpoint on a free 127.0.0.1 port over TLS (a throw-away CA and server
// certificate in a temporary directory).
//
// For each mode of --modes it creates a namespace and a stateless
// AuthorizationServer with spec.registrationEndpoint {open: true, storage:
// <mode>}, waits until it is Ready and publishes status.endpointIssuer, then
// sends the registrations with --concurrency goroutines over ONE keep-alive
// http.Client that trusts the CA:
//
//	POST {issuer}/register {"redirect_uris":["https://app<i>.example/cb"],"client_name":"load-<i>"}
//
// Every answer must be 201 with a client_id. Latency is measured per request
// (the client's view: TLS, HTTP, handler and, for Stateful, the whole store
// path); registrations/s is the count divided by the wall time from the first
// request to the last answer.
//
//   - stateless: nothing is stored; the handler mints a signed client id.
//   - stateful: each registration is an OAuthClient that the reconciler gives
//     a client id and a Secret; the answer waits until both exist.
//
// For the stateful mode it also measures, in the same run and with the same
// concurrency and client limits, what a plain controller-runtime client gets
// from the API server for the same objects, pointing at a server that does
// not exist, in other namespaces:
//
//   - pairs: an OAuthClient with the spec the endpoint would store (same
//     metadata after defaults, labels and annotation), then its Secret (the
//     keys, labels, annotations, owner reference and value sizes the
//     reconciler writes): the objects one registration stores. This is the
//     stated baseline.
//   - OAuthClient creates alone (the previous baseline, for comparison).
//   - the stored state: OAuthClient create, its status write (a JSON merge
//     patch, as the reconciler sends it), its Secret: what a registration
//     costs the API server at the least, since status cannot be created.
//
// Pairs and OAuthClients are measured twice: before the manager starts
// (nothing else talks to the API server) and right after the registrations
// (the manager then reacts to each raw OAuthClient with a status write); the
// stored state only before. The ratio is
//
//	ratio = stateful registrations/s ÷ max(raw pairs/s)
//
// It is a ratio of wall-clock rates measured a minute apart, so on a shared
// machine it moves with whatever else runs. The CPU ratio does not:
//
//	CPU ratio = CPU per raw pair ÷ CPU per registration
//
// (CPU of this process, kube-apiserver and etcd, from /proc/<pid>/stat).
// When the CPUs are the limit, as on a small machine where all three share
// them, it is the throughput ratio. Single-request costs (a status merge
// patch and a status update on the raw OAuthClients, an Event create) are
// printed too, to show where a registration's CPU goes.
//
// Memory is the peak resident set (VmHWM of /proc/self/status, reset before
// each mode through /proc/self/clear_refs where permitted) and the peak Go
// heap (runtime.ReadMemStats, sampled every 50ms). It is this process: the
// manager (informer caches of every OAuthClient and managed Secret, the
// endpoint) AND the load generator with its HTTP client; kube-apiserver and
// etcd run in their own processes and are not included. "mgr writes/reg" is
// the manager's mutating API requests per registration in that mode, "API
// req/reg" all of its requests (reads too), listed by verb, resource and wire
// format below the table; "CPU per registration" is the CPU time of this
// process, kube-apiserver and etcd divided by the registrations.
//
// Run it with `make load` (LOAD_FLAGS="--n 2000 --concurrency 32" passes
// flags). --json prints the results as JSON instead of a table;
// --cpuprofile cpu.pprof writes a CPU profile of each mode's registrations
// (cpu.stateless.pprof, cpu.stateful.pprof; go tool pprof);
// --apiserver-cpuprofile api.pprof one of kube-apiserver (api.stateful.pprof,
// and api.probe-status.pprof during the status write probe).
// It exits non-zero when any registration fails.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/clientreg/clientreg/hack/inprocess"
)

type options struct {
	n, nStateful, concurrency int
	modes                     []string
	json                      bool
	logLevel                  zapcore.Level
	cpuProfile                string
	apiProfile                string
	apiProfileSeconds         int
	crdDir                    string
}

var knownModes = []string{modeStateless, modeStateful}

const (
	modeStateless = "stateless"
	modeStateful  = "stateful"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, out io.Writer) (*options, error) {
	o := &options{logLevel: zapcore.ErrorLevel}
	var modes string
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&o.n, "n", 1000, "Registrations in the stateless mode.")
	fs.IntVar(&o.nStateful, "n-stateful", 300, "Registrations in the stateful mode (and raw creates it is compared with).")
	fs.IntVar(&o.concurrency, "concurrency", 16, "Concurrent requests (goroutines sharing one keep-alive HTTP client).")
	fs.StringVar(&modes, "modes", "stateless,stateful", "Comma-separated modes to run, in order: stateless, stateful.")
	fs.BoolVar(&o.json, "json", false, "Print machine-readable JSON instead of a table.")
	fs.TextVar(&o.logLevel, "log-level", zapcore.ErrorLevel, "Log level of the manager and the control plane helpers (debug, info, warn, error).")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "Write a CPU profile of each mode's registrations (this process only), to this path with the mode before the extension: cpu.pprof -> cpu.stateful.pprof.")
	fs.StringVar(&o.apiProfile, "apiserver-cpuprofile", "", "Write a CPU profile of kube-apiserver (its /debug/pprof/profile) taken while each mode registers, to this path with the mode before the extension.")
	fs.IntVar(&o.apiProfileSeconds, "apiserver-cpuprofile-seconds", 3, "Length of the kube-apiserver CPU profile; keep it shorter than a mode's registrations.")
	fs.StringVar(&o.crdDir, "crds", filepath.Join("config", "crd", "bases"), "Directory of the CRDs to install.")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.n < 1 || o.nStateful < 1 || o.concurrency < 1 {
		return nil, errors.New("--n, --n-stateful and --concurrency must be at least 1")
	}
	for m := range strings.SplitSeq(modes, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if !slices.Contains(knownModes, m) {
			return nil, fmt.Errorf("unknown mode %q in --modes (want %s)", m, strings.Join(knownModes, ", "))
		}
		o.modes = append(o.modes, m)
	}
	if len(o.modes) == 0 {
		return nil, errors.New("--modes names no mode")
	}
	return o, nil
}

func run(args []string, out io.Writer) error {
	opts, err := parseFlags(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger := zap.New(zap.Level(opts.logLevel), zap.ConsoleEncoder(), zap.WriteTo(os.Stderr))

	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set: it must name the directory holding kube-apiserver and etcd; run with `make load`, which builds them and sets it")
	}
	ctx, stopSignals := inprocess.SignalContext()
	defer stopSignals()

	h, err := newHarness(ctx, opts, logger, assets)
	if h != nil {
		defer h.close()
	}
	if err != nil {
		return err
	}
	results, err := h.runAll(ctx)
	if err != nil {
		return err
	}
	if opts.json {
		if err := printJSON(out, h.env(), results, h.costs); err != nil {
			return err
		}
	} else {
		printTable(out, h.env(), results, h.costs)
	}
	failed := 0
	for _, r := range results {
		failed += r.Errors
	}
	if failed > 0 {
		return fmt.Errorf("%d registrations failed", failed)
	}
	return nil
}
