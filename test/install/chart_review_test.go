package install

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestChartSchemaRefusesUnsafeNames: names the templates put into manager
// arguments and into the Secret-write policy's CEL expression must be
// Kubernetes names. Before, `registration.tls.secretName: "a #b"` rendered
// --registration-tls-secret=<ns>/a (the rest became a YAML comment), and a
// serviceAccount.name with a quote broke the policy's CEL string (a
// matchCondition that does not compile fails every Secret write it covers).
func TestChartSchemaRefusesUnsafeNames(t *testing.T) {
	for _, bad := range []string{
		`serviceAccount: {name: 'a"b'}`,
		`serviceAccount: {create: false, name: 'Not A Name'}`,
		`registration: {enabled: true, baseURL: https://x.example, tls: {secretName: 'a #b'}}`,
		`webhook: {certManagement: certManager, certManager: {issuerRef: {name: 'x: y'}}}`,
	} {
		if _, err := render(t, defaultRelease, bad); err == nil {
			t.Errorf("values %q were accepted", bad)
		} else if !strings.Contains(err.Error(), "don't meet the specifications of the schema") {
			t.Errorf("values %q refused for another reason than the schema: %v", bad, err)
		}
	}
	// Real names still pass.
	mustRender(t, defaultRelease, "serviceAccount: {name: clientreg-sa}\npriorityClassName: system-cluster-critical\nregistration: {enabled: true, baseURL: https://x.example, tls: {secretName: clientreg.tls}}")
}

// TestChartPriorityClassNameIsAString: a name YAML would read as another
// type ("true", "1") is still rendered as a string; before, it rendered
// priorityClassName: true, which the API server refuses.
func TestChartPriorityClassNameIsAString(t *testing.T) {
	d := find(mustRender(t, defaultRelease, "priorityClassName: 'true'"), "Deployment", "clientreg-controller-manager")
	if got, ok, err := unstructured.NestedString(d.Object, "spec", "template", "spec", "priorityClassName"); !ok || err != nil || got != "true" {
		t.Errorf("priorityClassName = %q (found %v, %v), want the string \"true\"", got, ok, err)
	}
}

// TestChartPodDisruptionBudgetMaxUnavailableZero: maxUnavailable 0 (no
// voluntary disruption at all) is a value, not "unset"; before, it fell
// back to minAvailable.
func TestChartPodDisruptionBudgetMaxUnavailableZero(t *testing.T) {
	for values, want := range map[string]map[string]any{
		"podDisruptionBudget: {enabled: true, maxUnavailable: 0}":   {"maxUnavailable": int64(0)},
		"podDisruptionBudget: {enabled: true, maxUnavailable: 25%}": {"maxUnavailable": "25%"},
		"podDisruptionBudget: {enabled: true}":                      {"minAvailable": int64(1)},
	} {
		var pdb *unstructured.Unstructured
		for _, o := range mustRender(t, defaultRelease, values) {
			if o.GetKind() == "PodDisruptionBudget" {
				pdb = o
			}
		}
		if pdb == nil {
			t.Fatalf("%q: no PodDisruptionBudget", values)
		}
		spec, _, _ := unstructured.NestedMap(pdb.Object, "spec")
		delete(spec, "selector")
		if len(spec) != len(want) {
			t.Errorf("%q: spec %v, want %v", values, spec, want)
		}
		for k, v := range want {
			if spec[k] != v {
				t.Errorf("%q: spec.%s = %#v, want %#v", values, k, spec[k], v)
			}
		}
	}
}
