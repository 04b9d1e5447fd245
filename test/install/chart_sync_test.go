package install

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hackScript runs hack/<script> of the repository with env added to its
// environment and returns its combined output.
func hackScript(t testing.TB, script string, env ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(t), "hack", script))
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

// TestChartGeneratedTemplatesCurrent regenerates the chart's CRDs, ClusterRole
// and webhook configurations from config/ and fails when the committed
// templates differ: run `make manifests`. (hack/verify checks that config/
// itself matches the Go markers.)
func TestChartGeneratedTemplatesCurrent(t *testing.T) {
	tmp := t.TempDir()
	crdDir := filepath.Join(tmp, "crds")
	if b, err := hackScript(t, "sync-chart-crds.sh", "CHART_CRD_DIR="+crdDir); err != nil {
		t.Fatalf("sync-chart-crds.sh: %v\n%s", err, b)
	}
	generated, err := os.ReadDir(crdDir)
	if err != nil || len(generated) == 0 {
		t.Fatalf("no CRD templates generated: %v", err)
	}
	committed, err := os.ReadDir(filepath.Join(chartDir(t), "templates", "crds"))
	if err != nil || len(committed) != len(generated) {
		t.Errorf("charts/clientreg/templates/crds has %d files, generation makes %d: run `make manifests`", len(committed), len(generated))
	}
	for _, e := range generated {
		want, _ := os.ReadFile(filepath.Join(crdDir, e.Name()))
		have, err := os.ReadFile(filepath.Join(chartDir(t), "templates", "crds", e.Name()))
		if err != nil || string(want) != string(have) {
			t.Errorf("charts/clientreg/templates/crds/%s is stale: run `make manifests`", e.Name())
		}
	}
	for _, g := range []struct{ script, env, committed string }{
		{"sync-chart-rbac.sh", "CHART_RBAC_FILE", "templates/rbac/clusterrole.yaml"},
		{"sync-chart-webhooks.sh", "CHART_WEBHOOK_FILE", "templates/webhook/configurations.yaml"},
	} {
		out := filepath.Join(tmp, filepath.Base(g.committed))
		if b, err := hackScript(t, g.script, g.env+"="+out); err != nil {
			t.Fatalf("%s: %v\n%s", g.script, err, b)
		}
		want, _ := os.ReadFile(out)
		have, err := os.ReadFile(filepath.Join(chartDir(t), g.committed))
		if err != nil || string(want) != string(have) {
			t.Errorf("charts/clientreg/%s is stale (or missing: %v): run `make manifests`", g.committed, err)
		}
	}
}

// TestSyncChartRBACRefusesMergedSecretsRule checks that hack/sync-chart-rbac.sh
// refuses a generated ClusterRole whose rule on Secrets also names other
// resources (controller-gen merges rules with the same verbs), or that has
// none: either would make rbac.secretNamespaces drop, or keep, the wrong
// access.
func TestSyncChartRBACRefusesMergedSecretsRule(t *testing.T) {
	root := repoRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "\n  - secrets\n") {
		t.Fatal("config/rbac/role.yaml has no rule on secrets")
	}
	for name, role := range map[string]string{
		"merged":     strings.Replace(string(src), "\n  - secrets\n", "\n  - configmaps\n  - secrets\n", 1),
		"no secrets": strings.Replace(string(src), "\n  - secrets\n", "\n  - configmaps\n", 1),
		"unchanged":  string(src),
	} {
		dir := t.TempDir()
		in := filepath.Join(dir, "role.yaml")
		if err := os.WriteFile(in, []byte(role), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := hackScript(t, "sync-chart-rbac.sh", "RBAC_SRC="+in, "CHART_RBAC_FILE="+filepath.Join(dir, "out.yaml"))
		if (err == nil) != (name == "unchanged") {
			t.Errorf("%s: sync-chart-rbac.sh: %v\n%s", name, err, out)
		}
	}
}
