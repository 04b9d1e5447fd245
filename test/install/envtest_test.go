package install

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/clientreg/clientreg/internal/testutil"
)

// testEnv is one API server (envtest: real kube-apiserver and etcd) for one test.
type testEnv struct {
	cfg    *rest.Config
	c      client.Client
	scheme *runtime.Scheme
}

// startEnv starts an API server with no CRDs installed: the tests install
// them from what they render, as a user would.
func startEnv(t *testing.T) *testEnv {
	t.Helper()
	cfg, c := testutil.StartTestEnv(t, &envtest.Environment{})
	return &testEnv{cfg: cfg, c: c, scheme: c.Scheme()}
}

// apply server-side applies objs: namespaces first, then CRDs (waiting until
// they are established), then everything else. Every object must be accepted.
func (e *testEnv) apply(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	var crds, rest []*unstructured.Unstructured
	namespaces := map[string]bool{}
	for _, o := range objs {
		switch o.GetKind() {
		case "Namespace":
			namespaces[o.GetName()] = true
			e.applyOne(t, o)
		case "CustomResourceDefinition":
			crds = append(crds, o)
		default:
			rest = append(rest, o)
		}
	}
	for _, o := range rest {
		if ns := o.GetNamespace(); ns != "" && !namespaces[ns] {
			obj := &unstructured.Unstructured{}
			obj.SetAPIVersion("v1")
			obj.SetKind("Namespace")
			obj.SetName(ns)
			e.applyOne(t, obj)
			namespaces[ns] = true
		}
	}
	for _, o := range crds {
		e.applyOne(t, o)
	}
	for _, o := range crds {
		e.waitCurrent(t, o)
	}
	for _, o := range rest {
		e.applyOne(t, o)
	}
}

func (e *testEnv) applyOne(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	// The REST mapper learns new kinds lazily; a CRD just established may
	// need a moment.
	var err error
	for range 50 {
		err = e.c.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
			client.FieldOwner("clientreg-install-test"), client.ForceOwnership)
		if err == nil {
			return
		}
		if !isNoMatch(err) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("applying %s: %v", objKey(o), err)
}

func isNoMatch(err error) bool {
	return meta.IsNoMatchError(err) || strings.Contains(err.Error(), "no matches for kind") ||
		strings.Contains(err.Error(), "the server could not find the requested resource")
}

// get reads o back from the API server.
func (e *testEnv) get(t *testing.T, o *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(o.GroupVersionKind())
	if err := e.c.Get(context.Background(), client.ObjectKeyFromObject(o), live); err != nil {
		t.Fatalf("reading back %s: %v", objKey(o), err)
	}
	return live
}

// waitCurrent waits until kstatus computes Current for o.
func (e *testEnv) waitCurrent(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := status.Compute(e.get(t, o))
		if err == nil && res.Status == status.CurrentStatus {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not Current: %v %v", objKey(o), res, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkApplied reads every object back and checks its kstatus: Current,
// except the Deployment, whose pods envtest never creates (no controllers):
// it must be InProgress, not Failed.
func (e *testEnv) checkApplied(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			e.waitCurrent(t, o)
			continue
		}
		res, err := status.Compute(e.get(t, o))
		if err != nil {
			t.Errorf("kstatus of %s: %v", objKey(o), err)
			continue
		}
		want := status.CurrentStatus
		if o.GetKind() == "Deployment" {
			want = status.InProgressStatus
		}
		if res.Status != want {
			t.Errorf("%s: kstatus %s (%s), want %s", objKey(o), res.Status, res.Message, want)
		}
	}
}
