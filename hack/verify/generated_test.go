// Package verify holds repository checks that run with `make test`.
package verify

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedFilesAreCurrent regenerates CRDs, RBAC, webhook
// configurations, deepcopy code and the chart's CRD templates into a temporary directory and fails when a committed
// file differs: run `make manifests generate` and commit the result.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	gen := os.Getenv("CONTROLLER_GEN")
	if gen == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CONTROLLER_GEN is not set: run the tests with `make test`")
		}
		t.Skip("CONTROLLER_GEN not set; run `make test`")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	crdDir, rbacDir, chartDir := filepath.Join(tmp, "crd"), filepath.Join(tmp, "rbac"), filepath.Join(tmp, "chart")
	webhookDir := filepath.Join(tmp, "webhook")

	// The same invocation as `make manifests`.
	run(t, root, gen, "rbac:roleName=clientreg-manager-role", "crd", "webhook", "paths=./api/...", "paths=./controllers/...", "paths=./webhook/...", "paths=./internal/registration/...",
		"output:crd:artifacts:config="+crdDir, "output:rbac:artifacts:config="+rbacDir, "output:webhook:artifacts:config="+webhookDir)
	deepcopy := run(t, root, gen, "object:headerFile=hack/boilerplate.go.txt", "paths=./api/...", "output:object:stdout")
	cmd := exec.Command(filepath.Join(root, "hack", "sync-chart-crds.sh"))
	cmd.Env = append(os.Environ(), "CRD_SRC_DIR="+crdDir, "CHART_CRD_DIR="+chartDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sync-chart-crds.sh: %v\n%s", err, out)
	}

	compareDir(t, crdDir, filepath.Join(root, "config", "crd", "bases"))
	compareDir(t, rbacDir, filepath.Join(root, "config", "rbac"), "role.yaml")
	compareDir(t, webhookDir, filepath.Join(root, "config", "webhook"), "manifests.yaml")
	compareDir(t, chartDir, filepath.Join(root, "charts", "clientreg", "templates", "crds"))
	committed, err := os.ReadFile(filepath.Join(root, "api", "v1alpha1", "zz_generated.deepcopy.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, deepcopy) {
		t.Error("api/v1alpha1/zz_generated.deepcopy.go is stale: run `make generate`")
	}
}

func run(t *testing.T, dir, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return out
}

// compareDir checks that every file generated into gen exists in committed
// with the same bytes, and (unless only names files) that committed has no
// extra generated file.
func compareDir(t *testing.T, gen, committed string, only ...string) {
	t.Helper()
	names := only
	if len(names) == 0 {
		entries, err := os.ReadDir(gen)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		existing, err := os.ReadDir(committed)
		if err != nil {
			t.Fatal(err)
		}
		if len(existing) != len(entries) {
			t.Errorf("%s has %d files, generation makes %d: run `make manifests`", committed, len(existing), len(entries))
		}
	}
	if len(names) == 0 {
		t.Fatalf("nothing generated into %s", gen)
	}
	for _, n := range names {
		want, err := os.ReadFile(filepath.Join(gen, n))
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(filepath.Join(committed, n))
		if err != nil {
			t.Errorf("%s missing: run `make manifests`", filepath.Join(committed, n))
			continue
		}
		if !bytes.Equal(want, have) {
			t.Errorf("%s is stale: run `make manifests generate`", filepath.Join(committed, n))
		}
	}
}
