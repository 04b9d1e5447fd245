package install

import (
	"context"
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
