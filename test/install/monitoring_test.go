package install

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	// The packages whose init registers controller-runtime's series with
	// its registry, as in the manager binary: reconciles (pkg/controller,
	// through its internal metrics), work queues, client-go and leader
	// election (pkg/metrics), webhooks.
	_ "sigs.k8s.io/controller-runtime/pkg/controller"
	_ "sigs.k8s.io/controller-runtime/pkg/webhook"

	clientregmetrics "github.com/clientreg/clientreg/controllers/metrics"
)

const monitoringValues = "metrics: {prometheusRule: {enabled: true}, dashboards: {enabled: true}}"

// registeredSeries is what the manager exports: clientreg's own series,
// described by the collectors controllers/metrics.New registers (names,
// label names, histograms), and controller-runtime's, whose presence in its
// registry is probed by name.
type registeredSeries struct {
	own        map[string][]string // name -> label names
	histograms map[string]bool
}

// describingRegisterer registers with a real registry and records what each
// collector describes.
type describingRegisterer struct {
	reg        *prometheus.Registry
	descs      []string
	histograms []string
}

func (d *describingRegisterer) Register(c prometheus.Collector) error {
	if err := d.reg.Register(c); err != nil {
		return err
	}
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		d.descs = append(d.descs, desc.String())
		if _, ok := c.(*prometheus.HistogramVec); ok {
			d.histograms = append(d.histograms, desc.String())
		}
	}
	return nil
}

func (d *describingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

func (d *describingRegisterer) Unregister(c prometheus.Collector) bool { return d.reg.Unregister(c) }

var descRE = regexp.MustCompile(`^Desc\{fqName: "([^"]+)", .*variableLabels: \{([^}]*)\}\}$`)

func managerSeries(t *testing.T) registeredSeries {
	t.Helper()
	rec := &describingRegisterer{reg: prometheus.NewRegistry()}
	if _, err := clientregmetrics.New(rec); err != nil {
		t.Fatal(err)
	}
	s := registeredSeries{own: map[string][]string{}, histograms: map[string]bool{}}
	parse := func(desc string) (string, []string) {
		m := descRE.FindStringSubmatch(desc)
		if m == nil {
			t.Fatalf("cannot read the descriptor %s", desc)
		}
		var ls []string
		for l := range strings.SplitSeq(m[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				ls = append(ls, l)
			}
		}
		return m[1], ls
	}
	for _, d := range rec.descs {
		name, ls := parse(d)
		s.own[name] = ls
	}
	for _, d := range rec.histograms {
		name, _ := parse(d)
		s.histograms[name] = true
	}
	if len(s.own) < 5 {
		t.Fatalf("controllers/metrics.New registered only %v", s.own)
	}
	return s
}

// controllerRuntimeHas reports whether a series of that name is registered
// with controller-runtime's registry (the one the manager serves): a probe
// gauge of the same name with another help text is refused exactly when it
// is.
func controllerRuntimeHas(t reporter, name string) bool {
	t.Helper()
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "clientreg test probe " + name})
	err := ctrlmetrics.Registry.Register(probe)
	if err == nil {
		ctrlmetrics.Registry.Unregister(probe)
		return false
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) || strings.Contains(err.Error(), "previously registered descriptor with the same fully-qualified name") {
		return true
	}
	t.Fatalf("probing %s: %v", name, err)
	return false
}

// reporter is the part of testing.T the checks use, so a test can run them
// on a recorder and see them fail.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// recorder is a reporter that remembers failures.
type recorder struct{ errs []string }

func (r *recorder) Helper()                      {}
func (r *recorder) Errorf(f string, args ...any) { r.errs = append(r.errs, fmt.Sprintf(f, args...)) }
func (r *recorder) Fatalf(f string, args ...any) { r.errs = append(r.errs, fmt.Sprintf(f, args...)) }

// targetLabels are the labels Prometheus (and prometheus-operator's target
// relabelling) adds to every scraped series.
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "container", "endpoint"}

// checkQuery parses expr as PromQL and checks each series it selects: a name
// the manager registers (or "up", which Prometheus makes per target), and,
// for clientreg's own series, label names the series has (or target labels,
// or exported_<label> for a series label that collides with one).
func checkQuery(t reporter, where, expr string, s registeredSeries) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q does not parse as PromQL: %v", where, expr, err)
		return nil
	}
	var names []string
	allowed := func(name string) (labelSet []string, ok bool) {
		if name == "up" {
			return targetLabels, true
		}
		base := name
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, found := strings.CutSuffix(name, suf); found && (s.histograms[b] || (s.own[b] == nil && controllerRuntimeHas(t, b))) {
				base = b
				if suf == "_bucket" {
					labelSet = append(labelSet, "le")
				}
			}
		}
		if ls, own := s.own[base]; own {
			if base != name && !s.histograms[base] {
				return nil, false
			}
			labelSet = append(labelSet, ls...)
			for _, l := range ls {
				if slices.Contains(targetLabels, l) {
					labelSet = append(labelSet, "exported_"+l)
				}
			}
			return append(labelSet, targetLabels...), true
		}
		if strings.HasPrefix(base, clientregmetrics.Namespace+"_") {
			return nil, false
		}
		return nil, controllerRuntimeHas(t, base) // labels not known: not checked
	}
	// check returns the label names of the series under n (nil: unknown),
	// reporting what is wrong with them when report is set.
	check := func(n parser.Node, report bool) []string {
		errorf := t.Errorf
		if !report {
			errorf = func(string, ...any) {}
		}
		var all []string
		known := true
		parser.Inspect(n, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			if vs.Name == "" {
				errorf("%s: a selector without a metric name in %q", where, expr)
				return nil
			}
			if report {
				names = append(names, vs.Name)
			}
			ls, ok := allowed(vs.Name)
			if !ok {
				errorf("%s: %s is not a series the manager registers (in %q)", where, vs.Name, expr)
				return nil
			}
			if ls == nil {
				known = false
				return nil
			}
			all = append(all, ls...)
			for _, m := range vs.LabelMatchers {
				if m.Name != model.MetricNameLabel && !slices.Contains(ls, m.Name) {
					errorf("%s: %s has no label %q (in %q)", where, vs.Name, m.Name, expr)
				}
			}
			return nil
		})
		if !known {
			return nil
		}
		return all
	}
	check(e, true)
	// Grouping labels must exist on the series aggregated.
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		agg, ok := node.(*parser.AggregateExpr)
		if !ok || agg.Without {
			return nil
		}
		ls := check(agg.Expr, false)
		if ls == nil {
			return nil
		}
		for _, g := range agg.Grouping {
			if !slices.Contains(ls, g) {
				t.Errorf("%s: grouping by %q, which the series under %s do not have", where, g, agg.Expr)
			}
		}
		return nil
	})
	return names
}

// TestPrometheusRulesUseRegisteredSeries renders the chart with the
// PrometheusRule enabled, parses every rule expression as PromQL and checks
// every series it names against what the manager registers.
func TestPrometheusRulesUseRegisteredSeries(t *testing.T) {
	lint(t, "metrics: {serviceMonitor: {enabled: true}, prometheusRule: {enabled: true, labels: {release: prom}}, dashboards: {enabled: true, annotations: {grafana_folder: Identity}}}")
	s := managerSeries(t)
	objs := mustRender(t, defaultRelease, monitoringValues)
	rule := find(objs, "PrometheusRule", "clientreg")
	if rule == nil {
		t.Fatalf("no PrometheusRule rendered:\n%s", keys(objs))
	}
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	alerts := map[string]string{}
	used := map[string]bool{}
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			rm := r.(map[string]any)
			name, _ := rm["alert"].(string)
			expr, _ := rm["expr"].(string)
			if name == "" || expr == "" {
				t.Errorf("a rule without alert or expr: %v", rm)
				continue
			}
			if _, dup := alerts[name]; dup {
				t.Errorf("alert %s twice", name)
			}
			alerts[name] = expr
			for _, n := range checkQuery(t, "alert "+name, expr, s) {
				used[n] = true
			}
			if sev, _, _ := unstructured.NestedString(rm, "labels", "severity"); sev != "warning" && sev != "critical" {
				t.Errorf("alert %s: severity %q", name, sev)
			}
			for _, a := range []string{"summary", "description"} {
				if v, _, _ := unstructured.NestedString(rm, "annotations", a); v == "" {
					t.Errorf("alert %s has no %s", name, a)
				}
			}
			if !strings.Contains(expr, `job="clientreg-metrics"`) {
				t.Errorf("alert %s does not select the manager's job: %s", name, expr)
			}
		}
	}
	for _, want := range []string{"ClientregManagerDown", "ClientregRegistrationsFailing", "ClientregCredentialsExpireSoon",
		"ClientregDeletionFailing", "ClientregDeletionBlocked", "ClientregRemoteRequestsSlow", "ClientregEndpointErrors"} {
		if _, ok := alerts[want]; !ok {
			t.Errorf("no alert %s (have %v)", want, slices.Sorted(mapKeys(alerts)))
		}
	}
	// Every series of clientreg's own is alerted on.
	for name := range s.own {
		if !used[name] && !used[name+"_bucket"] && name != "clientreg_registrations_total" {
			t.Errorf("no alert uses %s", name)
		}
	}
	if !strings.Contains(alerts["ClientregDeletionBlocked"], `reason="DeletionBlocked"`) ||
		!strings.Contains(alerts["ClientregCredentialsExpireSoon"], "7 * 86400") ||
		!strings.Contains(alerts["ClientregEndpointErrors"], `code=~"5.."`) {
		t.Errorf("alerts do not say what they are for: %v", alerts)
	}

	// Without leader election there is no leader gauge: no ClientregNoLeader.
	noLE := find(mustRender(t, defaultRelease, monitoringValues+"\nleaderElection: {enabled: false}\nreplicaCount: 1"), "PrometheusRule", "clientreg")
	if raw, _ := json.Marshal(noLE.Object); strings.Contains(string(raw), "ClientregNoLeader") || !strings.Contains(string(raw), "ClientregManagerDown") {
		t.Error("ClientregNoLeader is rendered without leader election")
	}
	if _, ok := alerts["ClientregNoLeader"]; !ok {
		t.Error("no ClientregNoLeader with leader election")
	}

	// The values reach the rules, and still parse.
	objs = mustRender(t, defaultRelease, `metrics: {prometheusRule: {enabled: true, namespace: monitoring, labels: {release: prom}, selector: 'job="oauth", cluster="a"', secretExpiryDays: 3, remoteLatencyThresholdSeconds: 2.5, endpointErrorRatio: 0.2, registrationFailuresFor: 1h}}`)
	rule = find(objs, "PrometheusRule", "clientreg")
	if rule.GetNamespace() != "monitoring" || rule.GetLabels()["release"] != "prom" {
		t.Errorf("PrometheusRule %s labels %v", objKey(rule), rule.GetLabels())
	}
	raw, _ := json.Marshal(rule.Object)
	for _, want := range []string{`job=\"oauth\", cluster=\"a\"`, `3 * 86400`, `\u003e 2.5`, `\u003e 0.2`, `"for":"1h"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the rendered rules do not contain %s", want)
		}
	}
	groups, _, _ = unstructured.NestedSlice(rule.Object, "spec", "groups")
	for _, r := range groups[0].(map[string]any)["rules"].([]any) {
		expr := r.(map[string]any)["expr"].(string)
		if _, err := parser.NewParser(parser.Options{}).ParseExpr(expr); err != nil {
			t.Errorf("with a custom selector, %q does not parse: %v", expr, err)
		}
	}
	for _, bad := range []string{"metrics: {prometheusRule: {endpointErrorRatio: 2}}", "metrics: {prometheusRule: {secretExpiryDays: 0}}",
		"metrics: {prometheusRule: {registrationFailuresFor: soon}}", "metrics: {prometheusRule: {selector: '{job=\"x\"}'}}", "metrics: {dashboards: {namespace: Not_A_Namespace}}"} {
		if _, err := render(t, defaultRelease, bad); err == nil {
			t.Errorf("values %q were accepted", bad)
		}
	}
}

// TestCheckQueryRefusesUnknownSeries: the check above fails on names the
// manager does not register, on labels its series do not have, and on
// expressions that are not PromQL.
func TestCheckQueryRefusesUnknownSeries(t *testing.T) {
	s := managerSeries(t)
	for _, bad := range []string{
		`rate(clientreg_registration_failure_total[5m])`,                               // misspelt
		`clientreg_registration_failures_total{result="x"}`,                            // no such label
		`sum by (client_id) (clientreg_registrations_total)`,                           // no such label
		`rate(clientreg_registrations_total_bucket[5m])`,                               // not a histogram
		`controller_runtime_reconcile_failures_total`,                                  // not controller-runtime's
		`workqueue_depth{name="oauthclient"`,                                           // not PromQL
		`histogram_quantile(0.99, rate(clientreg_remote_request_duration_seconds[5m])`, // not PromQL
	} {
		rec := &recorder{}
		checkQuery(rec, "probe", bad, s)
		if len(rec.errs) == 0 {
			t.Errorf("%q passed the check", bad)
		} else {
			t.Logf("%q refused: %s", bad, rec.errs[0])
		}
	}
	for _, good := range []string{
		`controller_runtime_reconcile_time_seconds_bucket`, `workqueue_depth`, `leader_election_master_status`,
		`clientreg_client_secret_expires_timestamp_seconds{exported_namespace="apps", name="billing"}`,
		`sum by (le, operation) (rate(clientreg_remote_request_duration_seconds_bucket[5m]))`,
	} {
		checkQuery(t, "probe", good, s)
	}
}

// TestGrafanaDashboardUsesRegisteredSeries renders the dashboard ConfigMap,
// reads the JSON and checks every panel's queries (and the template
// variables') as the rules are checked, with Grafana's variables replaced.
func TestGrafanaDashboardUsesRegisteredSeries(t *testing.T) {
	s := managerSeries(t)
	objs := mustRender(t, defaultRelease, monitoringValues)
	cm := find(objs, "ConfigMap", "clientreg-dashboard")
	if cm == nil {
		t.Fatalf("no dashboard ConfigMap:\n%s", keys(objs))
	}
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("the dashboard ConfigMap is not labelled for the Grafana sidecar: %v", cm.GetLabels())
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	if len(data) != 1 {
		t.Fatalf("dashboard ConfigMap data: %v", slices.Sorted(mapKeys(data)))
	}
	var dash struct {
		Title      string `json:"title"`
		UID        string `json:"uid"`
		Panels     []grafanaPanel
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal([]byte(data["clientreg.json"]), &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Errorf("dashboard title %q uid %q", dash.Title, dash.UID)
	}
	vars := map[string]string{"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
	for _, v := range dash.Templating.List {
		vars[v.Name] = "x"
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)["query"].(string)
		m := regexp.MustCompile(`^label_values\((.+), *(\w+)\)$`).FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q)
			continue
		}
		checkQuery(t, "variable "+v.Name, m[1], s)
	}
	subst := regexp.MustCompile(`\$\{?(\w+)\}?`)
	var panels []grafanaPanel
	for _, p := range dash.Panels {
		panels = append(panels, p)
		panels = append(panels, p.Panels...)
	}
	used := map[string]bool{}
	n := 0
	for _, p := range panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the datasource variable: %v", p.Title, p.Datasource)
		}
		for _, tg := range p.Targets {
			n++
			expr := subst.ReplaceAllStringFunc(tg.Expr, func(v string) string {
				name := subst.FindStringSubmatch(v)[1]
				if r, ok := vars[name]; ok {
					return r
				}
				t.Errorf("panel %q uses the undefined variable %s", p.Title, v)
				return v
			})
			for _, name := range checkQuery(t, "panel "+p.Title, expr, s) {
				used[name] = true
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d queries in the dashboard", n)
	}
	for name := range s.own {
		if !used[name] && !used[name+"_bucket"] {
			t.Errorf("no dashboard panel shows %s", name)
		}
	}
	// Namespace and annotations.
	objs = mustRender(t, defaultRelease, "metrics: {dashboards: {enabled: true, namespace: monitoring, annotations: {grafana_folder: Identity}}}")
	cm = find(objs, "ConfigMap", "clientreg-dashboard")
	if cm.GetNamespace() != "monitoring" || cm.GetAnnotations()["grafana_folder"] != "Identity" {
		t.Errorf("dashboard ConfigMap %s annotations %v", objKey(cm), cm.GetAnnotations())
	}
	// Off by default, and off without metrics.
	for _, v := range []string{"", "metrics: {enabled: false, prometheusRule: {enabled: true}, dashboards: {enabled: true}}"} {
		k := kinds(mustRender(t, defaultRelease, v))
		if k["PrometheusRule"] != 0 || k["ConfigMap"] != 0 {
			t.Errorf("values %q render a PrometheusRule or dashboard: %v", v, k)
		}
	}
}

type grafanaPanel struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestKustomizeMonitoringMatchesChart: config/monitoring (with
// config/prometheus, whose ServiceMonitor gives the job the rules select)
// holds the same PrometheusRule and dashboard as the chart with
// metrics.prometheusRule and metrics.dashboards enabled.
func TestKustomizeMonitoringMatchesChart(t *testing.T) {
	kust := kustomizeBuild(t, "config/default", "config/prometheus", "config/monitoring")
	chart := mustRender(t, defaultRelease, "metrics: {serviceMonitor: {enabled: true}, prometheusRule: {enabled: true}, dashboards: {enabled: true}}")
	var kk, ck []string
	for _, o := range kust {
		if o.GetKind() != "Namespace" {
			kk = append(kk, objKey(o))
		}
	}
	for _, o := range chart {
		ck = append(ck, objKey(o))
	}
	if !reflect.DeepEqual(kk, ck) {
		t.Fatalf("different objects:\nkustomize:\n%s\nchart:\n%s", strings.Join(kk, "\n"), strings.Join(ck, "\n"))
	}
	for _, want := range []struct{ kind, name string }{{"PrometheusRule", "clientreg"}, {"ConfigMap", "clientreg-dashboard"}} {
		k, c := find(kust, want.kind, want.name), find(chart, want.kind, want.name)
		if k == nil || c == nil {
			t.Fatalf("no %s %s (kustomize %v, chart %v)", want.kind, want.name, k != nil, c != nil)
		}
		field := "spec"
		if want.kind == "ConfigMap" {
			field = "data"
			if k.GetLabels()["grafana_dashboard"] != "1" {
				t.Errorf("the kustomize dashboard is not labelled for the sidecar: %v", k.GetLabels())
			}
		}
		kv, _, _ := unstructured.NestedFieldCopy(k.Object, field)
		cv, _, _ := unstructured.NestedFieldCopy(c.Object, field)
		if !reflect.DeepEqual(kv, cv) {
			ky, _ := yaml.Marshal(kv)
			cy, _ := yaml.Marshal(cv)
			t.Errorf("%s %s: %s differs, %s", want.kind, want.name, field, firstDiff(string(ky), string(cy)))
		}
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  kustomize: %s\n  chart:     %s", i+1, x, y)
		}
	}
	return "(equal text)"
}

// TestMonitoringAppliesToAPIServer applies the chart with the ServiceMonitor,
// the PrometheusRule (in another namespace) and the dashboard enabled, then
// config/default with config/prometheus and config/monitoring, to a real API
// server with stand-ins for prometheus-operator's CRDs; every object must be
// accepted and Current (the Deployment InProgress: envtest runs no pods).
func TestMonitoringAppliesToAPIServer(t *testing.T) {
	env := startEnv(t)
	env.installThirdPartyCRDs(t)
	env.applyFile(t, "prometheusrule-crd.yaml")
	objs := mustRender(t, defaultRelease, "metrics: {serviceMonitor: {enabled: true}, prometheusRule: {enabled: true, namespace: monitoring, labels: {release: prom}}, dashboards: {enabled: true, namespace: monitoring}}")
	if k := kinds(objs); k["PrometheusRule"] != 1 || k["ConfigMap"] != 1 {
		t.Fatalf("rendered %v", k)
	}
	env.apply(t, objs)
	env.checkApplied(t, objs)
	for _, o := range objs {
		if o.GetKind() == "PrometheusRule" || o.GetKind() == "ConfigMap" {
			live := env.get(t, o)
			if live.GetNamespace() != "monitoring" {
				t.Errorf("%s is in %s", objKey(live), live.GetNamespace())
			}
		}
	}
	kust := kustomizeBuild(t, "config/default", "config/prometheus", "config/monitoring")
	env.apply(t, kust)
	env.checkApplied(t, kust)
}
