// Command demo runs clientreg end to end without a cluster, showing the
// three parts of the product:
//
//  1. stateless client ids: the samples of config/samples, each
//     OAuthClient's Secret (masked) and its client id decoded and verified
//     with the server's keys and the JWKS it publishes;
//  2. dynamic registration (RFC 7591 / RFC 7592) at a real authorization
//     server the demo starts: the pinned node-oidc-provider of hack/interop
//     on 127.0.0.1 over TLS, with the samples of hack/demo/samples;
//  3. the embedded registration endpoint, served over HTTPS with a
//     certificate the demo generates: one live registration, and a curl
//     command to make another;
//
// and finally an access token obtained with the credentials from a Secret.
//
// It starts a local control plane with envtest (a real kube-apiserver and
// etcd, from the directory in KUBEBUILDER_ASSETS), installs the CRDs from
// config/crd/bases, runs the manager in-process the way main.go does, and
// applies every document of both samples directories.
//
// Run it with `make demo`, which builds kube-apiserver and etcd into bin/,
// installs the npm packages of hack/interop and sets KUBEBUILDER_ASSETS. It
// writes a kubeconfig (bin/demo.kubeconfig) and the endpoint's CA
// (bin/demo-endpoint-ca.crt), both removed on exit; with --wait it keeps
// running until interrupted so that kubectl and curl can be used. It exits
// non-zero when anything does not work, and stops everything it started
// (node, kube-apiserver, etcd) on exit and on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/hack/inprocess"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
)

// clusterResourceNamespace holds the key Secrets of ClusterAuthorizationServers
// (the manager's --cluster-resource-namespace).
const clusterResourceNamespace = "clientreg-system"

type options struct {
	samplesDir     string
	demoSamplesDir string
	crdDir         string
	kubeconfigPath string
	endpointCAPath string
	endpointAddr   string
	timeout        time.Duration
	wait           bool
	zap            zap.Options

	// inspect, when set (by tests), is called with a client of the control
	// plane once everything was shown, before anything is stopped.
	inspect func(context.Context, client.Client) error
}

func main() {
	ctx, stop := inprocess.SignalContext()
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "\ndemo failed:", err)
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
	fs.StringVar(&o.demoSamplesDir, "demo-samples", filepath.Join("hack", "demo", "samples"), "Directory of YAML files to apply once node-oidc-provider runs; ${PROVIDER_ISSUER} and ${PROVIDER_CA_BUNDLE} are filled in.")
	fs.StringVar(&o.crdDir, "crds", filepath.Join("config", "crd", "bases"), "Directory of the CRDs to install.")
	fs.StringVar(&o.kubeconfigPath, "kubeconfig-out", filepath.Join("bin", "demo.kubeconfig"), "Where to write a kubeconfig for the local control plane (removed on exit).")
	fs.StringVar(&o.endpointCAPath, "endpoint-ca-out", filepath.Join("bin", "demo-endpoint-ca.crt"), "Where to write the CA of the registration endpoint's certificate, for curl --cacert (removed on exit).")
	fs.StringVar(&o.endpointAddr, "endpoint-addr", "127.0.0.1:0", "Listen address of the embedded registration endpoint (port 0: a free one).")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "How long to wait for the samples to become Ready.")
	fs.BoolVar(&o.wait, "wait", false, "Keep everything running until interrupted (Ctrl-C), for kubectl and curl.")
	o.zap.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

// demo is one run: where it prints, and every secret value it masked.
type demo struct {
	out io.Writer
	// masked records every secret value the demo handled (client secrets,
	// registration access tokens, access tokens), so that a test can check
	// that none of them was printed.
	masked []string
}

// mask records v as secret and returns its masked form.
func (d *demo) mask(v string) string {
	if v != "" {
		d.masked = append(d.masked, v)
	}
	return mask(v)
}

// section prints a numbered heading.
func (d *demo) section(n int, title string) {
	line := strings.Repeat("=", 78)
	fmt.Fprintf(d.out, "\n%s\n %d. %s\n%s\n", line, n, title, line)
}

// run parses args and runs the demo until it is done (or, with --wait,
// until ctx is cancelled).
func run(ctx context.Context, args []string, out io.Writer) error {
	opts, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	return opts.run(ctx, &demo{out: out})
}

func (opts *options) run(ctx context.Context, d *demo) error {
	out := d.out
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zap)))

	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set: it must name the directory holding kube-apiserver and etcd; run the demo with `make demo`, which builds them and sets it")
	}
	for _, dir := range []string{opts.samplesDir, opts.demoSamplesDir} {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("samples directory %q: not a readable directory (run from the repository root, or pass --samples and --demo-samples)", dir)
		}
	}
	samples, err := loadSamples(opts.samplesDir)
	if err != nil {
		return err
	}

	// node-oidc-provider starts while the control plane does.
	fmt.Fprintf(out, "Starting node-oidc-provider %s (hack/interop) on 127.0.0.1 over TLS...\n", oidcprovider.PinnedVersion)
	starting := startProvider()
	defer starting.close()

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

	provider, err := starting.wait(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "node-oidc-provider is up: issuer %s (a throw-away CA signed its certificate).\n", provider.URL)
	demoSamples, err := loadTemplatedSamples(opts.demoSamplesDir, providerVars(provider))
	if err != nil {
		return err
	}

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

	tlsFiles, err := newEndpointTLS(opts.endpointCAPath)
	if err != nil {
		return err
	}
	defer tlsFiles.close()
	listener, err := net.Listen("tcp", opts.endpointAddr)
	if err != nil {
		return fmt.Errorf("listening for the registration endpoint on %s: %w", opts.endpointAddr, err)
	}
	endpoint := &controllers.EndpointOptions{
		BaseURL:  "https://" + listener.Addr().String(),
		CertFile: tlsFiles.certFile, KeyFile: tlsFiles.keyFile,
		Listener: listener,
	}

	mgrDone, stopManager, err := startManager(ctx, cfg, scheme, endpoint)
	if err != nil {
		_ = listener.Close()
		return err
	}
	defer stopManager()
	fmt.Fprintf(out, "Manager is running (cluster resource namespace %s), serving the registration endpoint at %s.\n\n", clusterResourceNamespace, endpoint.BaseURL)

	fmt.Fprintf(out, "Applying %s and %s:\n", opts.samplesDir, opts.demoSamplesDir)
	applied, err := applySamples(ctx, k8s, slices.Concat(samples, demoSamples), out)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "\nWaiting up to %s for the samples to become Ready...\n", opts.timeout)
	if err := waitReady(ctx, k8s, applied, opts.timeout, mgrDone, out); err != nil {
		if errors.Is(err, context.Canceled) {
			return errors.New("interrupted")
		}
		return err
	}

	curl, err := d.showAll(ctx, k8s, samples, demoSamples, tlsFiles, endpoint.BaseURL)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return errors.New("interrupted")
		}
		return err
	}
	if opts.inspect != nil {
		if err := opts.inspect(ctx, k8s); err != nil {
			return err
		}
	}

	if !opts.wait {
		fmt.Fprintf(out, "\nEverything works. With --wait (make demo DEMO_FLAGS=--wait) it keeps running, for kubectl\nwith the KUBECONFIG above and for the curl command; Ctrl-C stops it.\n")
		return nil
	}
	fmt.Fprintf(out, "\nEverything works. It keeps running; in another shell:\n  export KUBECONFIG=%s\n  kubectl get clientreg -A\n  %s\nPress Ctrl-C to stop.\n", kubeconfig, curl)
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\nStopping.")
		return nil
	case err := <-mgrDone:
		return fmt.Errorf("manager stopped: %w", err)
	}
}

// showAll prints the three parts of the product and the token, and returns
// the curl command for the endpoint.
func (d *demo) showAll(ctx context.Context, k8s client.Client, samples, demoSamples []sample, tlsFiles *endpointTLS, baseURL string) (string, error) {
	d.section(1, "Stateless client ids, minted by the operator ("+samplesOrigin(samples)+")")
	if err := show(ctx, k8s, samples, d.out); err != nil {
		return "", fmt.Errorf("stateless client ids: %w", err)
	}

	d.section(2, "Dynamic registration (RFC 7591/7592) at node-oidc-provider "+oidcprovider.PinnedVersion)
	dynamic, err := d.showDynamic(ctx, k8s, demoSamples)
	if err != nil {
		return "", fmt.Errorf("dynamic registration: %w", err)
	}

	d.section(3, "The embedded registration endpoint: RFC 7591 over HTTPS")
	curl, err := d.showEndpoint(ctx, k8s, demoSamples, tlsFiles, baseURL)
	if err != nil {
		return "", fmt.Errorf("embedded endpoint: %w", err)
	}
	fmt.Fprintf(d.out, "\nThe same registration with curl (it works while the demo runs: make demo DEMO_FLAGS=--wait):\n  %s\n", curl)

	d.section(4, "An access token, with the credentials from a Secret")
	if err := d.showToken(ctx, dynamic[0]); err != nil {
		return "", fmt.Errorf("token with %s/%s's credentials: %w", dynamic[0].client.Namespace, dynamic[0].client.Name, err)
	}
	return curl, nil
}

// samplesOrigin names the directory the samples came from.
func samplesOrigin(samples []sample) string {
	if len(samples) == 0 {
		return "no samples"
	}
	src := samples[0].source
	if i := strings.Index(src, " ("); i >= 0 {
		src = src[:i]
	}
	return filepath.Dir(src)
}

// startManager starts the manager as main.go builds it (same scheme, cache
// options and reconcilers), with metrics and probes off and no leader
// election, serving the registration endpoint as endpoint says. It returns a channel that receives the result of mgr.Start, and a
// function that stops the manager and waits for it.
func startManager(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, endpoint *controllers.EndpointOptions) (<-chan error, func(), error) {
	mgr, err := inprocess.New(ctx, cfg, scheme, controllers.Options{
		ClusterResourceNamespace: clusterResourceNamespace,
		Endpoint:                 endpoint,
		// A registry of its own: nothing scrapes it, and nothing global is
		// registered twice when a test runs the demo.
		MetricsRegisterer: prometheus.NewRegistry(),
	})
	if err != nil {
		return nil, nil, err
	}
	mgr.Start()
	return mgr.Done(), func() { mgr.Stop(0) }, nil
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
