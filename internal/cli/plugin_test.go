package cli_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/testutil"
)

// TestKubectlPlugin builds cmd/clientregctl as kubectl-clientreg, puts it
// on PATH and runs it through a real kubectl: `kubectl clientreg ...`
// reaches the command with its flags, prints results on stdout and errors
// on stderr, and exits 0 or 1. It skips when kubectl is not installed.
func TestKubectlPlugin(t *testing.T) {
	needEnvtest(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "kubectl-clientreg"), "./cmd/clientregctl")
	build.Dir = testutil.RepoPath()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/clientregctl: %v\n%s", err, out)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("KUBECONFIG", kubeconfig)

	ns := newNamespace(t)
	mustCreate(t, oauthClient(ns, "plugged", noServer))

	run := func(args ...string) (string, string, int) {
		t.Helper()
		var out, errOut bytes.Buffer
		cmd := exec.Command(kubectl, append([]string{"clientreg"}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		t.Logf("kubectl clientreg %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		return out.String(), errOut.String(), code
	}

	out, _, code := run("--help")
	if code != 0 || !strings.Contains(out, "kubectl clientreg [command]") {
		t.Fatalf("the plugin's help does not name kubectl clientreg (exit %d)", code)
	}
	out, _, code = run("rotate", "oauthclient", "plugged", "-n", ns)
	if code != 0 || !strings.Contains(out, "rotation requested") || !strings.Contains(out, "kubectl clientreg status oauthclient plugged -n "+ns) {
		t.Fatalf("rotate through kubectl: exit %d", code)
	}
	if v, _ := annotation(t, ns, "plugged", oauthv1alpha1.AnnotationRotate); v == "" {
		t.Fatal("rotate through kubectl set no annotation")
	}
	out, errOut, code := run("status", "oauthclient", "missing", "-n", ns)
	if code != 1 || out != "" || !strings.Contains(errOut, "Error: reading OAuthClient "+ns+"/missing") {
		t.Fatalf("a failing command through kubectl: exit %d, stderr %q", code, errOut)
	}
}
