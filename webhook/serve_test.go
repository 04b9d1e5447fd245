package webhook

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	dynamicbackend "github.com/clientreg/clientreg/controllers/backend/dynamic"
	statelessbackend "github.com/clientreg/clientreg/controllers/backend/stateless"
	"github.com/clientreg/clientreg/internal/testutil"
	v1alpha1 "github.com/clientreg/clientreg/webhook/v1alpha1"
)

// The manager's service account, as config/rbac binds it.
const managerUser = "system:serviceaccount:clientreg-system:clientreg-controller-manager"

// TestSelfManagedCertificates runs a manager with --webhook-cert-management=self
// against a real API server, as the manager's service account bound to the
// ClusterRole generated into config/rbac/role.yaml (so missing RBAC fails
// it). The rotator fills the pre-created Secret and injects its CA into the
// generated webhook configurations; the test plays the kubelet, copying the
// Secret into the certificate directory. Readiness fails until then. Once
// ready, the API server calls the webhooks over TLS with the rotator's
// certificate: an invalid object is refused, a valid one defaulted.
func TestSelfManagedCertificates(t *testing.T) {
	testutil.SetLogger()
	env := &envtest.Environment{
		CRDDirectoryPaths:     testutil.CRDPaths(),
		ErrorIfCRDPathMissing: true,
		// The configurations point at https://localhost:<port>, the name the
		// rotator's certificate is issued for here (ExtraDNSNames).
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths:                        []string{testutil.RepoPath("config", "webhook")},
			LocalServingHostExternalName: "localhost",
		},
	}
	cfg, admin := testutil.StartTestEnv(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	// Install: the generated ClusterRole bound to the manager's service
	// account, the namespace, and the (empty) certificate Secret.
	role := &rbacv1.ClusterRole{}
	raw, err := os.ReadFile(testutil.RepoPath("config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, role); err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{
		role,
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "clientreg-manager-rolebinding"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: managerUser}},
		},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "clientreg-system"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "clientreg-system", Name: v1alpha1.CertSecretName}},
	} {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// The update of the two webhook configurations, by name
	// (config/rbac/webhook_cert_role.yaml: a ClusterRole and its binding).
	raw, err = os.ReadFile(testutil.RepoPath("config", "rbac", "webhook_cert_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	certRole, certBinding := &rbacv1.ClusterRole{}, &rbacv1.ClusterRoleBinding{}
	docs := strings.SplitN(string(raw), "\n---\n", 2)
	if len(docs) != 2 {
		t.Fatal("config/rbac/webhook_cert_role.yaml: want a ClusterRole and a ClusterRoleBinding")
	}
	if err := yaml.Unmarshal([]byte(docs[0]), certRole); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(docs[1]), certBinding); err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{certRole, certBinding} {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	asManager := rest.CopyConfig(cfg)
	asManager.Impersonate = rest.ImpersonationConfig{UserName: managerUser, Groups: []string{"system:serviceaccounts", "system:authenticated"}}
	certDir := t.TempDir()
	opts := &Options{
		Backends: new(backend.Registry).
			MustRegister(oauthv1alpha1.MemberStateless, &statelessbackend.Backend{}).
			MustRegister(oauthv1alpha1.MemberDynamicRegistration, &dynamicbackend.Backend{}),
		Enabled:                     true,
		Port:                        env.WebhookInstallOptions.LocalServingPort,
		CertDir:                     certDir,
		CertManagement:              CertSelf,
		Namespace:                   "clientreg-system",
		SecretName:                  v1alpha1.CertSecretName,
		ServiceName:                 v1alpha1.ServiceName,
		ValidatingConfigurationName: v1alpha1.ValidatingWebhookConfigurationName,
		MutatingConfigurationName:   v1alpha1.MutatingWebhookConfigurationName,
		ExtraDNSNames:               []string{"localhost"},
	}
	mgr, err := ctrl.NewManager(asManager, ctrl.Options{
		Scheme:        admin.Scheme(),
		Metrics:       metricsserver.Options{BindAddress: "0"},
		WebhookServer: opts.Server(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ready, err := opts.Setup(mgr)
	if err != nil {
		t.Fatal(err)
	}
	stopped := testutil.RunManager(t, ctx, cancel, mgr)

	// The rotator writes the Secret.
	secret := &corev1.Secret{}
	eventually(t, 60*time.Second, stopped, func() error {
		if err := admin.Get(ctx, client.ObjectKey{Namespace: "clientreg-system", Name: v1alpha1.CertSecretName}, secret); err != nil {
			return err
		}
		if len(secret.Data["tls.crt"]) == 0 || len(secret.Data["tls.key"]) == 0 || len(secret.Data["ca.crt"]) == 0 {
			return errors.New("the certificate Secret is still empty")
		}
		return nil
	})
	probe, _ := http.NewRequest(http.MethodGet, "/readyz", nil)
	if err := ready(probe); err == nil {
		t.Fatal("ready before the certificate files are in the certificate directory")
	}

	// Play the kubelet: the Secret's keys appear as files.
	for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if err := os.WriteFile(filepath.Join(certDir, k), secret.Data[k], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 90*time.Second, stopped, func() error { return ready(probe) })

	// The CA bundle is injected into every webhook of both configurations.
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := admin.Get(ctx, client.ObjectKey{Name: v1alpha1.ValidatingWebhookConfigurationName}, vwc); err != nil {
		t.Fatal(err)
	}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := admin.Get(ctx, client.ObjectKey{Name: v1alpha1.MutatingWebhookConfigurationName}, mwc); err != nil {
		t.Fatal(err)
	}
	var bundles [][]byte
	for _, w := range vwc.Webhooks {
		bundles = append(bundles, w.ClientConfig.CABundle)
	}
	for _, w := range mwc.Webhooks {
		bundles = append(bundles, w.ClientConfig.CABundle)
	}
	if len(bundles) != 5 {
		t.Fatalf("%d webhooks in the configurations, want 5", len(bundles))
	}
	for i, b := range bundles {
		if !bytes.Equal(b, secret.Data["ca.crt"]) {
			t.Fatalf("webhook %d: caBundle is not the rotator's CA", i)
		}
	}

	// The API server reaches the webhooks over TLS with that certificate.
	bad := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "bad"},
		Spec: oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{
			Issuer: "https://idp.example.com", KeyRotationInterval: &metav1.Duration{Duration: -time.Hour},
		}},
	}
	err = admin.Create(ctx, bad)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.stateless.keyRotationInterval") {
		t.Fatalf("invalid server not refused by the webhook: %v", err)
	}
	good := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "good"},
		Spec:       oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: "https://idp.example.com"}},
	}
	if err := admin.Create(ctx, good); err != nil {
		t.Fatal(err)
	}
	if good.Spec.Stateless.KeySecretName != "good-stateless-keys" {
		t.Fatalf("not defaulted through the mutating webhook: keySecretName %q", good.Spec.Stateless.KeySecretName)
	}
}

// eventually retries f until it returns nil or the timeout passes, and
// stops waiting when the manager has stopped.
func eventually(t *testing.T, timeout time.Duration, managerStopped <-chan struct{}, f func() error) {
	t.Helper()
	testutil.Eventually(t, timeout, func() error {
		err := f()
		if err != nil {
			select {
			case <-managerStopped:
				t.Fatalf("the manager stopped while waiting: %v", err)
			default:
			}
		}
		return err
	})
}
