package install

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// secretNamespacesValues lists one namespace of the samples (apps).
const secretNamespacesValues = "rbac:\n  secretNamespaces: [apps]"

// secretsRule reports whether a ClusterRole or Role grants anything on
// Secrets, and the verbs of that rule.
func secretsRule(o *unstructured.Unstructured) (bool, []string) {
	rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
	for _, r := range rules {
		m := r.(map[string]any)
		res, _, _ := unstructured.NestedStringSlice(m, "resources")
		if slices.Contains(res, "secrets") || slices.Contains(res, "*") {
			verbs, _, _ := unstructured.NestedStringSlice(m, "verbs")
			return true, verbs
		}
	}
	return false, nil
}

// TestChartSecretNamespaces renders the chart with rbac.secretNamespaces:
// the ClusterRole has no rule on Secrets, a Role and RoleBinding on Secrets
// (the generated rule's verbs) exist in each listed namespace, the release
// namespace and the cluster resource namespace, and nowhere else, and the
// Deployment passes the same namespaces in --secret-namespaces. With the
// default (empty) list the ClusterRole keeps the rule and no such Role is
// rendered.
func TestChartSecretNamespaces(t *testing.T) {
	def := mustRender(t, defaultRelease, "")
	has, defVerbs := secretsRule(find(def, "ClusterRole", "clientreg-manager-role"))
	if !has {
		t.Fatal("the default ClusterRole has no rule on Secrets")
	}
	for _, o := range def {
		if o.GetKind() == "Role" || o.GetKind() == "RoleBinding" {
			if strings.HasSuffix(o.GetName(), "-manager-secrets") {
				t.Errorf("default values render %s", objKey(o))
			}
		}
	}
	for _, a := range containerArgs(t, def) {
		if strings.HasPrefix(a, "--secret-namespaces") {
			t.Errorf("default values pass %s", a)
		}
	}

	objs := mustRender(t, defaultRelease, "clusterResourceNamespace: idp-keys\nrbac:\n  secretNamespaces: [apps, team-b, clientreg-system]")
	cr := find(objs, "ClusterRole", "clientreg-manager-role")
	if cr == nil {
		t.Fatal("no ClusterRole")
	}
	if has, _ := secretsRule(cr); has {
		t.Errorf("the ClusterRole still grants Secrets: %v", cr.Object["rules"])
	}
	for _, o := range objs {
		if o.GetKind() == "ClusterRole" {
			if has, _ := secretsRule(o); has {
				t.Errorf("%s grants Secrets cluster-wide", objKey(o))
			}
		}
	}
	want := []string{"apps", "clientreg-system", "idp-keys", "team-b"}
	var roleNS, bindingNS []string
	for _, o := range objs {
		switch {
		case o.GetKind() == "Role" && o.GetName() == "clientreg-manager-secrets":
			roleNS = append(roleNS, o.GetNamespace())
			has, verbs := secretsRule(o)
			if !has || !slices.Equal(verbs, defVerbs) {
				t.Errorf("%s: Secret verbs %v, want the generated rule's %v", objKey(o), verbs, defVerbs)
			}
			if rules, _, _ := unstructured.NestedSlice(o.Object, "rules"); len(rules) != 1 {
				t.Errorf("%s has %d rules, want the one on Secrets", objKey(o), len(rules))
			}
		case o.GetKind() == "RoleBinding" && o.GetName() == "clientreg-manager-secrets":
			bindingNS = append(bindingNS, o.GetNamespace())
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			if len(subjects) != 1 || fmt.Sprint(subjects[0]) != fmt.Sprint(map[string]any{"kind": "ServiceAccount", "name": "clientreg-controller-manager", "namespace": "clientreg-system"}) {
				t.Errorf("%s: subjects %v", objKey(o), subjects)
			}
			if ref, _, _ := unstructured.NestedString(o.Object, "roleRef", "name"); ref != "clientreg-manager-secrets" {
				t.Errorf("%s binds %q", objKey(o), ref)
			}
		}
	}
	slices.Sort(roleNS)
	slices.Sort(bindingNS)
	if !slices.Equal(roleNS, want) || !slices.Equal(bindingNS, want) {
		t.Errorf("Roles in %v, RoleBindings in %v; want both in %v", roleNS, bindingNS, want)
	}
	var flag string
	for _, a := range containerArgs(t, objs) {
		if v, ok := strings.CutPrefix(a, "--secret-namespaces="); ok {
			flag = v
		}
	}
	got := strings.Split(flag, ",")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("--secret-namespaces=%s, want %v", flag, want)
	}
	// The Secret-write policy still applies.
	if find(objs, "ValidatingAdmissionPolicy", "clientreg-secret-writes") == nil {
		t.Errorf("no Secret-write policy: %s", keys(objs))
	}

	// Names only.
	for _, bad := range []string{"rbac: {secretNamespaces: [Apps]}", "rbac: {secretNamespaces: [\"\"]}", "rbac: {secretNamespaces: apps}", "rbac: {secretNamespaces: [a, a]}"} {
		if _, err := render(t, defaultRelease, bad); err == nil {
			t.Errorf("values %q rendered", bad)
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
		cmd := exec.Command(filepath.Join(root, "hack", "sync-chart-rbac.sh"))
		cmd.Env = append(os.Environ(), "RBAC_SRC="+in, "CHART_RBAC_FILE="+filepath.Join(dir, "out.yaml"))
		out, err := cmd.CombinedOutput()
		if (err == nil) != (name == "unchanged") {
			t.Errorf("%s: sync-chart-rbac.sh: %v\n%s", name, err, out)
		}
	}
}

// TestManagerRunsWithNamespacedSecrets installs the chart with
// rbac.secretNamespaces [apps] and runs the manager binary under the chart's
// ServiceAccount (impersonation, as TestManagerRunsUnderChartIdentity does).
// The samples (in apps, and the ClusterAuthorizationServer whose key Secret
// is in the release namespace) become Ready with their Secrets; an
// OAuthClient and an AuthorizationServer in a namespace not listed report
// SecretNamespaceNotAllowed (Stalled), and nothing is written there; the
// identity cannot get, list or watch Secrets outside the Role namespaces or
// cluster-wide (SubjectAccessReview); and the manager logs no "forbidden".
func TestManagerRunsWithNamespacedSecrets(t *testing.T) {
	env, objs, sa := installChart(t, secretNamespacesValues)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replicas := runReplicas(ctx, t, env, objs, 1)
	removeWebhookConfigurations(t, env, objs)

	applySamplesReady(t, env)
	for _, key := range []client.ObjectKey{{Namespace: "apps", Name: "billing-oauth"}, {Namespace: "apps", Name: "reports-oauth"}, {Namespace: "clientreg-system", Name: "corp-idp-stateless-keys"}} {
		s := &corev1.Secret{}
		if err := env.c.Get(ctx, key, s); err != nil {
			t.Errorf("Secret %s: %v", key, err)
		} else if s.Labels[oauthv1alpha1.LabelManagedBy] != oauthv1alpha1.ManagedByValue {
			t.Errorf("Secret %s has labels %v", key, s.Labels)
		}
	}

	// A namespace not listed: refused by the operator, with the reason.
	const other = "elsewhere"
	if err := env.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other}}); err != nil {
		t.Fatal(err)
	}
	oc := &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "stranger"},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:    oauthv1alpha1.ServerReference{Kind: oauthv1alpha1.KindClusterAuthorizationServer, Name: "corp-idp"},
			SecretName:   "stranger-oauth",
			RedirectURIs: []oauthv1alpha1.RedirectURI{"https://stranger.example.com/callback"},
		},
	}
	srv := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "local-idp"},
		Spec:       oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: "https://local-idp.example.com"}},
	}
	for _, o := range []client.Object{oc, srv} {
		if err := env.c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(o client.Object, conds func() []metav1.Condition) {
		t.Helper()
		eventually(t, 60*time.Second, func() error {
			if err := env.c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				return err
			}
			ready := meta.FindStatusCondition(conds(), oauthv1alpha1.ConditionReady)
			if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != oauthv1alpha1.ReasonSecretNamespaceNotAllowed {
				return fmt.Errorf("%s/%s: Ready %+v", o.GetNamespace(), o.GetName(), ready)
			}
			if !strings.Contains(ready.Message, `"`+other+`"`) || !strings.Contains(ready.Message, "--secret-namespaces") {
				return fmt.Errorf("the message does not name the namespace and the flag: %s", ready.Message)
			}
			if !meta.IsStatusConditionTrue(conds(), oauthv1alpha1.ConditionStalled) {
				return fmt.Errorf("not Stalled: %+v", conds())
			}
			return nil
		})
	}
	refused(oc, func() []metav1.Condition { return oc.Status.Conditions })
	refused(srv, func() []metav1.Condition { return srv.Status.Conditions })
	if len(oc.Finalizers) != 0 {
		t.Errorf("the refused client got finalizers %v", oc.Finalizers)
	}
	var written corev1.SecretList
	if err := env.c.List(ctx, &written, client.InNamespace(other)); err != nil || len(written.Items) != 0 {
		t.Errorf("Secrets in %s: %v %v", other, written.Items, err)
	}
	// The refusal is terminal: no retry loop rewrites the status.
	rv := oc.ResourceVersion
	time.Sleep(3 * time.Second)
	if err := env.c.Get(ctx, client.ObjectKeyFromObject(oc), oc); err != nil || oc.ResourceVersion != rv {
		t.Errorf("the refused client keeps changing (resourceVersion %s then %s): %v", rv, oc.ResourceVersion, err)
	}

	t.Run("no Secret access outside the listed namespaces", func(t *testing.T) {
		for _, tc := range []struct {
			ns, verb string
			allowed  bool
		}{
			{"apps", "get", true},
			{"apps", "list", true},
			{"apps", "watch", true},
			{"clientreg-system", "list", true},
			{other, "get", false},
			{other, "list", false},
			{other, "watch", false},
			{other, "create", false},
			{"default", "get", false},
			{"", "get", false},
			{"", "list", false},
			{"", "watch", false},
		} {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:               managerUser,
				Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:clientreg-system", "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: tc.ns, Verb: tc.verb, Resource: "secrets"},
			}}
			if err := env.c.Create(ctx, sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != tc.allowed {
				t.Errorf("%s Secrets in %q: allowed=%v, want %v (%s)", tc.verb, tc.ns, sar.Status.Allowed, tc.allowed, sar.Status.Reason)
			}
		}
		// And for real, as the manager.
		err := sa.List(ctx, &corev1.SecretList{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("listing Secrets cluster-wide as the manager: %v, want Forbidden", err)
		}
		err = sa.Get(ctx, client.ObjectKey{Namespace: other, Name: "anything"}, &corev1.Secret{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("reading a Secret in %s as the manager: %v, want Forbidden", other, err)
		}
	})

	stopReplicas(t, replicas)
}
