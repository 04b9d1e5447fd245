// Command demo runs clientreg end to end without a cluster. It starts a local
// control plane with envtest (a real kube-apiserver and etcd, from the
// directory in KUBEBUILDER_ASSETS), installs the CRDs from config/crd/bases,
// runs the manager in-process the way main.go does, applies every document of
// the samples directory, waits for the samples to become Ready, and shows what
// the operator produced: a status table, each OAuthClient's credentials Secret
// (client secret masked), and its client id decoded and verified with the
// server's keys and with the JWKS the server publishes in its status.
//
// Run it with `make demo`, which builds kube-apiserver and etcd into bin/ and
// sets KUBEBUILDER_ASSETS. It writes a kubeconfig for the control plane to
// bin/demo.kubeconfig (removed on exit); with --wait it keeps running until
// interrupted so the objects can be inspected with kubectl. It exits non-zero
// when a sample is not Ready in time or a client id does not verify.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
)

// clusterResourceNamespace holds the key Secrets of ClusterAuthorizationServers
// (the manager's --cluster-resource-namespace).
const clusterResourceNamespace = "clientreg-system"

type options struct {
	samplesDir     string
	crdDir         string
	kubeconfigPath string
	timeout        time.Duration
	wait           bool
	zap            zap.Options
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	o := &options{zap: zap.Options{Level: zapcore.ErrorLevel}}
	// Errors only by default, so the printed result stays readable;
	// --zap-log-level=info (or debug) shows what the reconcilers do.
	zap.ConsoleEncoder()(&o.zap)
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&o.samplesDir, "samples", "config/samples", "Directory of YAML files to apply (every document of every *.yaml / *.yml file).")
	fs.StringVar(&o.crdDir, "crds", filepath.Join("config", "crd", "bases"), "Directory of the CRDs to install.")
	fs.StringVar(&o.kubeconfigPath, "kubeconfig-out", filepath.Join("bin", "demo.kubeconfig"), "Where to write a kubeconfig for the local control plane (removed on exit).")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "How long to wait for the samples to become Ready.")
	fs.BoolVar(&o.wait, "wait", false, "Keep the control plane and the manager running until interrupted (Ctrl-C), for kubectl.")
	o.zap.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

func run(args []string, out io.Writer) (retErr error) {
	opts, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zap)))

	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set: it must name the directory holding kube-apiserver and etcd; run the demo with `make demo`, which builds them and sets it")
	}
	if st, err := os.Stat(opts.samplesDir); err != nil || !st.IsDir() {
		return fmt.Errorf("samples directory %q: not a readable directory (run from the repository root, or pass --samples)", opts.samplesDir)
	}
	samples, err := loadSamples(opts.samplesDir)
	if err != nil {
		return err
	}

	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	fmt.Fprintf(out, "Starting a local control plane (kube-apiserver and etcd from %s)...\n", assets)
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{opts.crdDir},
		ErrorIfCRDPathMissing: true,
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stopping the control plane:", err)
		}
	}()
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	fmt.Fprintf(out, "Control plane is up at %s; installed %d CRDs from %s.\n", cfg.Host, len(env.CRDs), opts.crdDir)

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("registering client-go types: %w", err)
	}
	if err := oauthv1alpha1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("registering clientreg types: %w", err)
	}
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	if err := ensureNamespace(ctx, k8s, clusterResourceNamespace); err != nil {
		return err
	}

	kubeconfig, err := writeKubeconfig(opts.kubeconfigPath, env.KubeConfig)
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(kubeconfig) }()
	fmt.Fprintf(out, "Kubeconfig for kubectl (valid while the demo runs; add --wait to keep it running):\n  export KUBECONFIG=%s\n", kubeconfig)

	mgrDone, stopManager, err := startManager(ctx, cfg, scheme)
	if err != nil {
		return err
	}
	defer stopManager()
	fmt.Fprintf(out, "Manager is running (cluster resource namespace %s).\n\n", clusterResourceNamespace)

	applied, err := applySamples(ctx, k8s, samples, out)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "\nWaiting up to %s for the samples to become Ready...\n", opts.timeout)
	waitErr := waitReady(ctx, k8s, applied, opts.timeout, mgrDone, out)
	if errors.Is(waitErr, context.Canceled) {
		return errors.New("interrupted")
	}
	var showErr error
	if waitErr == nil {
		showErr = show(ctx, k8s, applied, out)
	}
	result := errors.Join(waitErr, showErr)

	if opts.wait {
		fmt.Fprintf(out, "\nThe control plane and the manager keep running. In another shell:\n  export KUBECONFIG=%s\n  kubectl get clientreg -A\nPress Ctrl-C to stop.\n", kubeconfig)
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "\nStopping.")
		case err := <-mgrDone:
			result = errors.Join(result, fmt.Errorf("manager stopped: %w", err))
		}
	}
	return result
}

// startManager starts the manager as main.go builds it (same scheme, cache
// options and reconcilers), with metrics and probes off and no leader
// election. It returns a channel that receives the result of mgr.Start, and a
// function that stops the manager and waits for it.
func startManager(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (<-chan error, func(), error) {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		Cache:                  controllers.CacheOptions(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("creating manager: %w", err)
	}
	mgrCtx, cancel := context.WithCancel(ctx)
	if err := controllers.Setup(mgrCtx, mgr, controllers.Options{ClusterResourceNamespace: clusterResourceNamespace}); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("setting up controllers: %w", err)
	}
	result := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		err := mgr.Start(mgrCtx)
		if err == nil {
			err = errors.New("manager exited")
		}
		result <- err
	}()
	stop := func() {
		cancel()
		<-finished
	}
	return result, stop, nil
}

// ensureNamespace creates the namespace unless it exists.
func ensureNamespace(ctx context.Context, k8s client.Client, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// writeKubeconfig writes the control plane's kubeconfig (it holds an admin
// client key, hence 0600) and returns its absolute path.
func writeKubeconfig(path string, data []byte) (string, error) {
	if len(data) == 0 {
		return "", errors.New("envtest produced no kubeconfig")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return "", fmt.Errorf("creating directory for the kubeconfig: %w", err)
	}
	if err := os.WriteFile(abs, data, 0o600); err != nil {
		return "", fmt.Errorf("writing kubeconfig: %w", err)
	}
	return abs, nil
}
