package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/testutil"
)

// TestManagerBinary builds the real manager and runs it against a real API
// server with leader election on: probes answer, metrics are served, the
// Lease is taken, a stateless client becomes Ready, and SIGTERM stops it
// cleanly and releases the Lease.
func TestManagerBinary(t *testing.T) {
	testutil.NeedAssets(t)
	bin := filepath.Join(t.TempDir(), "manager")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	env := &envtest.Environment{CRDDirectoryPaths: testutil.CRDPaths(), ErrorIfCRDPathMissing: true}
	_, k8s := testutil.StartTestEnv(t, env, "clientreg-system", "apps")
	user, err := env.AddUser(envtest.User{Name: "manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()

	metricsAddr, probeAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	var logs strings.Builder
	cmd := exec.Command(bin, "--kubeconfig="+kcPath,
		"--leader-elect=true", "--leader-election-namespace=clientreg-system",
		"--metrics-bind-address="+metricsAddr, "--health-probe-bind-address="+probeAddr,
		"--cluster-resource-namespace=clientreg-system",
		// No webhook configurations are installed here; webhook/ tests them.
		"--enable-webhooks=false")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("manager output:\n%s", logs.String())
		}
	})

	for _, path := range []string{"/healthz", "/readyz"} {
		waitHTTP(t, "http://"+probeAddr+path, "ok")
	}
	if err := k8s.Create(ctx, &oauthv1alpha1.ClusterAuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Name: "corp"},
		Spec:       oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: "https://corp.example"}},
	}); err != nil {
		t.Fatal(err)
	}
	oc := &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "svc"},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:  oauthv1alpha1.ServerReference{Kind: oauthv1alpha1.KindClusterAuthorizationServer, Name: "corp"},
			SecretName: "svc-oauth", GrantTypes: []string{"client_credentials"},
		},
	}
	if err := k8s.Create(ctx, oc); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 60*time.Second, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(oc), oc); err != nil {
			t.Fatal(err)
		}
		if !meta.IsStatusConditionTrue(oc.Status.Conditions, oauthv1alpha1.ConditionReady) {
			return fmt.Errorf("client not Ready: %+v", oc.Status.Conditions)
		}
		return nil
	})
	lease := &coordinationv1.Lease{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "clientreg-system", Name: "clientreg.oauth.clientreg.dev"}, lease); err != nil {
		t.Fatalf("no leader election Lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Fatal("the Lease has no holder")
	}
	waitHTTP(t, "http://"+metricsAddr+"/metrics", `controller_runtime_reconcile_total{controller="oauthclient",result="success"}`)
	// The operator's own series (test/health checks them in depth).
	waitHTTP(t, "http://"+metricsAddr+"/metrics", `clientreg_registrations_total{action="create",backend="stateless",server_kind="ClusterAuthorizationServer"} 1`)
	waitHTTP(t, "http://"+metricsAddr+"/metrics", fmt.Sprintf(`clientreg_client_secret_expires_timestamp_seconds{name="svc",namespace="apps"} %g`, float64(oc.Status.ClientSecretExpiresAt.Unix())))

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("manager exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("manager did not stop within 30s of SIGTERM")
	}
	if strings.Contains(logs.String(), string(mustSecret(t, k8s, "apps", "svc-oauth"))) {
		t.Fatal("the manager logged the client secret")
	}
	// The stopped leader handed the Lease back, so another replica takes
	// over at once instead of waiting out the lease duration.
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(lease), lease); err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Fatalf("the stopped manager still holds the Lease (holder %q)", *h)
	}
}

func mustSecret(t *testing.T, c client.Client, ns, name string) []byte {
	t.Helper()
	s := &corev1.Secret{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	if len(s.Data["client_secret"]) == 0 {
		t.Fatal("no client secret stored")
	}
	return s.Data["client_secret"]
}

func waitHTTP(t *testing.T, url, want string) {
	t.Helper()
	testutil.Eventually(t, 60*time.Second, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), want) {
			return nil
		}
		return fmt.Errorf("%s has not answered with %q; last: %d %.300s", url, want, resp.StatusCode, body)
	})
}
