package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
	"github.com/clientreg/clientreg/internal/testutil"
)

// publicSecretKeys are the data keys of credentials Secrets that the demo
// prints in full: nothing in them is secret.
var publicSecretKeys = []string{
	oauthv1alpha1.DefaultKeyClientID, oauthv1alpha1.DefaultKeyIssuer,
	oauthv1alpha1.DefaultKeyRegistrationClientURI, oauthv1alpha1.KeyRegistrationCABundle,
}

// TestDemoShowsTheWholeProduct runs the demo as `make demo` does, with the
// real samples of config/samples and hack/demo/samples, a real control plane
// and node-oidc-provider, and checks that it shows the three parts of the
// product and a token, and that no secret value reaches its output.
func TestDemoShowsTheWholeProduct(t *testing.T) {
	testutil.NeedAssets(t)
	oidcprovider.RequireNode(t)

	tmp := t.TempDir()
	kubeconfig, caFile := filepath.Join(tmp, "demo.kubeconfig"), filepath.Join(tmp, "demo-endpoint-ca.crt")
	opts, err := parseFlags([]string{
		"--samples", testutil.RepoPath("config", "samples"),
		"--demo-samples", testutil.RepoPath("hack", "demo", "samples"),
		"--crds", testutil.RepoPath("config", "crd", "bases"),
		"--kubeconfig-out", kubeconfig,
		"--endpoint-ca-out", caFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every value of every Secret in the control plane, except the members
	// printed on purpose, is secret (key Secrets included).
	var secrets []string
	opts.inspect = func(ctx context.Context, k8s client.Client) error {
		for _, f := range []string{kubeconfig, caFile} {
			if _, err := os.Stat(f); err != nil {
				return err
			}
		}
		list := &corev1.SecretList{}
		if err := k8s.List(ctx, list); err != nil {
			return err
		}
		for _, s := range list.Items {
			for k, v := range s.Data {
				if !slices.Contains(publicSecretKeys, strings.TrimPrefix(k, "previous_")) {
					secrets = append(secrets, string(v))
				}
			}
		}
		return nil
	}

	var out bytes.Buffer
	d := &demo{out: &out}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	err = opts.run(ctx, d)
	t.Logf("the demo took %s; its output:\n%s", time.Since(start).Round(100*time.Millisecond), out.String())
	if err != nil {
		t.Fatalf("the demo failed: %v", err)
	}
	text := out.String()

	sections := splitSections(text)
	for n, want := range map[int][]string{
		1: {"OAuthClient apps/billing", "OAuthClient apps/reports", "verified against status.jwks: OK", "Every client id verified."},
		2: {"== AuthorizationServer demo/node-oidc-provider: Ready", "== OAuthClient demo/inventory", "RFC 7592 read at the server", ": 200, client_name \"Inventory\""},
		3: {"  201 Created after", `"registration_access_token": "43 chars, `, "(Ready; label oauth.clientreg.dev/registered-via)", "(the same client_id)", "curl --cacert " + caFile},
		4: {"  200 OK:", "token_type:   Bearer", "access_token: 43 chars, "},
	} {
		for _, w := range want {
			if !strings.Contains(sections[n], w) {
				t.Errorf("section %d does not show %q", n, w)
			}
		}
	}
	if !strings.Contains(text, "Everything works.") {
		t.Error("the demo does not say that everything works")
	}

	// Nothing secret is printed: neither a Secret's value nor what the
	// endpoint and the token endpoint answered, nor more than the 4
	// characters mask shows of a secret.
	secrets = append(secrets, d.masked...)
	if len(d.masked) < 4 || len(secrets) < 10 {
		t.Fatalf("too few secrets to check (%d masked by the demo, %d in all): the test is not checking anything", len(d.masked), len(secrets))
	}
	for _, s := range secrets {
		switch {
		case strings.HasPrefix(s, "{") || strings.HasPrefix(s, "-----"):
			// Structured (key sets, PEM): their first characters are
			// syntax; the value as a whole must not appear.
			if strings.Contains(text, s) {
				t.Errorf("the output shows a structured secret value (%d chars)", len(s))
			}
		case len(s) < 16:
			// mask prints nothing of these; too short to search for.
		case strings.Contains(text, s[:8]):
			t.Errorf("the output shows a secret value (%d chars, starting %q)", len(s), s[:8])
		}
	}

	// What the demo wrote is gone.
	for _, f := range []string{kubeconfig, caFile} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left behind (%v)", f, err)
		}
	}
}

// splitSections returns the demo's output by section number (0: before the
// first section).
func splitSections(text string) map[int]string {
	out := map[int]string{}
	n := 0
	for _, line := range strings.SplitAfter(text, "\n") {
		var k int
		if len(line) > 3 && line[0] == ' ' && line[2] == '.' && line[1] >= '1' && line[1] <= '9' {
			k = int(line[1] - '0')
			n = k
		}
		out[n] += line
	}
	return out
}
