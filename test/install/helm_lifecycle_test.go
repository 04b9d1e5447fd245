package install

import (
	"context"
	"fmt"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	webhookv1alpha1 "github.com/clientreg/clientreg/webhook/v1alpha1"
)

// TestHelmInstallUpgradeUninstall drives Helm itself (the SDK's install,
// upgrade and uninstall, server-side apply as the CLI does) against a real
// API server: the manager runs between install and upgrade, and the upgrade
// must keep what it wrote (the webhook certificate Secret's data, the CA in
// the webhook configurations); uninstall removes everything but the CRDs
// (crds.keep), and with crds.keep=false the CRDs too.
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	env := startEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The test API server says which version it is (it said v0.0.0-master
	// before hack/build-test-binaries.sh stamped it).
	dc, err := discovery.NewDiscoveryClientForConfig(env.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := dc.ServerVersion(); err != nil || v.GitVersion != kubeVersion {
		t.Fatalf("the test kube-apiserver reports %+v (%v), want %s: rebuild it with make test-binaries", v, err, kubeVersion)
	}
	ns := defaultRelease.namespace
	cfg := helmConfig(t, env)
	chrt, err := loader.Load(chartDir(t))
	if err != nil {
		t.Fatal(err)
	}

	inst := action.NewInstall(cfg)
	inst.ReleaseName = defaultRelease.name
	inst.Namespace = ns
	inst.CreateNamespace = true
	inst.WaitStrategy = kube.HookOnlyStrategy // no pods in envtest
	inst.Timeout = time.Minute
	if _, err := inst.RunWithContext(ctx, chrt, nil); err != nil {
		t.Fatalf("helm install: %v", err)
	}
	objs := mustRender(t, defaultRelease, "")

	// The manager fills the webhook Secret and injects the CA.
	replicas := runReplicas(ctx, t, env, objs, 1)
	stopReplicas(t, replicas)
	secretKey := client.ObjectKey{Namespace: ns, Name: webhookv1alpha1.CertSecretName}
	before := &corev1.Secret{}
	if err := env.c.Get(ctx, secretKey, before); err != nil || len(before.Data["tls.crt"]) == 0 {
		t.Fatalf("the manager did not fill the webhook Secret: %v", err)
	}
	caBefore := caBundles(t, env, objs)

	up := action.NewUpgrade(cfg)
	up.Namespace = ns
	up.WaitStrategy = kube.HookOnlyStrategy
	up.Timeout = time.Minute
	if _, err := up.RunWithContext(ctx, defaultRelease.name, chrt, values(t, "replicaCount: 3\npodDisruptionBudget: {enabled: true}")); err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	after := &corev1.Secret{}
	if err := env.c.Get(ctx, secretKey, after); err != nil {
		t.Fatal(err)
	}
	if string(after.Data["tls.crt"]) != string(before.Data["tls.crt"]) || string(after.Data["tls.key"]) != string(before.Data["tls.key"]) {
		t.Error("helm upgrade changed the certificate the manager wrote into the webhook Secret")
	}
	if caAfter := caBundles(t, env, objs); fmt.Sprint(caAfter) != fmt.Sprint(caBefore) {
		t.Errorf("helm upgrade changed the injected CA bundles: %v, were %v", caAfter, caBefore)
	}
	d := &appsv1.Deployment{}
	if err := env.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "clientreg-controller-manager"}, d); err != nil || *d.Spec.Replicas != 3 {
		t.Errorf("upgraded Deployment: %v", err)
	}
	if err := env.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "clientreg-controller-manager"}, &policyv1.PodDisruptionBudget{}); err != nil {
		t.Errorf("the upgrade did not add the PodDisruptionBudget: %v", err)
	}

	uninstall := func() {
		t.Helper()
		un := action.NewUninstall(cfg)
		un.WaitStrategy = kube.HookOnlyStrategy
		un.Timeout = time.Minute
		if _, err := un.Run(defaultRelease.name); err != nil {
			t.Fatalf("helm uninstall: %v", err)
		}
	}
	uninstall()
	crdNames := []string{}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			crdNames = append(crdNames, o.GetName())
			if err := env.c.Get(ctx, client.ObjectKeyFromObject(o), o.DeepCopy()); err != nil {
				t.Errorf("crds.keep: %s is gone after uninstall: %v", o.GetName(), err)
			}
			continue
		}
		eventually(t, 30*time.Second, func() error {
			err := env.c.Get(ctx, client.ObjectKeyFromObject(o), o.DeepCopy())
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("%s is still there after uninstall (%v)", objKey(o), err)
		})
	}
	if len(crdNames) != 3 {
		t.Fatalf("%d CRDs rendered", len(crdNames))
	}

	// crds.keep=false: uninstall deletes the CRDs too. (Install takes over
	// the kept CRDs, as `helm install --take-ownership` would.)
	inst = action.NewInstall(cfg)
	inst.ReleaseName = defaultRelease.name
	inst.Namespace = ns
	inst.WaitStrategy = kube.HookOnlyStrategy
	inst.Timeout = time.Minute
	inst.TakeOwnership = true
	if _, err := inst.RunWithContext(ctx, chrt, values(t, "crds: {keep: false}")); err != nil {
		t.Fatalf("helm install with crds.keep=false: %v", err)
	}
	uninstall()
	for _, name := range crdNames {
		eventually(t, 60*time.Second, func() error {
			crd := &unstructured.Unstructured{}
			crd.SetAPIVersion("apiextensions.k8s.io/v1")
			crd.SetKind("CustomResourceDefinition")
			err := env.c.Get(ctx, client.ObjectKey{Name: name}, crd)
			if apierrors.IsNotFound(err) || (err == nil && crd.GetDeletionTimestamp() != nil) {
				return nil
			}
			return fmt.Errorf("CRD %s not deleted with crds.keep=false (%v)", name, err)
		})
	}
}

// helmConfig is a Helm action configuration for env's API server (as its
// administrator), storing releases in Secrets as the CLI does.
func helmConfig(t *testing.T, env *testEnv) *action.Configuration {
	t.Helper()
	kubeconfig := impersonatingKubeconfig(t, env.cfg, "")
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	ns := defaultRelease.namespace
	flags.Namespace = &ns
	cfg := action.NewConfiguration()
	if err := cfg.Init(flags, ns, "secret"); err != nil {
		t.Fatal(err)
	}
	// Helm asks the API server for its version, as the CLI does: the test
	// kube-apiserver is version-stamped (hack/build-test-binaries.sh), so
	// the chart's kubeVersion constraint sees the real version.
	return cfg
}

func values(t *testing.T, y string) map[string]any {
	t.Helper()
	v := map[string]any{}
	if err := yaml.Unmarshal([]byte(y), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// caBundles returns the caBundle of every webhook in the chart's webhook
// configurations, failing if one is empty.
func caBundles(t *testing.T, env *testEnv, objs []*unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	for _, o := range objs {
		if o.GetKind() != "ValidatingWebhookConfiguration" && o.GetKind() != "MutatingWebhookConfiguration" {
			continue
		}
		hooks, _, _ := unstructured.NestedSlice(env.get(t, o).Object, "webhooks")
		for _, h := range hooks {
			ca, _, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "caBundle")
			if ca == "" {
				t.Errorf("%s: a webhook without caBundle", o.GetName())
			}
			out = append(out, ca)
		}
	}
	return out
}
