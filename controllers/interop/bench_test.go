package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
	"github.com/clientreg/clientreg/internal/testutil"
)

// BenchmarkDynamicClients brings N OAuthClients to Ready at node-oidc-provider
// and compares the rate with the provider's own registration rate measured in
// the same run by a plain concurrent HTTP client with the same concurrency.
// The clients exist before their server (GitOps applied everything at once);
// timing runs from the server's creation until every client is Ready. Then
// it idles for IDLE_RESYNCS resync intervals and reports RFC 7592 reads per
// client per interval at the server and writes to the API server.
//
//	make bench-interop  (CLIENTREG_BENCH_N, CLIENTREG_BENCH_RESYNC seconds, CLIENTREG_BENCH_IDLE_RESYNCS)
func BenchmarkDynamicClients(b *testing.B) {
	n := envInt("CLIENTREG_BENCH_N", 500)
	resync := time.Duration(envInt("CLIENTREG_BENCH_RESYNC", 10)) * time.Second
	idleResyncs := envInt("CLIENTREG_BENCH_IDLE_RESYNCS", 3)
	workers := envInt("CLIENTREG_BENCH_WORKERS", 16)
	ctx := context.Background()

	for i := 0; i < b.N; i++ {
		p := oidcprovider.Start(b, oidcprovider.Options{})
		m := startManager(b, func(_ *ctrl.Options, o *controllers.Options) {
			o.Clock = clock.RealClock{}
			o.MaxConcurrentReconciles = workers
		})

		rawDur, err := p.RawRegistrationRate(ctx, n, workers)
		if err != nil {
			b.Fatal(err)
		}

		writesDur := rawPipeline(b, nil, false, n, workers)
		sameDur := rawPipeline(b, nil, true, n, workers)
		pipeDur := rawPipeline(b, p, true, n, workers)

		ns := waitingClients(b, n, workers, "idp")
		registeredBefore := p.Stats(b).Register
		writesBefore, eventsBefore, countsBefore := m.apiWrites.Load(), m.eventWrites.Load(), m.writeCounts()
		start := time.Now()
		create(b, dynamicServer(ns, "idp", p, func(s *oauthv1alpha1.AuthorizationServer) {
			s.Spec.DynamicRegistration.ResyncInterval = &metav1.Duration{Duration: resync}
		}))
		testutil.WatchAll(b, restCfg, testScheme, ns, n, func(c *oauthv1alpha1.OAuthClient) bool { return ready(c) == nil })
		opDur := time.Since(start)
		time.Sleep(time.Second) // Events are sent asynchronously
		opEvents := m.eventWrites.Load() - eventsBefore
		opWrites := m.apiWrites.Load() - writesBefore - opEvents
		counts, waiting := m.writeCounts(), int64(0)
		for k, v := range counts {
			counts[k] = v - countsBefore[k]
			if strings.Contains(k, "waiting for the server") {
				waiting += counts[k]
			}
		}
		// Registering: what the clients wrote, less the writes that said
		// "the server is not Ready yet" while it was being probed.
		regWrites := opWrites - waiting - counts["PATCH authorizationservers/status 200"]
		if got := p.Stats(b).Register - registeredBefore; got != n {
			b.Errorf("%d registrations for %d clients", got, n)
		}

		// Idle.
		time.Sleep(time.Second)
		m.faults.readCounts()
		writes := m.apiWrites.Load()
		time.Sleep(time.Duration(idleResyncs) * resync)
		reads := m.faults.readCounts()
		idleWrites := m.apiWrites.Load() - writes
		total, minR, maxR := 0, 1<<30, 0
		for _, c := range reads {
			total += c
			minR, maxR = min(minR, c), max(maxR, c)
		}
		if len(reads) < n {
			minR = 0
		}

		rawRate, opRate := float64(n)/rawDur.Seconds(), float64(n)/opDur.Seconds()
		b.ReportMetric(float64(n), "clients")
		b.ReportMetric(rawRate, "raw-reg/s")
		b.ReportMetric(opRate, "operator-reg/s")
		b.ReportMetric(opRate/rawRate, "x-raw-rate")
		writesRate := float64(n) / writesDur.Seconds()
		b.ReportMetric(writesRate, "raw-writes-clients/s")
		b.ReportMetric(opRate/writesRate, "x-raw-writes")
		sameRate := float64(n) / sameDur.Seconds()
		b.ReportMetric(sameRate, "raw-writes+event-clients/s")
		b.ReportMetric(opRate/sameRate, "x-raw-writes+event")
		b.ReportMetric(float64(opWrites)/float64(n), "api-writes/client")
		b.ReportMetric(float64(regWrites)/float64(n), "registration-writes/client")
		b.ReportMetric(float64(opEvents)/float64(n), "event-writes/client")
		b.Logf("manager writes from the server's creation until every client was Ready: %v", counts)
		if regWrites > int64(3*n) {
			b.Errorf("%d API writes for %d registrations: more than 3 each", regWrites, n)
		}
		pipeRate := float64(n) / pipeDur.Seconds()
		b.ReportMetric(pipeRate, "raw-pipeline/s")
		b.ReportMetric(opRate/pipeRate, "x-raw-pipeline")
		b.ReportMetric(float64(total)/float64(n*idleResyncs), "reads/client/resync")
		b.ReportMetric(float64(minR), "min-reads/client")
		b.ReportMetric(float64(maxR), "max-reads/client")
		b.ReportMetric(float64(idleWrites), "idle-api-writes")
		b.ReportMetric(resync.Seconds(), "resync-s")
		if idleWrites != 0 {
			b.Errorf("%d writes to the API server while idle", idleWrites)
		}
		m.stop()
		p.Stop()
	}
}

// waitingClients creates n service clients of server (which does not exist
// yet) in a new namespace and returns it once they all wait for it
// (ServerNotFound).
func waitingClients(b *testing.B, n, workers int, server string) string {
	b.Helper()
	ns := newNamespace(b)
	testutil.Parallel(b, n, workers, func(j int) error {
		return k8s.Create(context.Background(), serviceClient(ns, fmt.Sprintf("c%d", j), server))
	})
	testutil.WatchAll(b, restCfg, testScheme, ns, n, func(c *oauthv1alpha1.OAuthClient) bool {
		cond := meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady)
		return cond != nil && cond.Reason == oauthv1alpha1.ReasonServerNotFound
	})
	return ns
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

// rawPipeline does, with plain clients and the same concurrency, the writes
// a registration needs, on OAuthClients that exist already: the in-flight
// mark with the finalizer (a metadata patch locked on the resourceVersion),
// the Secret create and the final status patch; with event, also the Event
// the operator records (events.k8s.io/v1); with p, also the registration at
// the provider after the mark. Without p it is the API server's own rate for
// the operator's writes; with p, the ceiling for the operator on this
// machine: the same provider and the same API server.
func rawPipeline(b *testing.B, p *oidcprovider.Provider, event bool, n, workers int) time.Duration {
	b.Helper()
	ctx := context.Background()
	ns := waitingClients(b, n, workers, "absent")
	var objs oauthv1alpha1.OAuthClientList
	if err := k8s.List(ctx, &objs, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	rv := map[string]string{}
	for _, o := range objs.Items {
		rv[o.Name] = o.ResourceVersion
	}
	endpoint := "https://127.0.0.1/reg"
	if p != nil {
		endpoint = p.URL + "/reg"
	}
	start := time.Now()
	testutil.Parallel(b, n, workers, func(j int) error {
		name := fmt.Sprintf("c%d", j)
		obj := &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		attempt, _ := json.Marshal(oauthv1alpha1.PendingRegistration{ID: fmt.Sprintf("%016x", j), StartedAt: metav1.Now(), Endpoint: endpoint})
		mark, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"resourceVersion": rv[name],
			"finalizers":      []string{rawFinalizer},
			"annotations":     map[string]string{oauthv1alpha1.AnnotationRegistrationAttempt: string(attempt)},
		}})
		if err := k8s.Patch(ctx, obj, client.RawPatch(types.MergePatchType, mark)); err != nil {
			return err
		}
		data := map[string][]byte{"client_id": []byte(name), "client_secret": []byte("raw-" + name)}
		if p != nil {
			resp, err := p.HTTPClient().Post(p.URL+"/reg", "application/json", strings.NewReader(`{"client_name":"`+name+`","grant_types":["client_credentials"],"response_types":[],"token_endpoint_auth_method":"client_secret_basic"}`))
			if err != nil {
				return err
			}
			var reg map[string]any
			err = json.NewDecoder(resp.Body).Decode(&reg)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("raw registration: %d %v", resp.StatusCode, err)
			}
			for _, k := range []string{"client_id", "client_secret", "registration_access_token", "registration_client_uri"} {
				v, _ := reg[k].(string)
				data[k] = []byte(v)
			}
		}
		if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-oauth"}, Data: data}); err != nil {
			return err
		}
		if event {
			ev := &eventsv1.Event{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s.%016x", name, j)},
				EventTime:  metav1.NewMicroTime(time.Now()), ReportingController: "clientreg", ReportingInstance: "clientreg-raw",
				Action: "Create", Reason: "Registered", Type: corev1.EventTypeNormal, Note: "client " + name + ": credentials in Secret " + name + "-oauth (first registration)",
				Regarding: corev1.ObjectReference{APIVersion: oauthv1alpha1.GroupVersion.String(), Kind: "OAuthClient", Namespace: ns, Name: name},
			}
			if err := k8s.Create(ctx, ev); err != nil {
				return err
			}
		}
		final := fmt.Sprintf(`{"status":{"pendingRegistration":null,"clientID":%q,"secretName":%q,"conditions":[{"type":"Ready","status":"True","reason":"Ready","message":"raw","lastTransitionTime":%q}]}}`,
			data["client_id"], name+"-oauth", time.Now().UTC().Format(time.RFC3339))
		return k8s.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(final)))
	})
	d := time.Since(start)
	// The fixtures carry a faked status the operator would correct at its
	// next recheck, inside the idle window. Remove them.
	testutil.Parallel(b, n, workers, func(j int) error {
		obj := &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("c%d", j)}}
		return k8s.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
	})
	testutil.DeleteAllAndWait(b, k8s, ns)
	return d
}

// rawFinalizer stands in for the operator's finalizer in rawPipeline (the
// same write, but one the running manager does not act on at deletion).
const rawFinalizer = "bench.clientreg.dev/raw"
