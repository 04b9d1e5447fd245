package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// The users' ClusterRoles and the built-in role each must be aggregated into.
var aggregatedRoles = []struct{ name, into string }{
	{"clientreg-view", "view"},
	{"clientreg-cluster-servers-view", "view"},
	{"clientreg-edit", "edit"},
	{"clientreg-admin", "admin"},
}

// TestAggregatedRolesGrantNamespaceUsers applies the chart, then
// config/default, to a real API server and checks with SubjectAccessReviews
// what a user bound in one namespace to the built-in view, edit or admin
// ClusterRole may do with clientreg's kinds.
//
// envtest runs kube-apiserver and etcd only; the clusterrole-aggregation
// controller belongs to kube-controller-manager, so nothing fills the
// built-in roles' rules here. The test does what that controller does
// (aggregateClusterRoles): it reads the aggregationRule the API server's RBAC
// bootstrap gave view, edit and admin, selects the ClusterRoles by those
// selectors and writes the union of their rules into the aggregating role,
// until nothing changes. So the labels on the shipped roles are checked
// against the real selectors, and the permissions against the real
// authorizer; only the copying of rules is the test's.
func TestAggregatedRolesGrantNamespaceUsers(t *testing.T) {
	env := startEnv(t)
	ctx := context.Background()
	ns := "apps"
	if err := env.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	for _, builtin := range []string{"view", "edit", "admin"} {
		bindUser(t, env, ns, builtin)
	}

	// The control: before clientreg is installed, aggregation gives the
	// built-in roles nothing on its kinds, so the checks below can fail.
	aggregateClusterRoles(t, env)
	if sar(t, env, "view-user", ns, "get", "oauthclients") || sar(t, env, "edit-user", ns, "create", "oauthclients") {
		t.Fatal("view or edit may use oauthclients before clientreg's roles exist")
	}
	// Secrets: the built-in roles are really aggregated (edit reads
	// Secrets, view does not).
	if sar(t, env, "view-user", ns, "get", "secrets") || !sar(t, env, "edit-user", ns, "get", "secrets") {
		t.Fatal("the emulated aggregation does not give the built-in roles their usual rules")
	}
	before := map[string][]rbacv1.PolicyRule{}
	for _, b := range []string{"view", "edit", "admin"} {
		before[b] = clusterRole(t, env, b).Rules
	}

	for _, src := range []struct {
		name string
		objs func(t *testing.T) []*unstructured.Unstructured
	}{
		{"chart", func(t *testing.T) []*unstructured.Unstructured { return mustRender(t, defaultRelease, "") }},
		{"kustomize", func(t *testing.T) []*unstructured.Unstructured { return kustomizeBuild(t, "config/default") }},
	} {
		t.Run(src.name, func(t *testing.T) {
			objs := src.objs(t)
			env.apply(t, objs)
			checkAggregationLabels(t, env, objs)
			aggregateClusterRoles(t, env)
			// The authorizer reads RBAC from informers: wait until it sees
			// the aggregated rules before asking it anything.
			eventually(t, 30*time.Second, func() error {
				if !sar(t, env, "admin-user", ns, "create", "authorizationservers") {
					return errors.New("the authorizer does not show the aggregated roles yet")
				}
				return nil
			})
			checkNamespaceUsers(t, env, ns)
			// Leave the API server as before, so the next source is
			// checked on its own roles.
			for _, r := range aggregatedRoles {
				if err := env.c.Delete(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: r.name}}); err != nil {
					t.Fatalf("deleting %s: %v", r.name, err)
				}
			}
			aggregateClusterRoles(t, env)
			for _, b := range []string{"view", "edit", "admin"} {
				if got := clusterRole(t, env, b).Rules; !reflect.DeepEqual(got, before[b]) {
					t.Fatalf("%s did not return to its rules without clientreg", b)
				}
			}
		})
	}
}

// checkAggregationLabels: each shipped role is selected by the aggregationRule
// of the built-in role it belongs to, as the API server created it.
func checkAggregationLabels(t *testing.T, env *testEnv, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, r := range aggregatedRoles {
		o := find(objs, "ClusterRole", r.name)
		if o == nil {
			t.Errorf("no ClusterRole %s", r.name)
			continue
		}
		builtin := clusterRole(t, env, r.into)
		if builtin.AggregationRule == nil || len(builtin.AggregationRule.ClusterRoleSelectors) == 0 {
			t.Fatalf("the built-in %s role has no aggregationRule", r.into)
		}
		selected := false
		for _, s := range builtin.AggregationRule.ClusterRoleSelectors {
			sel, err := metav1.LabelSelectorAsSelector(&s)
			if err != nil {
				t.Fatal(err)
			}
			selected = selected || sel.Matches(labels.Set(o.GetLabels()))
		}
		if !selected {
			t.Errorf("%s (labels %v) is not selected by %s's aggregationRule %v", r.name, o.GetLabels(), r.into, builtin.AggregationRule.ClusterRoleSelectors)
		}
	}
}

// checkNamespaceUsers asks the authorizer what view-user, edit-user and
// admin-user (each bound in ns only) may do.
func checkNamespaceUsers(t *testing.T, env *testEnv, ns string) {
	t.Helper()
	type want struct {
		user, verb, resource string
		allowed              bool
	}
	var wants []want
	add := func(users []string, verbs []string, resources []string, allowed bool) {
		for _, u := range users {
			for _, v := range verbs {
				for _, r := range resources {
					wants = append(wants, want{u, v, r, allowed})
				}
			}
		}
	}
	all := []string{"view-user", "edit-user", "admin-user"}
	writers := []string{"edit-user", "admin-user"}
	read := []string{"get", "list", "watch"}
	write := []string{"create", "update", "patch", "delete", "deletecollection"}
	kinds := []string{"oauthclients", "authorizationservers"}
	add(all, read, append(slices.Clone(kinds), "oauthclients/status", "authorizationservers/status"), true)
	add([]string{"view-user"}, write, kinds, false)
	add(writers, write, []string{"oauthclients"}, true)
	// Servers: admin writes them, edit does not (rbac.aggregatedRoles.editServers).
	add([]string{"admin-user"}, write, []string{"authorizationservers"}, true)
	add([]string{"edit-user"}, write, []string{"authorizationservers"}, false)
	// Status is the operator's.
	add(all, []string{"update", "patch"}, []string{"oauthclients/status", "authorizationservers/status"}, false)
	// Cluster servers: never written by users; not even read through a
	// RoleBinding (cluster-scoped objects need a ClusterRoleBinding).
	add(all, append(slices.Clone(read), write...), []string{"clusterauthorizationservers"}, false)
	for _, w := range wants {
		cluster := w.resource == "clusterauthorizationservers"
		if got := sarIn(t, env, w.user, ns, w.verb, w.resource, cluster); got != w.allowed {
			t.Errorf("%s %s %s in %s: allowed=%v, want %v", w.user, w.verb, w.resource, ns, got, w.allowed)
		}
	}
	// Elsewhere: nothing (the bindings are namespaced).
	for _, u := range all {
		if sar(t, env, u, "other", "get", "oauthclients") {
			t.Errorf("%s may read oauthclients outside %s", u, ns)
		}
	}
	// Secrets: the clientreg roles add nothing. A user bound directly to
	// each of them (without the built-in roles) gets no verb on Secrets.
	for _, r := range aggregatedRoles {
		user := r.name + "-direct"
		bindUserTo(t, env, ns, user, r.name)
		for _, v := range append(slices.Clone(read), write...) {
			if sar(t, env, user, ns, v, "secrets") {
				t.Errorf("%s grants %s on secrets", r.name, v)
			}
		}
		if r.name == "clientreg-cluster-servers-view" {
			continue
		}
		// The positive control: the direct binding does grant.
		if !sar(t, env, user, ns, "get", "oauthclients") {
			t.Errorf("%s bound directly does not grant get oauthclients", r.name)
		}
	}

	// A cluster-wide viewer (ClusterRoleBinding to view) sees the cluster
	// servers, read-only: that is what aggregating
	// clientreg-cluster-servers-view into view is for.
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-viewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "cluster-viewer"}},
	}
	if err := env.c.Create(context.Background(), crb); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// The authorizer sees the new binding through an informer.
	eventually(t, 30*time.Second, func() error {
		if !sarIn(t, env, "cluster-viewer", "", "get", "clusterauthorizationservers", true) {
			return errors.New("the authorizer does not show the cluster-wide binding yet")
		}
		return nil
	})
	for _, v := range read {
		if !sarIn(t, env, "cluster-viewer", "", v, "clusterauthorizationservers", true) {
			t.Errorf("a cluster-wide viewer may not %s clusterauthorizationservers", v)
		}
	}
	for _, v := range write {
		if sarIn(t, env, "cluster-viewer", "", v, "clusterauthorizationservers", true) {
			t.Errorf("a cluster-wide viewer may %s clusterauthorizationservers", v)
		}
	}

	// And the authorizer's answer is what a real request gets: the view
	// user lists OAuthClients in its namespace, and is refused elsewhere.
	view := impersonate(t, env, "view-user")
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("oauth.clientreg.dev/v1alpha1")
	list.SetKind("OAuthClientList")
	if err := view.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Errorf("view-user listing oauthclients in %s: %v", ns, err)
	}
	if err := view.List(context.Background(), list, client.InNamespace("other")); !apierrors.IsForbidden(err) {
		t.Errorf("view-user listing oauthclients in another namespace: %v, want Forbidden", err)
	}
}

// bindUser binds "<role>-user" to the built-in ClusterRole role in ns.
func bindUser(t *testing.T, env *testEnv, ns, role string) {
	t.Helper()
	bindUserTo(t, env, ns, role+"-user", role)
}

func bindUserTo(t *testing.T, env *testEnv, ns, user, role string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}},
	}
	if err := env.c.Create(context.Background(), rb); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// sar asks the API server whether user may verb resource (in clientreg's
// group, or the core group for secrets) in ns.
func sar(t *testing.T, env *testEnv, user, ns, verb, resource string) bool {
	t.Helper()
	return sarIn(t, env, user, ns, verb, resource, false)
}

func sarIn(t *testing.T, env *testEnv, user, ns, verb, resource string, clusterScoped bool) bool {
	t.Helper()
	group := "oauth.clientreg.dev"
	if resource == "secrets" {
		group = ""
	}
	res, sub, _ := strings.Cut(resource, "/")
	attrs := &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: group, Resource: res, Subresource: sub}
	if clusterScoped {
		attrs.Namespace = ""
	}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               user,
		Groups:             []string{"system:authenticated"},
		ResourceAttributes: attrs,
	}}
	if err := env.c.Create(context.Background(), review); err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return review.Status.Allowed
}

func clusterRole(t *testing.T, env *testEnv, name string) *rbacv1.ClusterRole {
	t.Helper()
	r := &rbacv1.ClusterRole{}
	if err := env.c.Get(context.Background(), client.ObjectKey{Name: name}, r); err != nil {
		t.Fatalf("reading ClusterRole %s: %v", name, err)
	}
	return r
}

// aggregateClusterRoles does what kube-controller-manager's
// clusterrole-aggregation controller does: for every ClusterRole with an
// aggregationRule, the rules become the union (in order, without
// duplicates) of the rules of every other ClusterRole its selectors match.
// Repeated until nothing changes, as view is itself aggregated into edit and
// edit into admin.
func aggregateClusterRoles(t *testing.T, env *testEnv) {
	t.Helper()
	ctx := context.Background()
	for round := 0; ; round++ {
		if round > 10 {
			t.Fatal("ClusterRole aggregation does not converge")
		}
		var roles rbacv1.ClusterRoleList
		if err := env.c.List(ctx, &roles); err != nil {
			t.Fatal(err)
		}
		changed := false
		for i := range roles.Items {
			agg := &roles.Items[i]
			if agg.AggregationRule == nil {
				continue
			}
			var rules []rbacv1.PolicyRule
			seen := map[string]bool{}
			for _, s := range agg.AggregationRule.ClusterRoleSelectors {
				sel, err := metav1.LabelSelectorAsSelector(&s)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range roles.Items {
					if r.Name == agg.Name || !sel.Matches(labels.Set(r.Labels)) {
						continue
					}
					for _, rule := range r.Rules {
						if k := fmt.Sprint(rule); !seen[k] {
							seen[k] = true
							rules = append(rules, rule)
						}
					}
				}
			}
			if reflect.DeepEqual(rules, agg.Rules) || (len(rules) == 0 && len(agg.Rules) == 0) {
				continue
			}
			agg.Rules = rules
			if err := env.c.Update(ctx, agg); err != nil {
				t.Fatalf("aggregating into %s: %v", agg.Name, err)
			}
			changed = true
		}
		if !changed {
			return
		}
	}
}

// impersonate is a client acting as user (in system:authenticated).
func impersonate(t *testing.T, env *testEnv, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: env.scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestChartAggregatedRolesValues: rbac.aggregatedRoles.enabled removes the
// four roles, and clusterServerReaders binds its subjects cluster-wide to
// the read-only role on cluster servers (and nothing else).
func TestChartAggregatedRolesValues(t *testing.T) {
	objs := mustRender(t, defaultRelease, "rbac: {aggregatedRoles: {enabled: false}}")
	for _, r := range aggregatedRoles {
		if find(objs, "ClusterRole", r.name) != nil {
			t.Errorf("%s rendered with rbac.aggregatedRoles.enabled=false", r.name)
		}
	}
	objs = mustRender(t, defaultRelease, "")
	if find(objs, "ClusterRoleBinding", "clientreg-cluster-servers-view") != nil {
		t.Error("a ClusterRoleBinding for cluster server readers is rendered by default")
	}
	objs = mustRender(t, defaultRelease, "rbac: {aggregatedRoles: {clusterServerReaders: [{kind: Group, name: 'system:authenticated', apiGroup: rbac.authorization.k8s.io}]}}")
	crb := find(objs, "ClusterRoleBinding", "clientreg-cluster-servers-view")
	if crb == nil {
		t.Fatalf("no ClusterRoleBinding for cluster server readers:\n%s", keys(objs))
	}
	ref, _, _ := unstructured.NestedString(crb.Object, "roleRef", "name")
	subjects, _, _ := unstructured.NestedSlice(crb.Object, "subjects")
	if ref != "clientreg-cluster-servers-view" || len(subjects) != 1 || subjects[0].(map[string]any)["name"] != "system:authenticated" {
		t.Errorf("binding %s to %v", ref, subjects)
	}
	if _, err := render(t, defaultRelease, "rbac: {aggregatedRoles: {clusterServerReaders: [{kind: Robot, name: r2}]}}"); err == nil {
		t.Error("a subject of kind Robot was accepted")
	}
	// edit writes AuthorizationServers only when editServers says so.
	for _, tc := range []struct {
		values string
		want   bool
	}{{"", false}, {"rbac: {aggregatedRoles: {editServers: true}}", true}} {
		edit := find(mustRender(t, defaultRelease, tc.values), "ClusterRole", "clientreg-edit")
		if edit == nil {
			t.Fatal("no clientreg-edit")
		}
		rules, _, _ := unstructured.NestedSlice(edit.Object, "rules")
		got := false
		for _, r := range rules {
			res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
			got = got || slices.Contains(res, "authorizationservers")
		}
		if got != tc.want {
			t.Errorf("values %q: edit writes authorizationservers = %v, want %v", tc.values, got, tc.want)
		}
	}
}

// The authorization server of these tests: node-oidc-provider running as the
// ServiceAccount idp/oidc-provider, outside the operator's namespace.
const (
	asNamespace = "idp"
	asName      = "oidc-provider"
	asUser      = "system:serviceaccount:" + asNamespace + ":" + asName
)

var asGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + asNamespace, "system:authenticated"}

// keyAccessValues is what config/keyaccess holds: the AS may get the key
// Secret of the ClusterAuthorizationServer corp-idp (in the cluster resource
// namespace, the release namespace by default).
const keyAccessValues = `stateless:
  keyReaders:
  - serviceAccount: {namespace: idp, name: oidc-provider}
    secrets: [corp-idp-stateless-keys]`

// keyReadersValues adds a second entry: the key Secret of the namespaced
// AuthorizationServer apps/apps-idp, with watch (an AS that watches the
// Secret instead of polling it), and a second cluster server's Secret.
const keyReadersValues = `stateless:
  keyReaders:
  - serviceAccount: {namespace: idp, name: oidc-provider}
    secrets: [corp-idp-stateless-keys, partners-stateless-keys]
  - serviceAccount: {namespace: idp, name: oidc-provider}
    namespace: apps
    secrets: [apps-idp-stateless-keys]
    watch: true`

// keyReaderObjects are the objects stateless.keyReaders adds.
func keyReaderObjects(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if (o.GetKind() == "Role" || o.GetKind() == "RoleBinding") && o.GetLabels()["app.kubernetes.io/component"] == "stateless-keys" {
			out = append(out, o)
		}
	}
	return out
}

// TestChartKeyReaders renders stateless.keyReaders: nothing by default; per
// entry a Role whose only rule is get (and list, watch with watch: true) on
// exactly the listed Secrets by name, in the entry's namespace or else the
// cluster resource namespace, and a RoleBinding of it to the entry's
// ServiceAccount and nothing else. Two entries for one ServiceAccount and
// namespace are refused; strict lint passes.
func TestChartKeyReaders(t *testing.T) {
	if got := keyReaderObjects(mustRender(t, defaultRelease, "")); len(got) != 0 {
		t.Errorf("default values render key readers: %s", keys(got))
	}
	lint(t, keyReadersValues)

	type want struct {
		ns      string
		secrets []string
		verbs   []string
	}
	check := func(t *testing.T, objs []*unstructured.Unstructured, wants []want) {
		t.Helper()
		got := keyReaderObjects(objs)
		if len(got) != 2*len(wants) {
			t.Fatalf("%d key reader objects, want %d:\n%s", len(got), 2*len(wants), keys(got))
		}
		const name = "clientreg-key-reader-idp.oidc-provider"
		for _, w := range wants {
			var role, binding *unstructured.Unstructured
			for _, o := range got {
				if o.GetNamespace() == w.ns && o.GetName() == name {
					if o.GetKind() == "Role" {
						role = o
					} else {
						binding = o
					}
				}
			}
			if role == nil || binding == nil {
				t.Fatalf("no Role and RoleBinding %s in %s:\n%s", name, w.ns, keys(got))
			}
			rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
			wantRule := map[string]any{
				"apiGroups":     []any{""},
				"resources":     []any{"secrets"},
				"resourceNames": toAny(w.secrets),
				"verbs":         toAny(w.verbs),
			}
			if len(rules) != 1 || !reflect.DeepEqual(rules[0], wantRule) {
				t.Errorf("%s: rules %v, want only %v", objKey(role), rules, wantRule)
			}
			ref, _, _ := unstructured.NestedMap(binding.Object, "roleRef")
			if !reflect.DeepEqual(ref, map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}) {
				t.Errorf("%s: roleRef %v", objKey(binding), ref)
			}
			subjects, _, _ := unstructured.NestedSlice(binding.Object, "subjects")
			wantSubjects := []any{map[string]any{"kind": "ServiceAccount", "namespace": asNamespace, "name": asName}}
			if !reflect.DeepEqual(subjects, wantSubjects) {
				t.Errorf("%s: subjects %v, want %v", objKey(binding), subjects, wantSubjects)
			}
		}
	}
	check(t, mustRender(t, defaultRelease, keyReadersValues), []want{
		{"clientreg-system", []string{"corp-idp-stateless-keys", "partners-stateless-keys"}, []string{"get"}},
		{"apps", []string{"apps-idp-stateless-keys"}, []string{"get", "list", "watch"}},
	})
	// The default namespace follows clusterResourceNamespace, where the
	// operator keeps the key Secrets of ClusterAuthorizationServers.
	check(t, mustRender(t, defaultRelease, "clusterResourceNamespace: idp-keys\n"+keyAccessValues), []want{
		{"idp-keys", []string{"corp-idp-stateless-keys"}, []string{"get"}},
	})

	_, err := render(t, defaultRelease, keyAccessValues+"\n  - serviceAccount: {namespace: idp, name: oidc-provider}\n    namespace: clientreg-system\n    secrets: [other-stateless-keys]")
	if err == nil || !strings.Contains(err.Error(), "is listed twice") {
		t.Errorf("two entries for one ServiceAccount and namespace: %v", err)
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// TestChartKeyReadersSchemaRefusesBadEntries: an entry needs a ServiceAccount
// (namespace and name) and at least one Secret; every name must be a
// Kubernetes name; nothing else may be set.
func TestChartKeyReadersSchemaRefusesBadEntries(t *testing.T) {
	sa := "serviceAccount: {namespace: idp, name: oidc-provider}"
	for _, bad := range []string{
		"stateless: {keyReaders: [{secrets: [corp-idp-stateless-keys]}]}",
		"stateless: {keyReaders: [{" + sa + "}]}",
		"stateless: {keyReaders: [{" + sa + ", secrets: []}]}",
		"stateless: {keyReaders: [{" + sa + ", secrets: corp-idp-stateless-keys}]}",
		"stateless: {keyReaders: [{" + sa + ", secrets: [Corp_IDP]}]}",
		"stateless: {keyReaders: [{" + sa + ", secrets: ['a b']}]}",
		"stateless: {keyReaders: [{" + sa + ", secrets: ['']}]}",
		"stateless: {keyReaders: [{" + sa + ", secrets: [a, a]}]}",
		"stateless: {keyReaders: [{" + sa + ", secrets: [a], namespace: Apps}]}",
		"stateless: {keyReaders: [{" + sa + ", secrets: [a], namespace: a.b}]}",
		"stateless: {keyReaders: [{" + sa + ", secrets: [a], verbs: [list]}]}",
		"stateless: {keyReaders: [{" + sa + ", secrets: [a], watch: 'yes'}]}",
		"stateless: {keyReaders: [{serviceAccount: {name: oidc-provider}, secrets: [a]}]}",
		"stateless: {keyReaders: [{serviceAccount: {namespace: idp}, secrets: [a]}]}",
		"stateless: {keyReaders: [{serviceAccount: {namespace: idp, name: 'oidc provider'}, secrets: [a]}]}",
		"stateless: {keyReaders: [{serviceAccount: {namespace: 'idp:x', name: oidc-provider}, secrets: [a]}]}",
		"stateless: {keyReaders: [{serviceAccount: {namespace: idp, name: oidc-provider, kind: User}, secrets: [a]}]}",
		"stateless: {keyReaders: {serviceAccount: {namespace: idp, name: oidc-provider}, secrets: [a]}}",
		"stateless: {keyReader: []}",
	} {
		wantSchemaRefusal(t, bad)
	}
	// Real names pass, dots included.
	mustRender(t, defaultRelease, "stateless: {keyReaders: [{serviceAccount: {namespace: idp, name: oidc.provider}, secrets: [corp-idp-stateless-keys, a.b], namespace: apps, watch: false}]}")
}

// TestKustomizeKeyAccessMatchesChart: config/default with the
// config/keyaccess component is the chart with keyAccessValues, object by
// object (rules, roleRef, subjects), and the component adds exactly the
// Role and RoleBinding (config/default's namespace leaves the subject's
// namespace alone).
func TestKustomizeKeyAccessMatchesChart(t *testing.T) {
	kust := kustomizeBuild(t, "config/default", "config/keyaccess")
	chart := mustRender(t, defaultRelease, keyAccessValues)
	kustObjs := sameObjects(t, kust, chart)
	pods, chartPods := podLabels(t, kust), podLabels(t, chart)
	for _, k := range kustObjs {
		compareSubstance(t, k, find(chart, k.GetKind(), k.GetName()), pods, chartPods)
	}
	added := keyReaderObjects(kust)
	if len(added) != 2 || len(kust) != len(kustomizeBuild(t, "config/default"))+2 {
		t.Errorf("the component adds %d objects, want the Role and the RoleBinding:\n%s", len(kust)-len(kustomizeBuild(t, "config/default")), keys(added))
	}
	for _, o := range added {
		if o.GetNamespace() != "clientreg-system" || o.GetName() != "clientreg-key-reader-idp.oidc-provider" {
			t.Errorf("%s: not clientreg-system/clientreg-key-reader-idp.oidc-provider", objKey(o))
		}
	}
}

// TestKeyReadersGrantOnlyTheKeySecret applies the chart with
// keyReadersValues, then config/default with config/keyaccess, to a real
// API server and checks, by SubjectAccessReview and by requests
// impersonating the authorization server's ServiceAccount, that it can get
// each key Secret named for it and nothing more: not another Secret of the
// namespace, not the same name elsewhere, no list or watch (with watch: true
// only of the named Secret, by field selector), no create, update, patch or
// delete. Before the RBAC is applied, and after it is removed, it cannot
// even get the key Secret.
func TestKeyReadersGrantOnlyTheKeySecret(t *testing.T) {
	env := startEnv(t)
	ctx := context.Background()
	for _, ns := range []string{"clientreg-system", "apps", asNamespace, "elsewhere"} {
		if err := env.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: asNamespace, Name: asName}}); err != nil {
		t.Fatal(err)
	}
	// The key Secrets as the operator writes them, and a neighbour in each
	// namespace (and the same name elsewhere) that must stay out of reach.
	for _, key := range []types.NamespacedName{
		{Namespace: "clientreg-system", Name: "corp-idp-stateless-keys"},
		{Namespace: "clientreg-system", Name: "partners-stateless-keys"},
		{Namespace: "clientreg-system", Name: "clientreg-webhook-tls"},
		{Namespace: "apps", Name: "apps-idp-stateless-keys"},
		{Namespace: "apps", Name: "billing-oauth"},
		{Namespace: "elsewhere", Name: "corp-idp-stateless-keys"},
	} {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: map[string]string{"app.kubernetes.io/managed-by": "clientreg"}},
			Data:       map[string][]byte{"keys.json": []byte(`{"keys":[]}`)},
		}
		if err := env.c.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	as := impersonateAS(t, env)

	// The control: without the chart's Role the AS reads nothing.
	if err := as.Get(ctx, client.ObjectKey{Namespace: "clientreg-system", Name: "corp-idp-stateless-keys"}, &corev1.Secret{}); !apierrors.IsForbidden(err) {
		t.Fatalf("before the RBAC is applied, getting the key Secret: %v, want Forbidden", err)
	}

	for _, src := range []struct {
		name    string
		objs    func(t *testing.T) []*unstructured.Unstructured
		readers []keyReader
	}{
		{"chart", func(t *testing.T) []*unstructured.Unstructured {
			return mustRender(t, defaultRelease, keyReadersValues)
		}, []keyReader{
			{ns: "clientreg-system", secret: "corp-idp-stateless-keys", other: "clientreg-webhook-tls"},
			{ns: "clientreg-system", secret: "partners-stateless-keys", other: "clientreg-webhook-tls"},
			{ns: "apps", secret: "apps-idp-stateless-keys", other: "billing-oauth", watch: true},
		}},
		{"kustomize", func(t *testing.T) []*unstructured.Unstructured {
			return kustomizeBuild(t, "config/default", "config/keyaccess")
		}, []keyReader{
			{ns: "clientreg-system", secret: "corp-idp-stateless-keys", other: "partners-stateless-keys"},
		}},
	} {
		t.Run(src.name, func(t *testing.T) {
			objs := src.objs(t)
			env.apply(t, objs)
			// The RBAC authorizer reads Roles from an informer: wait until
			// the first grant is visible.
			eventually(t, 30*time.Second, func() error {
				return as.Get(ctx, client.ObjectKey{Namespace: src.readers[0].ns, Name: src.readers[0].secret}, &corev1.Secret{})
			})
			for _, r := range src.readers {
				checkKeyReader(t, env, as, r)
			}
			// Cluster-wide: nothing.
			for _, verb := range []string{"get", "list", "watch"} {
				if secretSAR(t, env, "", verb, "") {
					t.Errorf("the AS may %s Secrets cluster-wide", verb)
				}
			}
			if err := as.List(ctx, &corev1.SecretList{}); !apierrors.IsForbidden(err) {
				t.Errorf("listing Secrets cluster-wide: %v, want Forbidden", err)
			}
			// Remove the grants: the AS is back to nothing.
			for _, o := range keyReaderObjects(objs) {
				if err := env.c.Delete(ctx, o.DeepCopy()); err != nil {
					t.Fatalf("deleting %s: %v", objKey(o), err)
				}
			}
			eventually(t, 30*time.Second, func() error {
				for _, r := range src.readers {
					if secretSAR(t, env, r.ns, "get", r.secret) {
						return fmt.Errorf("the AS may still get %s/%s", r.ns, r.secret)
					}
				}
				return nil
			})
		})
	}
}

// keyReader is one key Secret the AS may get, and a Secret next to it that
// it may not.
type keyReader struct {
	ns, secret, other string
	watch             bool
}

func impersonateAS(t *testing.T, env *testEnv) client.WithWatch {
	t.Helper()
	c, err := client.NewWithWatch(asConfig(env), client.Options{Scheme: env.scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func asConfig(env *testEnv) *rest.Config {
	cfg := rest.CopyConfig(env.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: asUser, Groups: asGroups}
	return cfg
}

// secretSAR asks whether the AS may verb the Secret name in ns (name empty:
// any Secret; ns empty: cluster-wide).
func secretSAR(t *testing.T, env *testEnv, ns, verb, name string) bool {
	t.Helper()
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               asUser,
		Groups:             asGroups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Resource: "secrets", Name: name},
	}}
	if err := env.c.Create(context.Background(), review); err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return review.Status.Allowed
}

func checkKeyReader(t *testing.T, env *testEnv, as client.WithWatch, r keyReader) {
	t.Helper()
	ctx := context.Background()
	key := client.ObjectKey{Namespace: r.ns, Name: r.secret}

	// The authorizer's answers.
	for _, c := range []struct {
		verb, ns, name string
		allowed        bool
	}{
		{"get", r.ns, r.secret, true},
		{"get", r.ns, r.other, false},
		{"get", "elsewhere", r.secret, false},
		{"list", r.ns, "", false},
		{"watch", r.ns, "", false},
		{"list", r.ns, r.secret, r.watch},
		{"watch", r.ns, r.secret, r.watch},
		{"list", r.ns, r.other, false},
		{"create", r.ns, "", false},
		{"update", r.ns, r.secret, false},
		{"patch", r.ns, r.secret, false},
		{"delete", r.ns, r.secret, false},
		{"deletecollection", r.ns, "", false},
	} {
		if got := secretSAR(t, env, c.ns, c.verb, c.name); got != c.allowed {
			t.Errorf("SubjectAccessReview: %s Secret %q in %s: allowed=%v, want %v", c.verb, c.name, c.ns, got, c.allowed)
		}
	}

	// What real requests as the AS get.
	s := &corev1.Secret{}
	if err := as.Get(ctx, key, s); err != nil {
		t.Errorf("getting the key Secret %s: %v", key, err)
	} else if _, ok := s.Data["keys.json"]; !ok {
		t.Errorf("the key Secret %s read without keys.json: %v", key, slices.Collect(mapKeys(s.Data)))
	}
	forbidden := func(what string, err error) {
		t.Helper()
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want Forbidden", what, err)
		}
	}
	forbidden("getting "+r.other, as.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: r.other}, &corev1.Secret{}))
	forbidden("getting "+r.secret+" in elsewhere", as.Get(ctx, client.ObjectKey{Namespace: "elsewhere", Name: r.secret}, &corev1.Secret{}))
	forbidden("listing Secrets in "+r.ns, as.List(ctx, &corev1.SecretList{}, client.InNamespace(r.ns)))
	if w, err := as.Watch(ctx, &corev1.SecretList{}, client.InNamespace(r.ns)); err == nil {
		w.Stop()
		t.Errorf("watching Secrets in %s was allowed", r.ns)
	} else {
		forbidden("watching Secrets in "+r.ns, err)
	}
	byName := client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", r.secret)}
	list := &corev1.SecretList{}
	err := as.List(ctx, list, client.InNamespace(r.ns), byName)
	if r.watch {
		if err != nil || len(list.Items) != 1 {
			t.Errorf("listing %s by name with watch: %v (%d items)", key, err, len(list.Items))
		}
		w, err := as.Watch(ctx, &corev1.SecretList{}, client.InNamespace(r.ns), byName)
		if err != nil {
			t.Errorf("watching %s by name with watch: %v", key, err)
		} else {
			w.Stop()
		}
	} else {
		forbidden("listing the key Secret by name without watch", err)
	}
	forbidden("listing "+r.other+" by name", as.List(ctx, &corev1.SecretList{}, client.InNamespace(r.ns),
		client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", r.other)}))

	// No writes to the key Secret, nor new Secrets.
	changed := s.DeepCopy()
	changed.Data = map[string][]byte{"keys.json": []byte(`{"keys":["mine"]}`)}
	forbidden("updating the key Secret", as.Update(ctx, changed))
	forbidden("patching the key Secret", as.Patch(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: r.secret}},
		client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`))))
	forbidden("deleting the key Secret", as.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: r.secret}}))
	forbidden("creating a Secret", as.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: "planted"}}))
	forbidden("deleting every Secret", as.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace(r.ns)))

	// And nothing else came with the binding: not even the RBAC objects
	// that grant it, nor a token of its own ServiceAccount.
	forbidden("listing Roles in "+r.ns, as.List(ctx, &rbacv1.RoleList{}, client.InNamespace(r.ns)))
	forbidden("getting the Role", as.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: "clientreg-key-reader-idp.oidc-provider"}, &rbacv1.Role{}))
	forbidden("listing ConfigMaps in "+r.ns, as.List(ctx, &corev1.ConfigMapList{}, client.InNamespace(r.ns)))
}

// TestChartReadmeKeyMaterialExamples: the chart README's examples of
// "Key material for the authorization server" stay true: the values render
// the Roles it describes, and the volume snippet is a pod template that
// mounts the whole key Secret volume (no subPath, which the kubelet never
// updates), read-only, with the keys.json path the integration reads.
func TestChartReadmeKeyMaterialExamples(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Key material for the authorization server\n")
	if !ok {
		t.Fatal("the chart README has no section \"Key material for the authorization server\"")
	}
	var blocks []string
	for rest := section; ; {
		_, after, ok := strings.Cut(rest, "```yaml\n")
		if !ok {
			break
		}
		block, tail, _ := strings.Cut(after, "```")
		blocks = append(blocks, block)
		rest = tail
	}
	if len(blocks) != 2 {
		t.Fatalf("%d yaml examples, want the volume snippet and the values", len(blocks))
	}

	var deploy appsv1.Deployment
	if err := sigsyaml.UnmarshalStrict([]byte(blocks[0]), &deploy); err != nil {
		t.Fatalf("the volume snippet is not a Deployment: %v", err)
	}
	pod := deploy.Spec.Template.Spec
	if len(pod.Volumes) != 1 || pod.Volumes[0].Secret == nil || !strings.HasSuffix(pod.Volumes[0].Secret.SecretName, "-stateless-keys") {
		t.Fatalf("volumes %+v: want the key Secret", pod.Volumes)
	}
	if len(pod.Containers) != 1 || len(pod.Containers[0].VolumeMounts) != 1 {
		t.Fatalf("containers %+v", pod.Containers)
	}
	m := pod.Containers[0].VolumeMounts[0]
	if m.Name != pod.Volumes[0].Name || m.SubPath != "" || !m.ReadOnly {
		t.Errorf("mount %+v: want the key volume, read-only, without subPath", m)
	}
	items := pod.Volumes[0].Secret.Items
	if len(items) != 1 || items[0].Key != "keys.json" || !strings.Contains(blocks[0], "keySetFile: '"+path.Join(m.MountPath, items[0].Path)+"'") {
		t.Errorf("items %+v under %s do not give the keySetFile shown", items, m.MountPath)
	}
	if mode := pod.Volumes[0].Secret.DefaultMode; mode == nil || *mode&0o004 != 0 || pod.SecurityContext == nil || pod.SecurityContext.FSGroup == nil {
		t.Errorf("keys.json readable by others (mode %v) or no fsGroup to read it by (%+v)", mode, pod.SecurityContext)
	}

	objs := mustRender(t, defaultRelease, blocks[1])
	got := keyReaderObjects(objs)
	var names []string
	for _, o := range got {
		names = append(names, objKey(o))
	}
	want := []string{
		"Role/apps/clientreg-key-reader-idp.oidc-provider",
		"Role/clientreg-system/clientreg-key-reader-idp.oidc-provider",
		"RoleBinding/apps/clientreg-key-reader-idp.oidc-provider",
		"RoleBinding/clientreg-system/clientreg-key-reader-idp.oidc-provider",
	}
	if !slices.Equal(names, want) {
		t.Errorf("the README's values render %v, want %v", names, want)
	}
}

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
