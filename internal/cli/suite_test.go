package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/internal/cli"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/internal/testutil/managertest"
)

var (
	// restCfg, k8s and kubeconfig are unset when KUBEBUILDER_ASSETS is
	// not: the envtest tests skip, the others run.
	restCfg *rest.Config
	k8s     client.Client
	// kubeconfig is the path of a kubeconfig for the test control plane.
	kubeconfig string
	// kubeconfigBytes is its content.
	kubeconfigBytes []byte
)

const clusterNS = "clientreg-system"

func TestMain(m *testing.M) {
	env := testutil.Env()
	os.Exit(testutil.Main(env, []string{clusterNS}, m.Run, func(cfg *rest.Config, c client.Client) int {
		return runSuite(m, env, cfg, c)
	}))
}

// runSuite writes a kubeconfig for the control plane env and runs the tests.
func runSuite(m *testing.M, env *envtest.Environment, cfg *rest.Config, c client.Client) int {
	dir, err := os.MkdirTemp("", "clientregctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	restCfg, k8s, kubeconfigBytes = cfg, c, env.KubeConfig
	return m.Run()
}

func needEnvtest(t *testing.T) {
	t.Helper()
	if restCfg == nil {
		testutil.NeedAssets(t)
		t.Skip("KUBEBUILDER_ASSETS not set")
	}
}

// result is what one run of the command printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// all is everything the command printed.
func (r result) all() string { return r.stdout + r.stderr }

// runCLI runs clientregctl with args against the test control plane
// (--kubeconfig is added first).
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	return runCLIRaw(t, append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

// runCLIRaw runs clientregctl with exactly args.
func runCLIRaw(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, "clientregctl", args, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	r := result{stdout: out.String(), stderr: errOut.String(), code: code}
	t.Logf("clientregctl %s\n%s", strings.Join(args, " "), r)
	return r
}

// mustContain fails t unless every want is in got.
func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q", what, w)
		}
	}
}

// mustNotContain fails t if any secret value appears in got.
func mustNotContain(t *testing.T, what, got string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			t.Fatalf("%s: empty secret given to check", what)
		}
		if strings.Contains(got, s) {
			t.Errorf("%s contains a secret value (%d chars)", what, len(s))
		}
	}
}

// startManager runs every reconciler in-process until the returned stop
// function is called (also at the end of the test).
func startManager(t *testing.T) (stop func()) {
	t.Helper()
	return managertest.Start(t, restCfg, managertest.Options(testutil.Scheme(), "0"), controllers.Options{ClusterResourceNamespace: clusterNS})
}

// waitReady waits until obj (re-read into obj) has Ready=True for its generation.
func waitReady(t *testing.T, obj client.Object, conds func() []metav1.Condition) {
	t.Helper()
	testutil.Eventually(t, 60*time.Second, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		c := meta.FindStatusCondition(conds(), oauthv1alpha1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != obj.GetGeneration() {
			return fmt.Errorf("%s not Ready: %+v", obj.GetName(), c)
		}
		return nil
	})
}

func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func oauthClient(ns, name string, ref oauthv1alpha1.ServerReference) *oauthv1alpha1.OAuthClient {
	return &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:  ref,
			SecretName: name + "-oauth",
			GrantTypes: []string{"client_credentials"},
			ClientName: "Test " + name,
			Scope:      "read write",
		},
	}
}

func newNamespace(t *testing.T) string {
	t.Helper()
	return testutil.NewNamespace(t, k8s)
}
