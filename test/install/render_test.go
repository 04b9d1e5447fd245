package install

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// repoRoot is the repository's root directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), "charts", "clientreg") }

// kubeVersion is the Kubernetes version the chart is rendered for: the
// envtest API server's.
const kubeVersion = "v1.37.0"

// release names the installation: release name and namespace.
type release struct{ name, namespace string }

// defaultRelease is the documented installation, which gives the same object
// names as config/default.
var defaultRelease = release{name: "clientreg", namespace: "clientreg-system"}

// render renders the chart the way `helm template` does (client-only dry
// run of an install, so schema validation and `required` apply) and returns
// the objects, sorted by kind, namespace and name.
func render(t testing.TB, rel release, valuesYAML string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	chrt, err := loader.Load(chartDir(t))
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(valuesYAML), &vals); err != nil {
		t.Fatalf("values: %v", err)
	}
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(action.NewConfiguration())
	inst.DryRunStrategy = action.DryRunClient
	inst.ReleaseName = rel.name
	inst.Namespace = rel.namespace
	inst.Replace = true
	inst.KubeVersion = kv
	inst.APIVersions = common.VersionSet{"monitoring.coreos.com/v1", "cert-manager.io/v1"}
	r, err := inst.Run(chrt, vals)
	if err != nil {
		return nil, err
	}
	rl, ok := r.(*releasev1.Release)
	if !ok {
		t.Fatalf("unexpected release type %T", r)
	}
	for _, h := range rl.Hooks {
		t.Errorf("the chart has a hook (%s); installs by GitOps tools would skip or reorder it", h.Path)
	}
	objs, err := decode([]byte(rl.Manifest))
	if err != nil {
		return nil, fmt.Errorf("decoding the rendered manifest: %w\n%s", err, rl.Manifest)
	}
	return objs, nil
}

// mustRender is render for values that must render.
func mustRender(t testing.TB, rel release, valuesYAML string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := render(t, rel, valuesYAML)
	if err != nil {
		t.Fatalf("rendering the chart with %q: %v", valuesYAML, err)
	}
	return objs
}

// decode splits a multi-document YAML stream into objects, sorted.
func decode(data []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(j)) == 0 || string(bytes.TrimSpace(j)) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("%w in\n%s", err, doc)
		}
		if u.GetName() == "" {
			return nil, fmt.Errorf("an object without a name: %v", u.Object)
		}
		objs = append(objs, u)
	}
	sort.Slice(objs, func(i, j int) bool { return objKey(objs[i]) < objKey(objs[j]) })
	return objs, nil
}

func objKey(u *unstructured.Unstructured) string {
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

// find returns the object of that kind and name, or nil.
func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// kinds counts objects by kind.
func kinds(objs []*unstructured.Unstructured) map[string]int {
	m := map[string]int{}
	for _, o := range objs {
		m[o.GetKind()]++
	}
	return m
}

func keys(objs []*unstructured.Unstructured) string {
	var s []string
	for _, o := range objs {
		s = append(s, objKey(o))
	}
	return strings.Join(s, "\n")
}
