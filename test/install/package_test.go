package install

import (
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

// The packaged chart ships the Argo CD health check and its argocd-cm patch,
// and leaves the check's test fixtures out (.helmignore).
func TestChartPackageShipsArgoCDHealthCheck(t *testing.T) {
	chrt, err := loader.Load(chartDir(t))
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	files := map[string]bool{}
	for _, f := range chrt.Files {
		files[f.Name] = true
		if strings.HasPrefix(f.Name, "argocd/testdata/") || f.Name == "argocd/health_test.yaml" {
			t.Errorf("test fixture %s is packaged with the chart", f.Name)
		}
	}
	for _, want := range []string{"argocd/health.lua", "argocd/argocd-cm-patch.yaml"} {
		if !files[want] {
			t.Errorf("%s is not in the chart (files: %v)", want, files)
		}
	}
}
