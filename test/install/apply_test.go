package install

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestChartAppliesToAPIServer applies the chart rendered with every value set
// to a real API server, with the objects in the release namespace and the
// cluster-scoped ones shared (as two installations of the same operator
// cannot coexist, each value set replaces the previous one's webhook
// configurations), and checks what kstatus says about each object.
func TestChartAppliesToAPIServer(t *testing.T) {
	env := startEnv(t)
	env.installThirdPartyCRDs(t)
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			objs := mustRender(t, defaultRelease, vs.values)
			env.apply(t, objs)
			env.checkApplied(t, objs)
			if f := find(objs, "ValidatingWebhookConfiguration", "clientreg-validating-webhook-configuration"); f != nil {
				live := env.get(t, f)
				hooks, _, _ := unstructured.NestedSlice(live.Object, "webhooks")
				if len(hooks) == 0 {
					t.Error("the validating webhook configuration has no webhooks")
				}
			}
			// Remove what the next value set may not render, so every
			// value set is checked on its own objects.
			for _, o := range objs {
				if o.GetKind() == "CustomResourceDefinition" {
					continue
				}
				if err := env.c.Delete(context.Background(), o.DeepCopy(), client.PropagationPolicy("Background")); err != nil {
					t.Errorf("deleting %s: %v", objKey(o), err)
				}
			}
		})
	}
}

// installThirdPartyCRDs installs testdata/third-party-crds.yaml.
func (e *testEnv) installThirdPartyCRDs(t *testing.T) {
	t.Helper()
	e.applyFile(t, "third-party-crds.yaml")
}

// applyFile applies the objects of testdata/name (see apply).
func (e *testEnv) applyFile(t *testing.T, name string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	e.apply(t, objs)
}
