package install

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	goyaml "go.yaml.in/yaml/v3"

	clientregwebhook "github.com/clientreg/clientreg/webhook"
	webhookv1alpha1 "github.com/clientreg/clientreg/webhook/v1alpha1"
)

// valueSets are the values the chart is linted, rendered and applied with:
// the defaults and every non-default mode.
var valueSets = []struct {
	name   string
	values string
	// want and absent are kinds that must (not) be rendered.
	want, absent []string
}{
	{
		name:   "defaults",
		want:   []string{"CustomResourceDefinition", "Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "Secret", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"},
		absent: []string{"Certificate", "Issuer", "ServiceMonitor", "PodDisruptionBudget", "NetworkPolicy"},
	},
	{
		name:   "cert-manager",
		values: "webhook: {certManagement: certManager}",
		want:   []string{"Certificate", "Issuer", "ValidatingWebhookConfiguration"},
		absent: []string{"Secret"},
	},
	{
		name:   "cert-manager with a ClusterIssuer",
		values: "webhook: {certManagement: certManager, certManager: {issuerRef: {name: corp-ca, kind: ClusterIssuer}}}",
		want:   []string{"Certificate"},
		absent: []string{"Issuer", "Secret"},
	},
	{
		name:   "monitoring, PDB and NetworkPolicy",
		values: "metrics: {serviceMonitor: {enabled: true, labels: {release: prom}}}\npodDisruptionBudget: {enabled: true}\nnetworkPolicy: {enabled: true, webhookFrom: [{ipBlock: {cidr: 10.0.0.0/8}}]}",
		want:   []string{"ServiceMonitor", "PodDisruptionBudget", "NetworkPolicy"},
	},
	{
		name:   "CRDs not kept",
		values: "crds: {keep: false}",
		want:   []string{"CustomResourceDefinition"},
	},
	{
		name:   "no CRDs, no webhooks, no admission policy",
		values: "crds: {enabled: false}\nwebhook: {enabled: false}\nrbac: {secretWritePolicy: false}",
		want:   []string{"Deployment"},
		absent: []string{"CustomResourceDefinition", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "Secret", "ValidatingAdmissionPolicy"},
	},
	{
		name:   "registration endpoint",
		values: "registration: {enabled: true, baseURL: https://clientreg.example.com, tls: {secretName: clientreg-registration-tls}, service: {type: LoadBalancer}}\nreplicaCount: 3\nimage: {digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}",
		want:   []string{"Service"},
	},
}

func lint(t *testing.T, valuesYAML string) {
	t.Helper()
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(valuesYAML), &vals); err != nil {
		t.Fatal(err)
	}
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	l := action.NewLint()
	l.Strict = true
	l.Namespace = defaultRelease.namespace
	l.KubeVersion = kv
	res := l.Run([]string{chartDir(t)}, vals)
	for _, m := range res.Messages {
		t.Logf("lint: %s", m.Error())
	}
	if len(res.Errors) > 0 || res.TotalChartsLinted != 1 {
		t.Fatalf("helm lint (strict) with %q: %v", valuesYAML, res.Errors)
	}
}

// TestChartLintAndTemplate lints the chart (strict: warnings fail) and renders
// it with every value set, checking which kinds appear.
func TestChartLintAndTemplate(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			lint(t, vs.values)
			objs := mustRender(t, defaultRelease, vs.values)
			k := kinds(objs)
			for _, w := range vs.want {
				if k[w] == 0 {
					t.Errorf("no %s rendered; got:\n%s", w, keys(objs))
				}
			}
			for _, a := range vs.absent {
				if k[a] != 0 {
					t.Errorf("%s rendered, but must not be; got:\n%s", a, keys(objs))
				}
			}
			for _, o := range objs {
				if ns := o.GetNamespace(); ns != "" && ns != defaultRelease.namespace {
					t.Errorf("%s is in namespace %q, not the release's", objKey(o), ns)
				}
			}
			checkDeployment(t, objs, vs.values)
		})
	}
}

// checkDeployment checks what every rendering's Deployment must have: two
// replicas (unless set), leader election, probes on the probe port, resource
// requests and the restricted security context.
func checkDeployment(t *testing.T, objs []*unstructured.Unstructured, values string) {
	t.Helper()
	d := find(objs, "Deployment", "clientreg-controller-manager")
	if d == nil {
		t.Fatalf("no Deployment clientreg-controller-manager:\n%s", keys(objs))
	}
	replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	if want := int64(2); !strings.Contains(values, "replicaCount") && replicas != want {
		t.Errorf("replicas = %d, want %d", replicas, want)
	}
	pod, _, _ := unstructured.NestedMap(d.Object, "spec", "template", "spec")
	psc, _, _ := unstructured.NestedMap(pod, "securityContext")
	if psc["runAsNonRoot"] != true || !mapHas(psc, "seccompProfile", "type", "RuntimeDefault") {
		t.Errorf("pod securityContext is not restricted: %v", psc)
	}
	cs, _, _ := unstructured.NestedSlice(pod, "containers")
	if len(cs) != 1 {
		t.Fatalf("%d containers", len(cs))
	}
	c := cs[0].(map[string]any)
	sc, _ := c["securityContext"].(map[string]any)
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false || sc["runAsNonRoot"] != true {
		t.Errorf("container securityContext is not restricted: %v", sc)
	}
	if drop, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "drop"); !slices.Equal(drop, []string{"ALL"}) {
		t.Errorf("capabilities drop %v, want [ALL]", drop)
	}
	for _, p := range []string{"livenessProbe", "readinessProbe"} {
		if port, _, _ := unstructured.NestedFieldNoCopy(c, p, "httpGet", "port"); port != "health" {
			t.Errorf("%s port %v, want the probe port", p, port)
		}
	}
	if req, _, _ := unstructured.NestedStringMap(c, "resources", "requests"); req["cpu"] == "" || req["memory"] == "" {
		t.Errorf("no cpu and memory requests: %v", req)
	}
	args, _, _ := unstructured.NestedStringSlice(c, "args")
	if !slices.Contains(args, "--leader-elect=true") {
		t.Errorf("no leader election: %v", args)
	}
	env, _, _ := unstructured.NestedSlice(c, "env")
	if len(env) == 0 || env[0].(map[string]any)["name"] != "POD_NAMESPACE" {
		t.Errorf("POD_NAMESPACE not set: %v", env)
	}
}

func mapHas(m map[string]any, path ...string) bool {
	v, _, _ := unstructured.NestedString(m, path[:len(path)-1]...)
	return v == path[len(path)-1]
}

// TestChartValues checks what specific values change in the rendering.
func TestChartValues(t *testing.T) {
	t.Run("crds.keep", func(t *testing.T) {
		for _, keep := range []bool{true, false} {
			objs := mustRender(t, defaultRelease, "crds: {keep: "+map[bool]string{true: "true", false: "false"}[keep]+"}")
			n := 0
			for _, o := range objs {
				if o.GetKind() != "CustomResourceDefinition" {
					continue
				}
				n++
				if got := o.GetAnnotations()["helm.sh/resource-policy"] == "keep"; got != keep {
					t.Errorf("crds.keep=%v: %s has keep annotation %v", keep, o.GetName(), got)
				}
			}
			if n != 3 {
				t.Errorf("%d CRDs, want 3", n)
			}
		}
	})
	t.Run("cert-manager injection", func(t *testing.T) {
		objs := mustRender(t, defaultRelease, "webhook: {certManagement: certManager}")
		for _, k := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
			for _, o := range objs {
				if o.GetKind() == k && o.GetAnnotations()["cert-manager.io/inject-ca-from"] != "clientreg-system/clientreg-webhook-cert" {
					t.Errorf("%s has no CA injection annotation: %v", o.GetName(), o.GetAnnotations())
				}
			}
		}
		args := containerArgs(t, objs)
		if !slices.Contains(args, "--webhook-cert-management=external") {
			t.Errorf("args %v", args)
		}
		cert := find(objs, "Certificate", "clientreg-webhook-cert")
		if dns, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames"); !slices.Contains(dns, "clientreg-webhook-service.clientreg-system.svc") {
			t.Errorf("certificate names %v", dns)
		}
	})
	t.Run("registration endpoint", func(t *testing.T) {
		objs := mustRender(t, defaultRelease, valueSets[6].values)
		args := containerArgs(t, objs)
		for _, a := range []string{"--registration-base-url=https://clientreg.example.com", "--registration-tls-secret=clientreg-system/clientreg-registration-tls"} {
			if !slices.Contains(args, a) {
				t.Errorf("no %s in %v", a, args)
			}
		}
		svc := find(objs, "Service", "clientreg-registration")
		if svc == nil {
			t.Fatalf("no registration Service:\n%s", keys(objs))
		}
		if typ, _, _ := unstructured.NestedString(svc.Object, "spec", "type"); typ != "LoadBalancer" {
			t.Errorf("registration Service type %q", typ)
		}
		d := find(objs, "Deployment", "clientreg-controller-manager")
		img, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		if !strings.HasSuffix(img[0].(map[string]any)["image"].(string), "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") {
			t.Errorf("image %v does not use the digest", img[0].(map[string]any)["image"])
		}
	})
	t.Run("release name", func(t *testing.T) {
		objs := mustRender(t, release{name: "idp", namespace: "auth"}, "")
		for _, o := range objs {
			fixed := o.GetKind() == "CustomResourceDefinition" || strings.HasPrefix(o.GetName(), "clientreg-webhook-") ||
				strings.HasSuffix(o.GetKind(), "WebhookConfiguration")
			if !fixed && !strings.HasPrefix(o.GetName(), "idp-clientreg-") {
				t.Errorf("%s is not prefixed with the release", objKey(o))
			}
		}
		vap := find(objs, "ValidatingAdmissionPolicy", "idp-clientreg-secret-writes")
		conds, _, _ := unstructured.NestedSlice(vap.Object, "spec", "matchConditions")
		if !strings.Contains(conds[0].(map[string]any)["expression"].(string), `"system:serviceaccount:auth:idp-clientreg-controller-manager"`) {
			t.Errorf("the admission policy does not match the release's ServiceAccount: %v", conds)
		}
	})
}

func containerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	d := find(objs, "Deployment", "clientreg-controller-manager")
	cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	args, _, _ := unstructured.NestedStringSlice(cs[0].(map[string]any), "args")
	return args
}

// TestChartSchemaRefusesBadValues: Helm refuses values that values.schema.json
// does not allow, and the templates' `required` checks refuse incomplete ones.
func TestChartSchemaRefusesBadValues(t *testing.T) {
	for _, bad := range []string{
		"replicaCount: two",
		"replicaCount: -1",
		"unknownTopLevel: 1",
		"image: {pullPolicy: Sometimes}",
		"image: {digest: latest}",
		"crds: {enabled: yes-please}",
		"crds: {keepp: true}",
		"webhook: {certManagement: openssl}",
		"webhook: {port: 70000}",
		"webhook: {certManager: {issuerRef: {kind: Vault}}}",
		"webhook: {certManager: {duration: 90d}}",
		"metrics: {serviceMonitor: {interval: often}}",
		"registration: {enabled: true}",
		"registration: {baseURL: ftp://x}",
		"registration: {service: {type: ExternalName}}",
		"resources: {requests: {cpu: lots}}",
		"podDisruptionBudget: {minAvailable: half}",
		"logging: {format: xml}",
		"deletionTimeout: forever",
		"deletionTimeout: '-1h'",
		"fullnameOverride: Not_A_DNS_Name",
		"serviceAccount: {create: false}",
		"registration: {enabled: true, baseURL: https://x.example}",
	} {
		// The last two pass the schema; the templates' required checks refuse them.
		want := "don't meet the specifications of the schema"
		if strings.HasPrefix(bad, "serviceAccount") || strings.Contains(bad, "x.example") {
			want = "is required when"
		}
		if _, err := render(t, defaultRelease, bad); err == nil {
			t.Errorf("values %q were accepted", bad)
		} else if !strings.Contains(err.Error(), want) {
			t.Errorf("values %q refused for another reason than %q: %v", bad, want, err)
		} else {
			t.Logf("%q refused: %v", bad, firstLine(err.Error()))
		}
	}
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// TestChartValuesDocumented: every key in values.yaml has a comment (on it
// or, for the members of a documented list item, on the list) and is
// described by values.schema.json (the schema forbids unknown keys).
func TestChartValuesDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir(t), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc goyaml.Node
	if err := goyaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(path string, node *goyaml.Node)
	walk = func(path string, node *goyaml.Node) {
		if node.Kind != goyaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			p := strings.TrimPrefix(path+"."+k.Value, ".")
			n++
			if strings.TrimSpace(k.HeadComment) == "" {
				t.Errorf("values.yaml: %s (line %d) has no comment", p, k.Line)
			}
			walk(p, v)
		}
	}
	walk("", doc.Content[0])
	if n < 50 {
		t.Fatalf("only %d keys found in values.yaml", n)
	}
	schema, err := os.ReadFile(filepath.Join(chartDir(t), "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(schema), `"$schema": "http://json-schema.org/draft-07/schema#"`) ||
		strings.Count(string(schema), `"additionalProperties": false`) < 15 {
		t.Error("values.schema.json is not a closed draft-07 schema")
	}
}

// TestChartFlagsExist checks that every manager flag the chart passes is
// defined (by main.go, by the webhook options or by controller-runtime's zap
// options), so a renamed flag cannot leave the chart starting a manager that
// exits on an unknown flag.
func TestChartFlagsExist(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	(&zap.Options{}).BindFlags(fs)
	(&clientregwebhook.Options{}).BindFlags(fs, "")
	defined := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { defined[f.Name] = true })
	mainFlags := regexp.MustCompile(`flag\.\w+Var\(&?\w+(?:\.\w+)*, "([a-z0-9-]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(mainFlags) < 10 {
		t.Fatalf("found only %d flags in main.go", len(mainFlags))
	}
	for _, m := range mainFlags {
		defined[m[1]] = true
	}
	for _, vs := range valueSets {
		for _, a := range containerArgs(t, mustRender(t, defaultRelease, vs.values)) {
			name := strings.SplitN(strings.TrimPrefix(a, "--"), "=", 2)[0]
			if !defined[name] {
				t.Errorf("%s: the chart passes %s, which the manager does not define", vs.name, a)
			}
		}
	}
}

// TestChartWebhookNames: the chart's webhook Service, Secret and
// configurations carry the names the manager's certificate rotator uses.
func TestChartWebhookNames(t *testing.T) {
	for _, rel := range []release{defaultRelease, {name: "idp", namespace: "auth"}} {
		objs := mustRender(t, rel, "")
		for _, want := range []struct{ kind, name string }{
			{"Service", webhookv1alpha1.ServiceName},
			{"Secret", webhookv1alpha1.CertSecretName},
			{"ValidatingWebhookConfiguration", webhookv1alpha1.ValidatingWebhookConfigurationName},
			{"MutatingWebhookConfiguration", webhookv1alpha1.MutatingWebhookConfigurationName},
		} {
			if find(objs, want.kind, want.name) == nil {
				t.Errorf("release %s: no %s %s:\n%s", rel.name, want.kind, want.name, keys(objs))
			}
		}
		for _, k := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
			for _, o := range objs {
				if o.GetKind() != k {
					continue
				}
				hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
				for _, h := range hooks {
					svc, _, _ := unstructured.NestedStringMap(h.(map[string]any), "clientConfig", "service")
					if svc["name"] != webhookv1alpha1.ServiceName || svc["namespace"] != rel.namespace {
						t.Errorf("%s calls Service %s/%s", o.GetName(), svc["namespace"], svc["name"])
					}
				}
			}
		}
	}
}

// TestChartSchemaRefusesUnsafeNames: names the templates put into manager
// arguments and into the Secret-write policy's CEL expression must be
// Kubernetes names. Before, `registration.tls.secretName: "a #b"` rendered
// --registration-tls-secret=<ns>/a (the rest became a YAML comment), and a
// serviceAccount.name with a quote broke the policy's CEL string (a
// matchCondition that does not compile fails every Secret write it covers).
func TestChartSchemaRefusesUnsafeNames(t *testing.T) {
	for _, bad := range []string{
		`serviceAccount: {name: 'a"b'}`,
		`serviceAccount: {create: false, name: 'Not A Name'}`,
		`registration: {enabled: true, baseURL: https://x.example, tls: {secretName: 'a #b'}}`,
		`webhook: {certManagement: certManager, certManager: {issuerRef: {name: 'x: y'}}}`,
	} {
		wantSchemaRefusal(t, bad)
	}
	// Real names still pass.
	mustRender(t, defaultRelease, "serviceAccount: {name: clientreg-sa}\npriorityClassName: system-cluster-critical\nregistration: {enabled: true, baseURL: https://x.example, tls: {secretName: clientreg.tls}}")
}

// TestChartPriorityClassNameIsAString: a name YAML would read as another
// type ("true", "1") is still rendered as a string; before, it rendered
// priorityClassName: true, which the API server refuses.
func TestChartPriorityClassNameIsAString(t *testing.T) {
	d := find(mustRender(t, defaultRelease, "priorityClassName: 'true'"), "Deployment", "clientreg-controller-manager")
	if got, ok, err := unstructured.NestedString(d.Object, "spec", "template", "spec", "priorityClassName"); !ok || err != nil || got != "true" {
		t.Errorf("priorityClassName = %q (found %v, %v), want the string \"true\"", got, ok, err)
	}
}

// TestChartPodDisruptionBudgetMaxUnavailableZero: maxUnavailable 0 (no
// voluntary disruption at all) is a value, not "unset"; before, it fell
// back to minAvailable.
func TestChartPodDisruptionBudgetMaxUnavailableZero(t *testing.T) {
	for values, want := range map[string]map[string]any{
		"podDisruptionBudget: {enabled: true, maxUnavailable: 0}":   {"maxUnavailable": int64(0)},
		"podDisruptionBudget: {enabled: true, maxUnavailable: 25%}": {"maxUnavailable": "25%"},
		"podDisruptionBudget: {enabled: true}":                      {"minAvailable": int64(1)},
	} {
		var pdb *unstructured.Unstructured
		for _, o := range mustRender(t, defaultRelease, values) {
			if o.GetKind() == "PodDisruptionBudget" {
				pdb = o
			}
		}
		if pdb == nil {
			t.Fatalf("%q: no PodDisruptionBudget", values)
		}
		spec, _, _ := unstructured.NestedMap(pdb.Object, "spec")
		delete(spec, "selector")
		if len(spec) != len(want) {
			t.Errorf("%q: spec %v, want %v", values, spec, want)
		}
		for k, v := range want {
			if spec[k] != v {
				t.Errorf("%q: spec.%s = %#v, want %#v", values, k, spec[k], v)
			}
		}
	}
}

// wantSchemaRefusal checks that the chart's values schema refuses values.
func wantSchemaRefusal(t *testing.T, values string) {
	t.Helper()
	if _, err := render(t, defaultRelease, values); err == nil {
		t.Errorf("values %q were accepted", values)
	} else if !strings.Contains(err.Error(), "don't meet the specifications of the schema") {
		t.Errorf("values %q refused for another reason than the schema: %v", values, err)
	}
}
