package install

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
