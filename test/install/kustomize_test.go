package install

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizeBuild builds dir (relative to the repository root) with the
// kustomize API, as `kubectl apply -k` or `kustomize build` would, adding
// components (also relative to the root) through a temporary overlay.
func kustomizeBuild(t *testing.T, dir string, components ...string) []*unstructured.Unstructured {
	t.Helper()
	root := repoRoot(t)
	target := filepath.Join(root, dir)
	opts := krusty.MakeDefaultOptions()
	if len(components) > 0 {
		overlay := t.TempDir()
		var b strings.Builder
		// kustomize refuses absolute paths; the overlay names the
		// repository's directories relative to itself.
		rel := func(p string) string {
			r, err := filepath.Rel(overlay, p)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		fmt.Fprintf(&b, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- %s\ncomponents:\n", rel(target))
		for _, c := range components {
			fmt.Fprintf(&b, "- %s\n", rel(filepath.Join(root, c)))
		}
		if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		target = overlay
		opts.LoadRestrictions = types.LoadRestrictionsNone
	}
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), target)
	if err != nil {
		t.Fatalf("kustomize build %s %v: %v", dir, components, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(out)
	if err != nil {
		t.Fatalf("decoding kustomize output: %v", err)
	}
	return objs
}

// TestKustomizeMatchesChart builds config/default (alone and with each
// component) and compares it with the chart rendered as release "clientreg"
// in namespace clientreg-system with the corresponding values: the same
// objects (kind, namespace, name), and the same substance in each (rules,
// subjects, pod spec, webhooks, admission policy, CRD schemas, Service ports
// and the pods they select). Labels may differ (Helm's release labels).
func TestKustomizeMatchesChart(t *testing.T) {
	for _, tc := range []struct {
		name, values string
		components   []string
	}{
		{name: "default"},
		{name: "cert-manager", values: "webhook: {certManagement: certManager}", components: []string{"config/certmanager"}},
		{name: "prometheus", values: "metrics: {serviceMonitor: {enabled: true}}", components: []string{"config/prometheus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kust := kustomizeBuild(t, "config/default", tc.components...)
			chart := mustRender(t, defaultRelease, tc.values)
			kustObjs := sameObjects(t, kust, chart)
			pods := podLabels(t, kust)
			for _, k := range kustObjs {
				c := find(chart, k.GetKind(), k.GetName())
				compareSubstance(t, k, c, pods, podLabels(t, chart))
			}
		})
	}
}

func podLabels(t *testing.T, objs []*unstructured.Unstructured) map[string]string {
	t.Helper()
	d := find(objs, "Deployment", "clientreg-controller-manager")
	if d == nil {
		t.Fatal("no Deployment")
	}
	l, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
	return l
}

// compareSubstance compares what matters in two renderings of one object.
func compareSubstance(t *testing.T, k, c *unstructured.Unstructured, kPods, cPods map[string]string) {
	t.Helper()
	same := func(path ...string) {
		t.Helper()
		kv, _, _ := unstructured.NestedFieldCopy(k.Object, path...)
		cv, _, _ := unstructured.NestedFieldCopy(c.Object, path...)
		if !reflect.DeepEqual(kv, cv) {
			t.Errorf("%s: %s differs:\nkustomize: %v\nchart:     %v", objKey(k), strings.Join(path, "."), kv, cv)
		}
	}
	switch k.GetKind() {
	case "CustomResourceDefinition":
		same("spec")
	case "ClusterRole", "Role":
		same("rules")
	case "ClusterRoleBinding", "RoleBinding":
		same("roleRef")
		same("subjects")
	case "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "Certificate", "Issuer", "ServiceMonitor":
		same("spec")
	case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
		same("webhooks")
		same("metadata", "annotations")
	case "Secret":
		same("type")
		same("data")
	case "Deployment":
		same("spec", "replicas")
		kp := deploymentPodSpec(k)
		cp := deploymentPodSpec(c)
		if !reflect.DeepEqual(kp, cp) {
			t.Errorf("Deployment pod specs differ (image aside):\nkustomize: %v\nchart:     %v", kp, cp)
		}
	case "Service":
		kt, _, _ := unstructured.NestedString(k.Object, "spec", "type")
		ct, _, _ := unstructured.NestedString(c.Object, "spec", "type")
		if kt == "" {
			kt = "ClusterIP"
		}
		if kt != ct {
			t.Errorf("%s: type %s (kustomize) and %s (chart)", objKey(k), kt, ct)
		}
		if a, b := servicePorts(t, k, kPods), servicePorts(t, c, cPods); !reflect.DeepEqual(a, b) {
			t.Errorf("%s: ports differ: kustomize %v, chart %v", objKey(k), a, b)
		}
	case "ServiceAccount":
	default:
		t.Errorf("%s: no comparison for this kind", objKey(k))
	}
}

// deploymentPodSpec is the pod template's spec without the image and the
// pod-selector labels, which the chart takes from the release.
func deploymentPodSpec(d *unstructured.Unstructured) map[string]any {
	spec, _, _ := unstructured.NestedMap(d.Object, "spec", "template", "spec")
	cs, _, _ := unstructured.NestedSlice(spec, "containers")
	for _, c := range cs {
		delete(c.(map[string]any), "image")
	}
	_ = unstructured.SetNestedSlice(spec, cs, "containers")
	return spec
}

// servicePorts maps each Service port to the container port it reaches, and
// fails unless the Service selects the manager's pods.
func servicePorts(t *testing.T, svc *unstructured.Unstructured, pods map[string]string) map[int64]string {
	t.Helper()
	sel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
	if len(sel) == 0 {
		t.Errorf("%s selects nothing", objKey(svc))
	}
	for k, v := range sel {
		if pods[k] != v {
			t.Errorf("%s selects %v, not the manager pods (%v)", objKey(svc), sel, pods)
		}
	}
	named := map[string]string{"webhook": "9443", "metrics": "8080", "registration": "8443", "health": "8081"}
	out := map[int64]string{}
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	for _, p := range ports {
		pm := p.(map[string]any)
		target := fmt.Sprint(pm["targetPort"])
		if n, ok := named[target]; ok {
			target = n
		}
		out[pm["port"].(int64)] = target
	}
	return out
}

// TestKustomizeAppliesToAPIServer builds config/default and applies it to a
// real API server; every object must be accepted and (but the Deployment,
// which has no controller in envtest) Current. The samples build too, and
// contain only the operator's kinds and a namespace (they are applied and
// reconciled in TestManagerRunsUnderChartIdentity).
func TestKustomizeAppliesToAPIServer(t *testing.T) {
	env := startEnv(t)
	objs := kustomizeBuild(t, "config/default")
	env.apply(t, objs)
	env.checkApplied(t, objs)
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && ns != "clientreg-system" {
			t.Errorf("%s is not in clientreg-system", objKey(o))
		}
	}
	samples := kustomizeBuild(t, "config/samples")
	k := kinds(samples)
	if k["OAuthClient"] == 0 || k["ClusterAuthorizationServer"] == 0 || k["AuthorizationServer"] == 0 {
		t.Errorf("samples: %v", k)
	}
	for kind := range maps.Keys(k) {
		switch kind {
		case "Namespace", "OAuthClient", "ClusterAuthorizationServer", "AuthorizationServer", "Secret":
		default:
			t.Errorf("samples contain a %s", kind)
		}
	}
}

// sameObjects fails t unless kust, apart from its Namespaces (helm install
// --create-namespace, or the user, makes those), holds the objects of chart
// in the same order; it returns them.
func sameObjects(t *testing.T, kust, chart []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	var kustKeys, chartKeys []string
	var kustObjs []*unstructured.Unstructured
	for _, o := range kust {
		if o.GetKind() == "Namespace" {
			continue
		}
		kustKeys = append(kustKeys, objKey(o))
		kustObjs = append(kustObjs, o)
	}
	for _, o := range chart {
		chartKeys = append(chartKeys, objKey(o))
	}
	if !reflect.DeepEqual(kustKeys, chartKeys) {
		t.Fatalf("different objects:\nkustomize:\n%s\nchart:\n%s", strings.Join(kustKeys, "\n"), strings.Join(chartKeys, "\n"))
	}
	return kustObjs
}
