package install

import (
	"context"
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"
)

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
