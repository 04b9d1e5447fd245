// Command manager runs the clientreg operator: the OAuthClient and server
// reconcilers, with leader election, metrics, and health and readiness probes.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
	clientregwebhook "github.com/clientreg/clientreg/webhook"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	var (
		metricsAddr, probeAddr, clusterNS, leaderElectionNS string
		leaderElect, secureMetrics                          bool
		workers                                             int
		regAddr, regBaseURL, regCert, regKey, regSecret     string
		regInsecure                                         bool
		secretNamespaces                                    string
		deletionTimeout, gracefulShutdown                   time.Duration
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address the metrics endpoint binds to; 0 disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", false, "Serve metrics over HTTPS with authentication and authorization.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.BoolVar(&leaderElect, "leader-elect", true, "Elect a leader so only one replica reconciles.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election lease (default: the pod's namespace).")
	flag.StringVar(&clusterNS, "cluster-resource-namespace", envOr("POD_NAMESPACE", "clientreg-system"), "Namespace holding the Secrets of ClusterAuthorizationServers.")
	flag.StringVar(&secretNamespaces, "secret-namespaces", "", "Comma-separated namespaces whose Secrets the manager reads and writes (with --cluster-resource-namespace); empty means all namespaces. Objects needing a Secret elsewhere are refused with the reason SecretNamespaceNotAllowed.")
	flag.IntVar(&workers, "max-concurrent-reconciles", 4, "Parallel OAuthClient reconciles.")
	flag.DurationVar(&gracefulShutdown, "graceful-shutdown-timeout", 30*time.Second, "How long a stopping manager waits for reconciles in flight (a registration and the write of its answer) before it releases the leader Lease and exits; keep the pod's terminationGracePeriodSeconds above it.")
	flag.DurationVar(&deletionTimeout, "deletion-timeout", controllers.DefaultDeletionTimeout, "How long deleting an OAuthClient's registration at an unreachable or refusing server is retried (capped exponential backoff, from the first failure) before the client reports DeletionBlocked.")
	flag.StringVar(&regAddr, "registration-bind-address", ":8443", "Address the embedded registration endpoint listens on.")
	flag.StringVar(&regBaseURL, "registration-base-url", "", "External URL of the embedded registration endpoint (e.g. https://clientreg.example.com); empty disables the endpoint.")
	flag.StringVar(&regCert, "registration-tls-cert-file", "", "TLS certificate of the registration endpoint (PEM; reloaded when it changes).")
	flag.StringVar(&regKey, "registration-tls-key-file", "", "TLS private key of the registration endpoint (PEM).")
	flag.StringVar(&regSecret, "registration-tls-secret", "", "<namespace>/<name> of a kubernetes.io/tls Secret (tls.crt, tls.key) with the registration endpoint's certificate, instead of the files; read every 10s, a broken one keeps the last good certificate.")
	flag.BoolVar(&regInsecure, "registration-insecure-http", false, "Serve the registration endpoint over plain HTTP. For local use only: RFC 7591 requires TLS.")
	var webhooks clientregwebhook.Options
	webhooks.BindFlags(flag.CommandLine, envOr("POD_NAMESPACE", "clientreg-system"))
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(clientregwebhook.QuietCertRaces(zap.New(zap.UseFlagOptions(&zapOpts))))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(oauthv1alpha1.AddToScheme(scheme))

	if deletionTimeout <= 0 {
		return fmt.Errorf("--deletion-timeout must be positive, not %s", deletionTimeout)
	}
	copts := controllers.Options{ClusterResourceNamespace: clusterNS, MaxConcurrentReconciles: workers, DeletionTimeout: deletionTimeout}
	for ns := range strings.SplitSeq(secretNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			copts.SecretNamespaces = append(copts.SecretNamespaces, ns)
		}
	}
	if len(copts.SecretNamespaces) > 0 && webhooks.Enabled && webhooks.CertManagement == clientregwebhook.CertSelf &&
		webhooks.Namespace != clusterNS && !slices.Contains(copts.SecretNamespaces, webhooks.Namespace) {
		return fmt.Errorf("--webhook-namespace %q holds the webhook certificate Secret: list it in --secret-namespaces", webhooks.Namespace)
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics},
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "clientreg.oauth.clientreg.dev",
		LeaderElectionNamespace: leaderElectionNS,
		// Hand the Lease over at once on shutdown instead of leaving the
		// others to wait out its duration (about 15 s without a leader on
		// every rollout). controller-runtime releases it only after every
		// reconcile has returned or the grace period is over. Releasing is
		// safe with registrations in flight: the in-flight mark is written
		// (with an optimistic lock) before a registration is sent, so a new
		// leader that sees it without a stored result stops the client
		// (RegistrationIncomplete) instead of registering again, and one
		// that sees the stored result clears it.
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &gracefulShutdown,
		Cache:                         controllers.CacheOptionsFor(copts),
		WebhookServer:                 webhooks.Server(),
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	if regBaseURL != "" {
		copts.Endpoint = &controllers.EndpointOptions{Addr: regAddr, BaseURL: regBaseURL, CertFile: regCert, KeyFile: regKey, Insecure: regInsecure}
		if regSecret != "" {
			ns, name, ok := strings.Cut(regSecret, "/")
			if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
				return fmt.Errorf("--registration-tls-secret %q: want <namespace>/<name>", regSecret)
			}
			copts.Endpoint.TLSSecret = types.NamespacedName{Namespace: ns, Name: name}
		}
	}
	backends, err := controllers.SetupWithBackends(ctx, mgr, copts)
	if err != nil {
		return err
	}
	webhooks.Backends = backends
	webhookReady, err := webhooks.Setup(mgr)
	if err != nil {
		return fmt.Errorf("setting up webhooks: %w", err)
	}
	if err := mgr.AddReadyzCheck("webhook", webhookReady); err != nil {
		return fmt.Errorf("adding webhook readiness check: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding readiness check: %w", err)
	}
	log.Info("starting manager", "clusterResourceNamespace", clusterNS, "secretNamespaces", copts.SecretNamespaces)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running manager: %w", err)
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
