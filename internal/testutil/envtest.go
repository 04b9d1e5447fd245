package testutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// noAssets is what a suite says when KUBEBUILDER_ASSETS is not set.
const noAssets = "KUBEBUILDER_ASSETS is not set: run the tests with `make test`"

// RequireAssets is for a TestMain whose suite needs envtest. It reports
// whether KUBEBUILDER_ASSETS is set. When it is not, it says so on stderr
// and returns the exit code the suite should end with if it runs no envtest
// test: 1 in CI (CI set), where the envtest tests must not silently pass,
// else 0.
func RequireAssets() (ok bool, code int) {
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		return true, 0
	}
	if os.Getenv("CI") != "" {
		fmt.Fprintln(os.Stderr, noAssets)
		return false, 1
	}
	fmt.Fprintln(os.Stderr, "envtest tests skip: KUBEBUILDER_ASSETS not set (run `make test`)")
	return false, 0
}

// NeedAssets skips t when KUBEBUILDER_ASSETS is not set, and fails it in CI
// (CI set), where the envtest tests must not silently pass.
func NeedAssets(t testing.TB) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal(noAssets)
	}
	t.Skip("KUBEBUILDER_ASSETS not set; run `make test`")
}

// SetLogger sets controller-runtime's logger to zap on stderr, errors only
// so that test output stays readable; TEST_VERBOSE=1 logs everything.
func SetLogger() {
	level := zapcore.ErrorLevel
	if os.Getenv("TEST_VERBOSE") != "" {
		level = -2
	}
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
}

// Scheme returns a new scheme with the client-go kinds and the operator's
// oauth.clientreg.dev/v1alpha1 kinds.
func Scheme() *kruntime.Scheme {
	s := kruntime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(oauthv1alpha1.AddToScheme(s))
	return s
}

// RepoPath returns the path of elem below the repository's root (the
// nearest directory above the working directory, which go test sets to the
// package's, that holds go.mod), e.g. RepoPath("config", "crd", "bases").
// It panics outside the repository.
func RepoPath(elem ...string) string {
	dir, err := os.Getwd()
	if err != nil {
		panic(fmt.Sprintf("finding the repository root: %v", err))
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(append([]string{dir}, elem...)...)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			panic("finding the repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// CRDPaths returns the directory of the operator's generated CRDs
// (config/crd/bases), for envtest.Environment.CRDDirectoryPaths.
func CRDPaths() []string {
	return []string{RepoPath("config", "crd", "bases")}
}

// Env returns an envtest environment that installs the operator's CRDs.
func Env() *envtest.Environment {
	return &envtest.Environment{CRDDirectoryPaths: CRDPaths(), ErrorIfCRDPathMissing: true}
}

// Main is the body of a TestMain whose tests share one API server. It
// starts env (Env() when nil) with the namespaces, hands its config and a
// direct client to run, which runs the tests (m.Run) and returns their exit
// code, and stops env afterwards. Without KUBEBUILDER_ASSETS it starts
// nothing and returns RequireAssets' code, or, when that is 0 and
// withoutEnv is not nil, withoutEnv's: the tests that need no API server run
// (withoutEnv is then m.Run) and the others skip.
func Main(env *envtest.Environment, namespaces []string, withoutEnv func() int, run func(cfg *rest.Config, c client.Client) int) int {
	if ok, code := RequireAssets(); !ok {
		if code != 0 || withoutEnv == nil {
			return code
		}
		return withoutEnv()
	}
	SetLogger()
	if env == nil {
		env = Env()
	}
	cfg, c, err := StartEnv(env, namespaces...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	return run(cfg, c)
}

// StartEnv starts env (a real kube-apiserver and etcd with what env
// installs), creates the given namespaces, and returns env's config and a
// direct, uncached client using Scheme(). The caller stops env once it
// started.
func StartEnv(env *envtest.Environment, namespaces ...string) (*rest.Config, client.Client, error) {
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("starting envtest: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("client for envtest: %w", err), env.Stop())
	}
	for _, ns := range namespaces {
		if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, nil, errors.Join(fmt.Errorf("creating namespace %s: %w", ns, err), env.Stop())
		}
	}
	return cfg, c, nil
}

// StartTestEnv is StartEnv for one test: it first calls NeedAssets, fails
// t if env does not start, and stops env when t ends.
func StartTestEnv(t testing.TB, env *envtest.Environment, namespaces ...string) (*rest.Config, client.Client) {
	t.Helper()
	NeedAssets(t)
	cfg, c, err := StartEnv(env, namespaces...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return cfg, c
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago, for a server the test starts (metrics, probes, webhooks).
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// RunManager starts mgr with ctx and, when t ends, calls cancel (which must
// cancel ctx) and waits for mgr to stop. It fails t if mgr.Start returns an
// error. The returned channel is closed once mgr has stopped, so a test can
// stop waiting for a manager that is gone.
func RunManager(t testing.TB, ctx context.Context, cancel context.CancelFunc, mgr manager.Manager) <-chan struct{} {
	t.Helper()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	return stopped
}
