package install

import (
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/cli-runtime/pkg/resource"
)

// TestSamplesApplyWithFileAndKustomize checks that `kubectl apply -k
// config/samples` and `kubectl apply -f config/samples/` apply the same
// objects. The -f side reads the directory with cli-runtime's resource
// builder, the code kubectl apply -f uses to pick and decode files: a
// kustomization.yaml there would be read as an object of kind Kustomization,
// which no API server serves (kubectl exits 1 after applying the rest).
func TestSamplesApplyWithFileAndKustomize(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "config", "samples")
	infos, err := resource.NewLocalBuilder().Unstructured().
		FilenameParam(false, &resource.FilenameOptions{Filenames: []string{dir}}).
		Flatten().Do().Infos()
	if err != nil {
		t.Fatalf("reading config/samples as kubectl apply -f does: %v", err)
	}
	key := func(kind, ns, name string) string { return kind + " " + ns + "/" + name }
	var fromFiles, fromKustomize []string
	for _, i := range infos {
		gvk := i.Object.GetObjectKind().GroupVersionKind()
		fromFiles = append(fromFiles, key(gvk.Kind, i.Namespace, i.Name))
	}
	for _, o := range kustomizeBuild(t, "config/samples") {
		fromKustomize = append(fromKustomize, key(o.GetKind(), o.GetNamespace(), o.GetName()))
	}
	slices.Sort(fromFiles)
	slices.Sort(fromKustomize)
	if len(fromKustomize) < 5 || !slices.Equal(fromFiles, fromKustomize) {
		t.Fatalf("kubectl apply -f would apply\n  %v\nkubectl apply -k would apply\n  %v", fromFiles, fromKustomize)
	}
}
