package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/testutil"
	webhookv1alpha1 "github.com/clientreg/clientreg/webhook/v1alpha1"
)

// managerUser is the identity the chart's manager runs as (default release).
const managerUser = "system:serviceaccount:clientreg-system:clientreg-controller-manager"

// TestManagerRunsUnderChartIdentity installs the chart (default values) on a
// real API server and runs the manager binary twice, as the Deployment's two
// replicas: with the Deployment's arguments, and with a kubeconfig that
// impersonates the chart's ServiceAccount, so every request the manager makes
// is authorized by the chart's RBAC and admitted by its Secret-write policy.
//
// It proves the RBAC is sufficient: one replica takes the leader Lease, both
// create the webhook certificate, inject the CA into the chart's webhook
// configurations and become ready, the samples (config/samples: a
// ClusterAuthorizationServer, an AuthorizationServer, two OAuthClients)
// become Ready with their Secrets, a deleted client's Secret is deleted, and
// the manager logs no "forbidden" error. And that it is not wider than
// needed: the same identity is refused Secrets it does not manage (create,
// update, delete, label), everything outside its ClusterRole, and Leases
// other than its own.
//
// What envtest cannot do: it runs no kubelet, so the test copies the webhook
// Secret into the certificate directory as the kubelet's volume would; and
// the API server cannot reach a Service, so once the CA is injected the
// webhook configurations are removed before the samples are applied (the
// webhooks themselves are tested in webhook/).
func TestManagerRunsUnderChartIdentity(t *testing.T) {
	env, objs, sa := installChart(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replicas := runReplicas(ctx, t, env, objs, 2)
	// One replica leads.
	eventually(t, 60*time.Second, func() error {
		lease := &coordinationv1.Lease{}
		if err := env.c.Get(ctx, client.ObjectKey{Namespace: "clientreg-system", Name: leaderElectionID(t)}, lease); err != nil {
			return err
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			return errors.New("no leader")
		}
		return nil
	})
	removeWebhookConfigurations(t, env, objs)

	applySamplesReady(t, env)
	for _, name := range []string{"billing-oauth", "reports-oauth", "apps-idp-stateless-keys"} {
		s := &corev1.Secret{}
		if err := env.c.Get(ctx, client.ObjectKey{Namespace: "apps", Name: name}, s); err != nil {
			t.Fatalf("Secret apps/%s: %v", name, err)
		}
		if s.Labels[oauthv1alpha1.LabelManagedBy] != oauthv1alpha1.ManagedByValue {
			t.Errorf("Secret apps/%s has labels %v", name, s.Labels)
		}
	}
	if err := env.c.Get(ctx, client.ObjectKey{Namespace: "clientreg-system", Name: "corp-idp-stateless-keys"}, &corev1.Secret{}); err != nil {
		t.Errorf("the ClusterAuthorizationServer's key Secret: %v", err)
	}
	// Deleting a client deletes its Secret (deletionPolicy Delete).
	billing := &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "billing"}}
	if err := env.c.Delete(ctx, billing); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() error {
		err := env.c.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "billing-oauth"}, &corev1.Secret{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("Secret apps/billing-oauth still there: %v", err)
	})

	t.Run("not wider than needed", func(t *testing.T) { checkDenied(t, env, sa) })

	stopReplicas(t, replicas)
}

// installChart renders the chart with values for the default release,
// applies it to a new API server, waits until the Secret-write policy is
// enforced and returns a client that impersonates the manager.
func installChart(t *testing.T, values string) (*testEnv, []*unstructured.Unstructured, client.Client) {
	t.Helper()
	env := startEnv(t)
	objs := mustRender(t, defaultRelease, values)
	env.apply(t, objs)
	sa := saClient(t, env)
	ctx := context.Background()
	// The admission policy is enforced once the API server has loaded it.
	eventually(t, 30*time.Second, func() error {
		err := sa.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "clientreg-system", Name: "policy-probe"}})
		if err == nil {
			_ = env.c.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "clientreg-system", Name: "policy-probe"}})
			return errors.New("an unlabelled Secret was created: policy not loaded yet")
		}
		if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) {
			return err
		}
		return nil
	})
	return env, objs, sa
}

// runReplicas runs n manager processes with the rendered Deployment's
// arguments as the chart's ServiceAccount and waits until each is ready
// (which, with self-managed webhook certificates, includes the certificate
// and the CA injection).
func runReplicas(ctx context.Context, t *testing.T, env *testEnv, objs []*unstructured.Unstructured, n int) []*managerProcess {
	t.Helper()
	bin := buildManager(t)
	kubeconfig := impersonatingKubeconfig(t, env.cfg, managerUser)
	certDir := t.TempDir()
	go mountSecret(ctx, t, env.c, client.ObjectKey{Namespace: "clientreg-system", Name: webhookv1alpha1.CertSecretName}, certDir)
	args := containerArgs(t, objs)
	var replicas []*managerProcess
	for i := range n {
		replicas = append(replicas, startManager(t, bin, kubeconfig, certDir, args, i))
	}
	for _, r := range replicas {
		r.waitReady(t, 90*time.Second)
	}
	return replicas
}

// removeWebhookConfigurations waits until the CA is injected into the
// chart's webhook configurations, then deletes them: the API server cannot
// reach a Service in envtest.
// applySamplesReady applies config/samples and waits until its clients and
// servers are Ready.
func applySamplesReady(t *testing.T, env *testEnv) {
	t.Helper()
	samples := kustomizeBuild(t, "config/samples")
	env.apply(t, samples)
	for _, o := range samples {
		switch o.GetKind() {
		case "OAuthClient", "AuthorizationServer", "ClusterAuthorizationServer":
			eventually(t, 90*time.Second, func() error { return readyCondition(env.get(t, o)) })
		}
	}
}

func removeWebhookConfigurations(t *testing.T, env *testEnv, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if !strings.HasSuffix(o.GetKind(), "WebhookConfiguration") {
			continue
		}
		eventually(t, 30*time.Second, func() error {
			hooks, _, _ := unstructured.NestedSlice(env.get(t, o).Object, "webhooks")
			for _, h := range hooks {
				if ca, _, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "caBundle"); ca == "" {
					return fmt.Errorf("%s: no caBundle yet", o.GetName())
				}
			}
			return nil
		})
		if err := env.c.Delete(context.Background(), o.DeepCopy()); err != nil {
			t.Fatal(err)
		}
	}
}

// stopReplicas stops the managers and fails if any logged a refusal.
func stopReplicas(t *testing.T, replicas []*managerProcess) {
	t.Helper()
	for _, r := range replicas {
		r.stop(t)
		if m := regexp.MustCompile(`(?i)[^"\n]*forbidden[^\n]*`).FindString(r.logs()); m != "" {
			t.Errorf("replica %d was refused something it needs: %s", r.index, m)
		}
		// The certificate rotator's races between replicas are not errors.
		for _, line := range strings.Split(r.logs(), "\n") {
			if strings.Contains(line, `"level":"error"`) &&
				(strings.Contains(line, "Operation cannot be fulfilled") || strings.Contains(line, "missing ca.crt")) {
				t.Errorf("replica %d logged a harmless race as an error: %s", r.index, line)
			}
		}
	}
}

// checkDenied checks what the chart's identity must not be able to do.
func checkDenied(t *testing.T, env *testEnv, sa client.Client) {
	ctx := context.Background()
	ns := "apps"
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "someone-elses"},
		Data:       map[string][]byte{"password": []byte("hunter2")},
	}
	if err := env.c.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	// Reading is allowed: the manager reads Secrets its users name (initial
	// access tokens, software statements, adoptFrom).
	if err := sa.Get(ctx, client.ObjectKeyFromObject(foreign), &corev1.Secret{}); err != nil {
		t.Errorf("reading a user's Secret: %v", err)
	}
	denied := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: allowed", what)
		} else if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
			t.Errorf("%s: %v (want a refusal)", what, err)
		}
	}
	changed := foreign.DeepCopy()
	changed.Data["password"] = []byte("changed")
	denied("updating an unmanaged Secret", sa.Update(ctx, changed))
	labelled := foreign.DeepCopy()
	labelled.Labels = map[string]string{oauthv1alpha1.LabelManagedBy: oauthv1alpha1.ManagedByValue}
	denied("labelling an unmanaged Secret as managed", sa.Update(ctx, labelled))
	denied("deleting an unmanaged Secret", sa.Delete(ctx, foreign.DeepCopy()))
	denied("creating an unlabelled Secret", sa.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "new-unlabelled"}}))
	denied("deleting every Secret", sa.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace(ns)))
	// The positive control: the same identity may create and delete a Secret
	// that carries the label, so the refusals above are the policy's.
	denied("creating a labelled Secret that no clientreg object controls", sa.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, Name: "ownerless", Labels: map[string]string{oauthv1alpha1.LabelManagedBy: oauthv1alpha1.ManagedByValue}}}, client.DryRunAll))
	mine := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "labelled", Labels: map[string]string{oauthv1alpha1.LabelManagedBy: oauthv1alpha1.ManagedByValue},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: oauthv1alpha1.GroupVersion.String(), Kind: "OAuthClient", Name: "billing", UID: "0000", Controller: ptrTrue()}}}}
	if err := sa.Create(ctx, mine); err != nil {
		t.Errorf("creating a labelled Secret: %v", err)
	} else if err := sa.Delete(ctx, mine); err != nil {
		t.Errorf("deleting a labelled Secret: %v", err)
	}
	if err := env.c.Get(ctx, client.ObjectKeyFromObject(foreign), foreign); err != nil || string(foreign.Data["password"]) != "hunter2" || len(foreign.Labels) != 0 {
		t.Errorf("the unmanaged Secret changed: %v %v", foreign.Labels, err)
	}

	// The webhook Secret exception is that one Secret, for updates only.
	webhookSecret := &corev1.Secret{}
	if err := env.c.Get(ctx, client.ObjectKey{Namespace: "clientreg-system", Name: webhookv1alpha1.CertSecretName}, webhookSecret); err != nil {
		t.Fatal(err)
	}
	denied("deleting the webhook Secret", sa.Delete(ctx, webhookSecret))
	sameName := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: webhookv1alpha1.CertSecretName}}
	if err := env.c.Create(ctx, sameName); err != nil {
		t.Fatal(err)
	}
	sameName.Data = map[string][]byte{"tls.crt": []byte("x")}
	denied("updating a Secret named like the webhook Secret in another namespace", sa.Update(ctx, sameName))

	// Adoption (spec.adoptFrom naming the client's own Secret) is the one
	// change allowed to an unmanaged Secret: label it and make its
	// OAuthClient the controller, data untouched.
	adopter := &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "adopter"},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:  oauthv1alpha1.ServerReference{Kind: oauthv1alpha1.KindAuthorizationServer, Name: "not-there"},
			SecretName: "adopt-me",
		},
	}
	if err := env.c.Create(ctx, adopter); err != nil {
		t.Fatalf("creating an OAuthClient: %v", err)
	}
	for _, tc := range []struct {
		name       string
		changeData bool
		allowed    bool
	}{{"adopt-me", false, true}, {"adopt-and-change", true, false}} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tc.name}, Data: map[string][]byte{
			"client_id": []byte("c1"), "registration_access_token": []byte("rat"), "registration_client_uri": []byte("https://idp.example/reg/c1"),
		}}
		if err := env.c.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		s.Labels = map[string]string{oauthv1alpha1.LabelManagedBy: oauthv1alpha1.ManagedByValue}
		s.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(adopter, oauthv1alpha1.GroupVersion.WithKind("OAuthClient"))}
		if tc.changeData {
			s.Data["client_id"] = []byte("c2")
		}
		err := sa.Update(ctx, s)
		if tc.allowed && err != nil {
			t.Errorf("adopting %s: %v", tc.name, err)
		}
		if !tc.allowed {
			denied("adopting a Secret while changing its data", err)
		}
	}

	// Outside the ClusterRole.
	denied("listing ConfigMaps", sa.List(ctx, &corev1.ConfigMapList{}))
	denied("creating a Pod", sa.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}))
	denied("listing Nodes", sa.List(ctx, &corev1.NodeList{}))
	denied("deleting a namespace", sa.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	crd.SetName("oauthclients.oauth.clientreg.dev")
	denied("deleting a CRD", sa.Delete(ctx, crd))
	denied("taking a Lease in another namespace", sa.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "x"}}))
	other := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "clientreg-system", Name: "someone-elses-lease"}}
	if err := env.c.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	denied("reading another Lease in its namespace", sa.Get(ctx, client.ObjectKeyFromObject(other), &coordinationv1.Lease{}))
	denied("updating another Lease in its namespace", sa.Update(ctx, other))

	// Verbs that would let it widen its own access, asked of the authorizer.
	for _, ra := range []authorizationv1.ResourceAttributes{
		{Verb: "impersonate", Resource: "users"},
		{Verb: "impersonate", Resource: "serviceaccounts", Namespace: "kube-system"},
		{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
		{Verb: "bind", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
		{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "rolebindings", Namespace: ns},
		{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "clientreg-system", Name: "clientreg-controller-manager"},
		{Verb: "deletecollection", Resource: "secrets", Namespace: ns},
		{Verb: "create", Group: "oauth.clientreg.dev", Resource: "authorizationservers", Namespace: ns},
		{Verb: "delete", Group: "oauth.clientreg.dev", Resource: "clusterauthorizationservers"},
		{Verb: "delete", Group: "admissionregistration.k8s.io", Resource: "validatingadmissionpolicies", Name: "clientreg-secret-writes"},
		{Verb: "update", Group: "admissionregistration.k8s.io", Resource: "validatingadmissionpolicybindings", Name: "clientreg-secret-writes"},
		{Verb: "create", Group: "apps", Resource: "deployments", Namespace: "clientreg-system"},
		{Verb: "update", Group: "admissionregistration.k8s.io", Resource: "validatingwebhookconfigurations", Name: "someone-elses-webhook"},
		{Verb: "update", Group: "admissionregistration.k8s.io", Resource: "mutatingwebhookconfigurations", Name: "someone-elses-webhook"},
		{Verb: "delete", Group: "admissionregistration.k8s.io", Resource: "validatingwebhookconfigurations", Name: "clientreg-validating-webhook-configuration"},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: managerUser, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:clientreg-system", "system:authenticated"},
			ResourceAttributes: &ra,
		}}
		if err := env.c.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed {
			t.Errorf("the manager may %s %s/%s %s", ra.Verb, ra.Resource, ra.Subresource, ra.Name)
		}
	}
}

func readyCondition(u *unstructured.Unstructured) error {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m := c.(map[string]any)
		if m["type"] == "Ready" {
			if m["status"] == "True" {
				return nil
			}
			return fmt.Errorf("%s: Ready=%v %v: %v", objKey(u), m["status"], m["reason"], m["message"])
		}
	}
	return fmt.Errorf("%s: no Ready condition", objKey(u))
}

// saClient is a client that impersonates the chart's ServiceAccount.
func saClient(t *testing.T, env *testEnv) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: managerUser}
	c, err := client.New(cfg, client.Options{Scheme: env.scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leaderElectionID is the Lease name the manager uses (main.go); the chart's
// leader-election Role must name it.
func leaderElectionID(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`LeaderElectionID:\s*"([^"]+)"`).FindSubmatch(src)
	if m == nil {
		t.Fatal("no LeaderElectionID in main.go")
	}
	return string(m[1])
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	testutil.Eventually(t, timeout, f)
}

// buildManager builds the manager binary from the repository, once per
// test binary (TestMain removes it).
func buildManager(t *testing.T) string {
	t.Helper()
	managerBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "clientreg-install-test")
		if err != nil {
			managerBuild.err = err
			return
		}
		managerBuild.dir = dir
		bin := filepath.Join(dir, "manager")
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			managerBuild.err = fmt.Errorf("building the manager: %w\n%s", err, out)
			return
		}
		managerBuild.bin = bin
	})
	if managerBuild.err != nil {
		t.Fatal(managerBuild.err)
	}
	return managerBuild.bin
}

var managerBuild struct {
	once     sync.Once
	dir, bin string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if managerBuild.dir != "" {
		_ = os.RemoveAll(managerBuild.dir)
	}
	os.Exit(code)
}

// impersonatingKubeconfig writes a kubeconfig for cfg's API server whose
// user impersonates user (kubeconfig "as").
func impersonatingKubeconfig(t *testing.T, cfg *rest.Config, user string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["manager"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken, Impersonate: user}
	kc.Contexts["manager"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "manager"}
	kc.CurrentContext = "manager"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// mountSecret does what the kubelet's Secret volume does for the pods: it
// copies the Secret's keys into dir once they are there.
func mountSecret(ctx context.Context, t *testing.T, c client.Client, key client.ObjectKey, dir string) {
	for ctx.Err() == nil {
		s := &corev1.Secret{}
		if err := c.Get(ctx, key, s); err == nil && len(s.Data["tls.crt"]) > 0 && len(s.Data["tls.key"]) > 0 {
			for k, v := range s.Data {
				if err := os.WriteFile(filepath.Join(dir, k), v, 0o600); err != nil {
					t.Errorf("writing %s: %v", k, err)
				}
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type managerProcess struct {
	index     int
	cmd       *exec.Cmd
	probeAddr string
	// registrationAddr is where the registration endpoint listens, if enabled.
	registrationAddr string
	mu               sync.Mutex
	out              bytes.Buffer
	done             chan struct{}
}

func (m *managerProcess) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.Write(p)
}

func (m *managerProcess) logs() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	return testutil.FreeAddr(t)
}

// startManager runs the manager with the Deployment's arguments; only the
// addresses (one pod network per replica there, one host here) and the
// certificate directory are replaced.
func startManager(t *testing.T, bin, kubeconfig, certDir string, deploymentArgs []string, index int) *managerProcess {
	t.Helper()
	m := &managerProcess{index: index, probeAddr: freeAddr(t), done: make(chan struct{})}
	for _, a := range deploymentArgs {
		// The endpoint listens where its base URL points (one per test).
		if u, ok := strings.CutPrefix(a, "--registration-base-url="); ok {
			m.registrationAddr = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
		}
	}
	_, webhookPort, _ := net.SplitHostPort(freeAddr(t))
	var args []string
	for _, a := range deploymentArgs {
		switch name := strings.SplitN(a, "=", 2)[0]; name {
		case "--health-probe-bind-address":
			a = name + "=" + m.probeAddr
		case "--metrics-bind-address":
			a = name + "=0"
		case "--webhook-port":
			a = name + "=" + webhookPort
		case "--webhook-cert-dir":
			a = name + "=" + certDir
		case "--registration-bind-address":
			a = name + "=" + m.registrationAddr
		}
		args = append(args, a)
	}
	if !slices.Contains(args, "--webhook-cert-dir="+certDir) {
		t.Fatalf("the Deployment's arguments changed: %v", deploymentArgs)
	}
	m.cmd = exec.Command(bin, args...)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "POD_NAMESPACE=clientreg-system")
	m.cmd.Stdout, m.cmd.Stderr = m, m
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.cmd.Wait(); close(m.done) }()
	t.Cleanup(func() {
		m.stop(t)
		if t.Failed() {
			if d := os.Getenv("CLIENTREG_TEST_LOGDIR"); d != "" {
				_ = os.WriteFile(filepath.Join(d, fmt.Sprintf("replica-%d.log", index)), []byte(m.logs()), 0o600)
			}
			t.Logf("replica %d log (tail):\n%s", index, tail(m.logs(), 4000))
		}
	})
	return m
}

func (m *managerProcess) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() error {
		select {
		case <-m.done:
			t.Fatalf("replica %d exited: %s", m.index, tail(m.logs(), 3000))
		default:
		}
		resp, err := http.Get("http://" + m.probeAddr + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("replica %d /readyz: %s", m.index, resp.Status)
		}
		return nil
	})
}

// stop ends this test's own manager process (by its handle) and waits.
func (m *managerProcess) stop(t *testing.T) {
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func ptrTrue() *bool { b := true; return &b }
