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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/controllers/testutil"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
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

		pipeDur := rawPipeline(b, p, n, workers)

		ns := newNamespace(b)
		parallel(b, n, workers, func(j int) error {
			return k8s.Create(ctx, serviceClient(ns, fmt.Sprintf("c%d", j), "idp"))
		})
		waitAll(b, ns, n, func(c *oauthv1alpha1.OAuthClient) bool {
			cond := meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady)
			return cond != nil && cond.Reason == oauthv1alpha1.ReasonServerNotFound
		})
		registeredBefore := p.Stats(b).Register
		start := time.Now()
		create(b, dynamicServer(ns, "idp", p, func(s *oauthv1alpha1.AuthorizationServer) {
			s.Spec.DynamicRegistration.ResyncInterval = &metav1.Duration{Duration: resync}
		}))
		waitAll(b, ns, n, func(c *oauthv1alpha1.OAuthClient) bool { return ready(c) == nil })
		opDur := time.Since(start)
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

func parallel(b testing.TB, n, workers int, f func(int) error) {
	b.Helper()
	testutil.Parallel(b, n, workers, f)
}

func waitAll(b testing.TB, ns string, n int, done func(*oauthv1alpha1.OAuthClient) bool) {
	b.Helper()
	wc, err := client.NewWithWatch(restCfg, client.Options{Scheme: testScheme})
	if err != nil {
		b.Fatal(err)
	}
	testutil.WaitAll(b, wc, ns, n, done)
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

// rawPipeline does, with plain clients and the same concurrency, the work a
// registration needs end to end: the in-flight mark (status patch), the
// registration at the provider, the Secret create and the final status patch,
// on OAuthClients that exist already. It is the ceiling for the operator on
// this machine: the same provider and the same API server.
func rawPipeline(b *testing.B, p *oidcprovider.Provider, n, workers int) time.Duration {
	b.Helper()
	ctx := context.Background()
	ns := newNamespace(b)
	parallel(b, n, workers, func(j int) error {
		return k8s.Create(ctx, serviceClient(ns, fmt.Sprintf("c%d", j), "absent"))
	})
	waitAll(b, ns, n, func(c *oauthv1alpha1.OAuthClient) bool {
		cond := meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady)
		return cond != nil && cond.Reason == oauthv1alpha1.ReasonServerNotFound
	})
	hc := p.HTTPClient()
	start := time.Now()
	parallel(b, n, workers, func(j int) error {
		name := fmt.Sprintf("c%d", j)
		obj := &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		mark := fmt.Sprintf(`{"status":{"pendingRegistration":{"id":"%016x","startedAt":%q,"endpoint":%q}}}`, j, time.Now().UTC().Format(time.RFC3339), p.URL+"/reg")
		if err := k8s.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(mark))); err != nil {
			return err
		}
		resp, err := hc.Post(p.URL+"/reg", "application/json", strings.NewReader(`{"client_name":"`+name+`","grant_types":["client_credentials"],"response_types":[],"token_endpoint_auth_method":"client_secret_basic"}`))
		if err != nil {
			return err
		}
		var reg map[string]any
		err = json.NewDecoder(resp.Body).Decode(&reg)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("raw registration: %d %v", resp.StatusCode, err)
		}
		data := map[string][]byte{}
		for _, k := range []string{"client_id", "client_secret", "registration_access_token", "registration_client_uri"} {
			v, _ := reg[k].(string)
			data[k] = []byte(v)
		}
		if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-oauth"}, Data: data}); err != nil {
			return err
		}
		final := fmt.Sprintf(`{"status":{"pendingRegistration":null,"clientID":%q,"secretName":%q,"conditions":[{"type":"Ready","status":"True","reason":"Ready","message":"raw","lastTransitionTime":%q}]}}`,
			data["client_id"], name+"-oauth", time.Now().UTC().Format(time.RFC3339))
		return k8s.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(final)))
	})
	d := time.Since(start)
	// The fixtures carry a faked status the operator would correct at its
	// next recheck, inside the idle window. Remove them.
	testutil.DeleteAllAndWait(b, k8s, ns)
	return d
}
