package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// seedTag is the build tag of the seeded files: only the golangci-lint run
// of this test sees them, so a build, test or lint running next to it in the
// same tree does not.
const seedTag = "lintseed"

// TestDepguardRulesCatchSeededViolations tests the package boundaries of
// .golangci.yml (issue #10) themselves: it writes a file that breaks each
// rule into the package it guards, runs the pinned golangci-lint (depguard
// only) on those packages and expects every seeded import to be reported
// under its rule.
func TestDepguardRulesCatchSeededViolations(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	lint := golangciLint(t, root)

	seeds := []struct {
		dir, imp, rule string
	}{
		{"registrar", "k8s.io/apimachinery/pkg/util/sets", "registrar-no-kubernetes"},
		{"registrar/metadata", "sigs.k8s.io/controller-runtime/pkg/client", "registrar-no-kubernetes"},
		{"webhook", "github.com/clientreg/clientreg/controllers/backend/dynamic", "webhook-no-backend"},
		{"webhook/v1alpha1", "github.com/clientreg/clientreg/controllers/backend/stateless", "webhook-no-backend"},
	}
	files := make([]string, len(seeds))
	pkgs := map[string]bool{}
	for i, s := range seeds {
		files[i] = writeSeed(t, filepath.Join(root, s.dir), fmt.Sprintf("import _ %q\n", s.imp))
		pkgs["./"+s.dir+"/"] = true
	}

	out := lintSeeds(t, root, lint, "depguard", pkgs)
	for i, s := range seeds {
		rel, err := filepath.Rel(root, files[i])
		if err != nil {
			t.Fatal(err)
		}
		want := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(filepath.ToSlash(rel)) +
			`:\d+:\d+: import '` + regexp.QuoteMeta(s.imp) + `' is not allowed from list '` +
			regexp.QuoteMeta(s.rule) + `'.*\(depguard\)$`)
		if !want.Match(out) {
			t.Errorf("%s importing %s: not reported under the depguard rule %s", rel, s.imp, s.rule)
		}
	}
}

// lintSeeds runs the pinned golangci-lint, with only the linters named
// (comma-separated) and the seeded files built in, on the packages pkgs
// (./dir/ paths), and returns what it printed. It fails the test unless
// golangci-lint reported issues (exit status 1; other codes mean it could
// not lint).
func lintSeeds(t *testing.T, root, lint, linters string, pkgs map[string]bool) []byte {
	t.Helper()
	args := []string{"run", "--config", filepath.Join(root, ".golangci.yml"),
		"--enable-only", linters, "--build-tags", seedTag, "--allow-parallel-runners",
		"--output.text.colors=false", "--output.text.print-issued-lines=false"}
	for p := range pkgs {
		args = append(args, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lint, args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("%s %s:\n%s", lint, strings.Join(args, " "), out.String())
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("golangci-lint on seeded violations: %v, want exit status 1 (issues found)", err)
	}
	return out.Bytes()
}

// golangciLint returns the pinned golangci-lint: $GOLANGCI_LINT (set by the
// Makefile) or bin/golangci-lint-$(GOLANGCI_LINT_VERSION). When it is not
// there the test skips, or fails when CI is set.
func golangciLint(t *testing.T, root string) string {
	t.Helper()
	path := os.Getenv("GOLANGCI_LINT")
	if path == "" {
		mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^GOLANGCI_LINT_VERSION \?= (\S+)$`).FindSubmatch(mk)
		if m == nil {
			t.Fatal("no GOLANGCI_LINT_VERSION in the Makefile")
		}
		path = filepath.Join(root, "bin", "golangci-lint-"+string(m[1]))
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("golangci-lint not installed (CI is set, so this is a failure): %v", err)
		}
		t.Skipf("golangci-lint not installed (%v); `make golangci-lint` or `make test` installs it", err)
	}
	return path
}

// writeSeed writes a file into dir that belongs to dir's package, builds
// only with the seedTag tag and holds body, and removes it when the test
// ends, whether it passed or not.
func writeSeed(t *testing.T, dir, body string) string {
	t.Helper()
	pkg := packageName(t, dir)
	f, err := os.CreateTemp(dir, "zz_lintseed_*.go")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("removing the seeded file: %v", err)
		}
	})
	src := fmt.Sprintf("//go:build %s\n\n// Seeded lint violation of a hack/verify test, removed when it ends.\n\npackage %s\n\n%s", seedTag, pkg, body)
	if _, err := f.WriteString(src); err != nil {
		_ = f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// packageName returns the package of the non-test Go files in dir.
func packageName(t *testing.T, dir string) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") || strings.HasPrefix(filepath.Base(m), "zz_lintseed_") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), m, nil, parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		return f.Name.Name
	}
	t.Fatalf("no Go package in %s", dir)
	return ""
}
