package v1alpha1

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/testutil"
)

// The envtest suite runs a real kube-apiserver and etcd with the CRDs and
// the generated webhook configurations (config/webhook) installed, and a
// manager whose webhook server serves this package's webhooks. No
// reconcilers run: the tests write status themselves where a rule reads it.
var (
	k8s       client.Client // direct, uncached
	restCfg   *rest.Config
	envtestOn bool
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if ok, code := testutil.RequireAssets(); !ok {
		if code != 0 {
			return code
		}
		return m.Run() // the envtest tests skip (needEnvtest)
	}
	envtestOn = true
	testutil.SetLogger()
	env := &envtest.Environment{
		CRDDirectoryPaths:     testutil.CRDPaths(),
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: []string{testutil.RepoPath("config", "webhook")}},
	}
	cfg, c, err := testutil.StartEnv(env)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	restCfg, k8s = cfg, c
	if n := len(env.WebhookInstallOptions.ValidatingWebhooks) + len(env.WebhookInstallOptions.MutatingWebhooks); n != 2 {
		fmt.Fprintf(os.Stderr, "config/webhook holds %d webhook configurations, want 2\n", n)
		return 1
	}

	wo := &env.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:         k8s.Scheme(),
		Metrics:        metricsserver.Options{BindAddress: "0"},
		LeaderElection: false,
		WebhookServer:  crwebhook.NewServer(crwebhook.Options{Host: wo.LocalServingHost, Port: wo.LocalServingPort, CertDir: wo.LocalServingCertDir}),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	if err := SetupWithManager(mgr, Options{Reader: mgr.GetAPIReader(), Backends: testBackends}); err != nil {
		fmt.Fprintln(os.Stderr, "webhooks:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	// Ready when the API server can reach the webhook: a dry-run create of
	// a valid object goes through every admission webhook of its kind.
	if err := waitForWebhooks(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "webhook server not reachable:", err)
		return 1
	}
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	return code
}

func waitForWebhooks(ctx context.Context) error {
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "webhook-probe"}}); err != nil {
		return err
	}
	var last error
	for range 600 {
		s := &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: "webhook-probe", Name: "probe"}, Spec: statelessSpec()}
		if last = k8s.Create(ctx, s, client.DryRunAll); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return last
}
