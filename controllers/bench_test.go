package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/testutil"
)

// BenchmarkStatelessClients creates N stateless OAuthClients and measures the
// time from the first create until all are Ready, against the time the same
// API server takes, in the same run, for N raw Secret creates plus N status
// updates by a plain client with the same concurrency and rate limits. The
// operator's figure also includes creating the N OAuthClients, so the ratio
// errs against the operator. Then it idles and counts the manager's writes.
//
//	make bench    (N=1000 by default; CLIENTREG_BENCH_N and CLIENTREG_BENCH_IDLE override)
func BenchmarkStatelessClients(b *testing.B) {
	n := testutil.EnvPositive("CLIENTREG_BENCH_N", 1000)
	idle := time.Duration(testutil.EnvPositive("CLIENTREG_BENCH_IDLE", 60)) * time.Second
	const workers = 8 // the suite manager's MaxConcurrentReconciles
	ctx := context.Background()

	cfg := rest.CopyConfig(restCfg)
	cfg.QPS, cfg.Burst = 500, 1000 // the manager's limits
	raw, err := client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		b.Fatal(err)
	}
	createClients := func(ns, server string) {
		parallel(b, n, workers, func(j int) error {
			return raw.Create(ctx, oauthClient(ns, fmt.Sprintf("c%d", j), server))
		})
	}

	for i := 0; i < b.N; i++ {
		// Raw: N Secret creates plus N status updates by a plain client, on
		// OAuthClients that settled (ServerNotFound) before timing starts.
		rawNS := newNamespace(b)
		createClients(rawNS, "absent")
		waitAll(b, rawNS, n, testutil.ServerNotFound)
		start := time.Now()
		parallel(b, n, workers, func(j int) error {
			name := fmt.Sprintf("c%d", j)
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: rawNS, Name: name + "-oauth"},
				Data:       map[string][]byte{"client_id": make([]byte, 700), "client_secret": make([]byte, 43), "issuer": []byte("https://idp.example")},
			}
			if err := raw.Create(ctx, s); err != nil {
				return err
			}
			c := &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: rawNS, Name: name}}
			patch := fmt.Sprintf(`{"status":{"clientID":%q,"secretName":%q,"conditions":[{"type":"Ready","status":"True","reason":"Ready","message":"bench","lastTransitionTime":%q}]}}`,
				strings.Repeat("x", 700), name+"-oauth", time.Now().UTC().Format(time.RFC3339))
			return raw.Status().Patch(ctx, c, client.RawPatch(types.MergePatchType, []byte(patch)))
		})
		rawDur := time.Since(start)
		// The raw fixtures point at a server that does not exist and carry a
		// faked status; the operator would correct them at its next recheck,
		// inside the idle window. Remove them.
		testutil.DeleteAllAndWait(b, k8s, rawNS)

		// Operator: the same number of OAuthClients wait for their server
		// (GitOps applied everything at once); timed from the server's
		// creation until every client is Ready.
		ns := newNamespace(b)
		createClients(ns, "idp")
		waitAll(b, ns, n, testutil.ServerNotFound)
		start = time.Now()
		create(b, statelessServer(ns, "idp"))
		waitAll(b, ns, n, testutil.Ready)
		opDur := time.Since(start)

		// Informational: clients created against a Ready server, timed from
		// the first create (includes the N creates themselves).
		ns2 := newNamespace(b)
		srv := statelessServer(ns2, "idp")
		create(b, srv)
		waitServerReady(b, srv)
		start = time.Now()
		createClients(ns2, "idp")
		waitAll(b, ns2, n, testutil.Ready)
		e2eDur := time.Since(start)

		// Idle: no writes at all from the manager.
		time.Sleep(2 * time.Second) // let the last watch events drain
		before := managerWrite.Load()
		time.Sleep(idle)
		idleWrites := managerWrite.Load() - before

		b.ReportMetric(float64(n), "clients")
		b.ReportMetric(rawDur.Seconds(), "raw-s")
		b.ReportMetric(opDur.Seconds(), "operator-s")
		b.ReportMetric(opDur.Seconds()/rawDur.Seconds(), "x-raw")
		b.ReportMetric(float64(n)/opDur.Seconds(), "clients/s")
		b.ReportMetric(e2eDur.Seconds(), "create-to-ready-s")
		b.ReportMetric(float64(idleWrites), "idle-writes")
		b.ReportMetric(idle.Seconds(), "idle-s")
		if idleWrites != 0 {
			b.Errorf("the manager wrote %d times to the API server while idle", idleWrites)
		}
	}
}

// TestIdleManagerWritesNothing is the functional half of the idle benchmark:
// after clients are Ready, a resync of everything (a server status change
// re-queues all its clients) writes nothing.
func TestIdleManagerWritesNothing(t *testing.T) {
	ns := newNamespace(t)
	srv := statelessServer(ns, "idp")
	create(t, srv)
	for i := 0; i < 5; i++ {
		create(t, oauthClient(ns, fmt.Sprintf("c%d", i), "idp"))
	}
	for i := 0; i < 5; i++ {
		waitClientReady(t, ns, fmt.Sprintf("c%d", i))
	}
	time.Sleep(time.Second)
	before := managerWrite.Load()
	// An annotation change re-triggers the server, which re-triggers its clients.
	poke(t, srv)
	time.Sleep(3 * time.Second)
	if w := managerWrite.Load() - before; w != 0 {
		t.Fatalf("the manager wrote %d times with nothing to change", w)
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
