package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
	"github.com/clientreg/clientreg/internal/testtls"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/test/managerproc"
)

const (
	backendStateless = "stateless"
	backendDynamic   = "dynamic"
	// settle is how long the benchmark waits after the last client is
	// Ready before the idle window opens (the last watch events drain).
	settle = 5 * time.Second
	// stopTimeout bounds the manager's exit after SIGTERM.
	stopTimeout = 60 * time.Second
)

// config is a run's settings, from the environment (see the package doc).
type config struct {
	sizes        []int
	workers      int
	resync       time.Duration
	idleResyncs  int
	readyTimeout time.Duration
	logDir       string
}

// parseSizes parses SCALE_N: client counts separated by commas, each
// positive, returned in increasing order without repeats.
func parseSizes(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("client count %q: want a positive integer", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no client count in %q", s)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func loadConfig(b *testing.B) config {
	b.Helper()
	sizes, err := parseSizes(envOr("SCALE_N", "1000,10000"))
	if err != nil {
		b.Fatalf("SCALE_N: %v", err)
	}
	c := config{
		sizes:        sizes,
		workers:      envInt(b, "SCALE_WORKERS", 16),
		resync:       time.Duration(envInt(b, "SCALE_RESYNC", 30)) * time.Second,
		idleResyncs:  envInt(b, "SCALE_IDLE_RESYNCS", 3),
		readyTimeout: time.Duration(envInt(b, "SCALE_READY_TIMEOUT", 1800)) * time.Second,
		logDir:       os.Getenv("SCALE_LOGDIR"),
	}
	if c.logDir != "" {
		if err := os.MkdirAll(c.logDir, 0o755); err != nil {
			b.Fatalf("SCALE_LOGDIR: %v", err)
		}
	}
	return c
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(b *testing.B, key string, def int) int {
	b.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", key, v)
	}
	return n
}

// result is what one run (one backend, one size) measured.
type result struct {
	backend string
	n       int

	// createDur is the plain client's N OAuthClient creates (informational).
	createDur time.Duration
	// rawDur is the same API writes the manager makes for N clients, made by
	// a plain client with the manager's concurrency (dynamic: with the
	// registration at the provider in between); rawRegDur is the
	// provider's bare registrations alone (dynamic only).
	rawDur, rawRegDur time.Duration

	// readyDur runs from the manager process's start (the N clients and
	// their server exist, unprocessed) until every client is Ready;
	// firstReadyDur until the first one is.
	readyDur, firstReadyDur time.Duration
	// apiReq and apiWrites are the manager's API requests from its start
	// until every client is Ready; events the Events in the namespace.
	apiReq, apiWrites float64
	events            int
	// peakRSS is the manager's VmHWM after the idle window.
	peakRSS uint64

	idle                  time.Duration
	idleCPU               time.Duration
	idleReq, idleWrites   float64
	idleRSS               uint64
	idleHeap              float64
	idleReads             readCounts // dynamic only
	idleMaxReadsPerSecond int        // dynamic only
	// idleReadLatency is the manager's own view of its reads while idle
	// (clientreg_remote_request_duration_seconds{operation="read"}): how
	// many, their mean duration, the upper bound of the bucket holding the
	// 99th percentile, and how many took over 1 s. A provider that falls
	// behind shows here first.
	idleReadLatency latency

	// The restart: SIGTERM, exit, a new process.
	stopDur time.Duration
	// settleDur runs from the new process's start until it has reconciled
	// every client once and its queue is empty.
	settleDur                   time.Duration
	restartReq, restartWrites   float64
	restartPeakRSS              uint64
	restartCPU                  time.Duration
	restartReads                readCounts // dynamic only: reads in the window below
	restartWindow               time.Duration
	firstReadAfter              time.Duration // new process start → first read
	firstReadSpan               time.Duration // first read of the first client → of the last
	maxFirstReadsPerSecond      int
	maxFirstReadsPerTenth       int
	firstReadsInFirstSecond     int
	restartPendingClientsAtStop int // clients not yet read when the window closed
	// The first reads against the schedule the design gives them
	// (fitSchedule): when the schedule starts, after the new process's
	// start; how late the reads are (median, 99th percentile, most); how
	// many are within 250 ms of their point and how many over 1 s late.
	scheduleStart                          time.Duration
	lateP50, lateP99, lateMax              time.Duration
	onSchedule, lateOver1s, earlyOver250ms int
}

// BenchmarkScale runs BenchmarkScale/<backend>/n=<N> for both backends and
// every size in SCALE_N (see the package doc), each with a fresh manager
// process and, for the dynamic backend, a fresh provider, on the shared API
// server. Once two sizes of a backend have run, the larger one's line also
// reports the memory per client, fitted over the sizes so far.
func BenchmarkScale(b *testing.B) {
	if restCfg == nil {
		b.Skip("KUBEBUILDER_ASSETS not set: the scale benchmarks need envtest (make bench)")
	}
	cfg := loadConfig(b)
	for _, backend := range []string{backendStateless, backendDynamic} {
		b.Run(backend, func(b *testing.B) {
			if backend == backendDynamic {
				oidcprovider.RequireNode(b)
			}
			var results []result
			for _, n := range cfg.sizes {
				b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
					for range b.N {
						r := runScale(b, cfg, backend, n)
						results = append(results, r)
						report(b, cfg, r, results)
						if n == cfg.sizes[len(cfg.sizes)-1] {
							// A parent benchmark's log is not shown: the
							// last size logs the backend's table.
							logTable(b, cfg, results)
						}
					}
				})
			}
		})
	}
}

// runScale is one run: raw baseline, N clients to Ready under a manager
// process, idle, restart.
func runScale(b *testing.B, cfg config, backend string, n int) result {
	b.Helper()
	ctx := context.Background()
	r := result{backend: backend, n: n, idle: time.Duration(cfg.idleResyncs) * cfg.resync}
	plain := plainClient(b)
	// A benchmark shows only 10 lines of its log: one line per topic.
	load := loadAverage()
	defer func() { b.Logf("load average (1, 5, 15 min): %s at the start, %s at the end", load, loadAverage()) }()

	// The raw baseline first, with no manager running: its objects are
	// gone before the manager starts, so they cost it nothing.
	if backend == backendStateless {
		r.rawDur = rawStateless(b, plain, n, cfg.workers)
	} else {
		r.rawRegDur, r.rawDur = rawDynamic(b, plain, n, cfg.workers)
	}

	// The objects exist before the manager starts: everything applied at
	// once (GitOps, a restored backup), or the operator installed into a
	// cluster that has them.
	ns := newNamespace(b, "scale-"+backend)
	var p *oidcprovider.Provider
	var srv *oauthv1alpha1.AuthorizationServer
	if backend == backendDynamic {
		p = oidcprovider.Start(b, oidcprovider.Options{})
		srv = dynamicServer(ns, "idp", p, cfg.resync)
	} else {
		srv = statelessServer(ns, "idp")
	}
	if err := plain.Create(ctx, srv); err != nil {
		b.Fatalf("creating the server: %v", err)
	}
	start := time.Now()
	createClients(b, plain, ns, "idp", n, cfg.workers)
	r.createDur = time.Since(start)

	// To Ready.
	metricsURL := "http://" + testutil.FreeAddr(b) + "/metrics"
	m := startManager(b, cfg, metricsURL, backend, n, 1)
	start = time.Now()
	first := waitAllReady(b, ns, n, cfg.readyTimeout, m)
	r.readyDur, r.firstReadyDur = time.Since(start), first.Sub(start)
	s := scrape(b, metricsURL)
	r.apiReq, r.apiWrites = apiRequests(s)
	events := &corev1.EventList{}
	if err := plain.List(ctx, events, client.InNamespace(ns)); err != nil {
		b.Fatalf("listing events: %v", err)
	}
	r.events = len(events.Items)
	logSample(b, plain, ns)

	// Idle.
	time.Sleep(settle)
	cpu0 := reading(b, m.CPUTime)
	s0 := scrape(b, metricsURL)
	h0 := readHistogram(b, metricsURL)
	idleStart := time.Now()
	time.Sleep(r.idle)
	idleEnd := time.Now()
	cpu1 := reading(b, m.CPUTime)
	s1 := scrape(b, metricsURL)
	r.idleReadLatency = readHistogram(b, metricsURL).since(h0)
	r.idleCPU = cpu1 - cpu0
	req0, w0 := apiRequests(s0)
	req1, w1 := apiRequests(s1)
	r.idleReq, r.idleWrites = req1-req0, w1-w0
	r.idleRSS = reading(b, m.RSS)
	r.idleHeap = sum(s1, "go_memstats_heap_inuse_bytes", nil)
	r.peakRSS = reading(b, m.PeakRSS)
	if p != nil {
		reads := readsBetween(p.Reads(b, idleStart), idleStart, idleEnd)
		r.idleReads = countReads(reads, n)
		r.idleMaxReadsPerSecond = maxInWindow(readTimes(reads), time.Second)
		b.Logf("idle: reads per second at the provider, the busiest: %v; the manager's reads: %d, mean %s, p99 ≤ %gs, %d over 1s",
			busiestSeconds(readTimes(reads), idleStart, 5), r.idleReadLatency.count, r.idleReadLatency.mean().Round(time.Millisecond), r.idleReadLatency.p99, r.idleReadLatency.over1s)
	}

	// Restart: SIGTERM, wait for the exit, start a new process.
	stop := time.Now()
	if err := m.Stop(stopTimeout); err != nil {
		b.Errorf("stopping the manager: %v", err)
	}
	r.stopDur = time.Since(stop)
	m2 := startManager(b, cfg, metricsURL, backend, n, 2)
	restart := time.Now()
	r.settleDur = waitSettled(b, metricsURL, n, 10*time.Minute, restart)
	if p != nil {
		measureRestartReads(b, cfg, plain, ns, p, n, restart, &r)
	}
	s2 := scrape(b, metricsURL)
	r.restartReq, r.restartWrites = apiRequests(s2)
	r.restartPeakRSS = reading(b, m2.PeakRSS)
	r.restartCPU = reading(b, m2.CPUTime)
	if err := m2.Stop(stopTimeout); err != nil {
		b.Errorf("stopping the restarted manager: %v", err)
	}

	if p != nil && cfg.logDir != "" {
		dumpReads(b, filepath.Join(cfg.logDir, fmt.Sprintf("reads-%s-%d.csv", backend, n)), p.Reads(b, start), map[string]time.Time{
			"ready": start, "idle": idleStart, "idle-end": idleEnd, "stop": stop, "restart": restart,
		})
	}

	// Clean up for the next size: the manager is gone, so finalizers are
	// removed by hand.
	purge(b, plain, ns, cfg.workers)
	if p != nil {
		p.Close()
	}
	return r
}

// measureRestartReads follows the provider's reads from the new process's
// start until every client has been read once (or 2 resync intervals and
// 2 minutes have passed) and records how the first reads were spread.
func measureRestartReads(b *testing.B, cfg config, k client.Client, ns string, p *oidcprovider.Provider, n int, restart time.Time, r *result) {
	b.Helper()
	deadline := restart.Add(2*cfg.resync + 2*time.Minute)
	var c readCounts
	var reads []oidcprovider.Read
	for {
		reads = p.Reads(b, restart)
		c = countReads(reads, n)
		if c.clients >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	r.restartWindow = time.Since(restart)
	r.restartReads = c
	r.restartPendingClientsAtStop = n - c.clients
	if len(c.firsts) == 0 {
		b.Errorf("no RFC 7592 read within %s of the restart", r.restartWindow.Round(time.Second))
		return
	}
	r.firstReadAfter = c.firsts[0].Sub(restart)
	r.firstReadSpan = c.firsts[len(c.firsts)-1].Sub(c.firsts[0])
	r.maxFirstReadsPerSecond = maxInWindow(c.firsts, time.Second)
	r.firstReadsInFirstSecond = binCounts(c.firsts, c.firsts[0], time.Second, 1)[0]
	tenths := binCounts(c.firsts, c.firsts[0], cfg.resync/10, 10)
	for _, k := range tenths {
		r.maxFirstReadsPerTenth = max(r.maxFirstReadsPerTenth, k)
	}

	list := &oauthv1alpha1.OAuthClientList{}
	if err := k.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		b.Fatalf("listing OAuthClients: %v", err)
	}
	uidOf := map[string]types.UID{}
	for i := range list.Items {
		uidOf[list.Items[i].Status.ClientID] = list.Items[i].UID
	}
	sch := fitSchedule(c.firstOf, uidOf, cfg.resync)
	r.scheduleStart = sch.start.Sub(restart)
	r.lateP50, r.lateP99 = quantile(sch.lateness, 0.5), quantile(sch.lateness, 0.99)
	r.lateMax = quantile(sch.lateness, 1)
	r.onSchedule = within(sch.lateness, -250*time.Millisecond, 250*time.Millisecond)
	r.lateOver1s = within(sch.lateness, time.Second+1, time.Duration(math.MaxInt64))
	r.earlyOver250ms = within(sch.lateness, time.Duration(math.MinInt64), -250*time.Millisecond-1)
	b.Logf("restart: first reads per tenth of the resync interval (%s each, from the first read) %v; the schedule starts %s after the process; first reads vs their UID point: %d of %d within 250ms, %d over 1s late, %d over 250ms early; lateness p50 %s, p99 %s, max %s",
		cfg.resync/10, tenths, r.scheduleStart.Round(time.Millisecond), r.onSchedule, len(sch.lateness), r.lateOver1s, r.earlyOver250ms,
		r.lateP50.Round(time.Millisecond), r.lateP99.Round(time.Millisecond), r.lateMax.Round(time.Millisecond))
}

// report reports r's figures; with two sizes or more of the backend (all
// so far), the memory per client fitted over them.
func report(b *testing.B, cfg config, r result, all []result) {
	n := float64(r.n)
	b.ReportMetric(n, "clients")
	b.ReportMetric(float64(cfg.workers), "workers")
	b.ReportMetric(r.readyDur.Seconds(), "ready-s")
	b.ReportMetric(n/r.readyDur.Seconds(), "clients/s")
	b.ReportMetric(r.readyDur.Seconds()/r.rawDur.Seconds(), "x-raw-writes")
	b.ReportMetric(n/r.rawDur.Seconds(), "raw-clients/s")
	b.ReportMetric(n/r.createDur.Seconds(), "raw-creates/s")
	b.ReportMetric(r.firstReadyDur.Seconds(), "first-ready-s")
	b.ReportMetric(r.apiReq/n, "api-req/client")
	b.ReportMetric(r.apiWrites/n, "api-writes/client")
	b.ReportMetric(float64(r.events)/n, "events/client")
	b.ReportMetric(mib(r.peakRSS), "peak-MiB")
	b.ReportMetric(mib(r.idleRSS), "idle-rss-MiB")
	b.ReportMetric(r.idleHeap/(1<<20), "idle-heap-MiB")
	b.ReportMetric(r.idleCPU.Seconds()/r.idle.Seconds(), "idle-cpu-s/s")
	b.ReportMetric(r.idleReq/r.idle.Seconds(), "idle-api-req/s")
	b.ReportMetric(r.idleWrites, "idle-api-writes")
	b.ReportMetric(r.idle.Seconds(), "idle-s")
	b.ReportMetric(r.stopDur.Seconds(), "stop-s")
	b.ReportMetric(r.settleDur.Seconds(), "restart-settle-s")
	b.ReportMetric(r.restartWrites, "restart-api-writes")
	b.ReportMetric(r.restartReq/n, "restart-api-req/client")
	b.ReportMetric(mib(r.restartPeakRSS), "restart-peak-MiB")
	b.ReportMetric(r.restartCPU.Seconds(), "restart-cpu-s")
	if r.backend == backendDynamic {
		b.ReportMetric(r.readyDur.Seconds()/r.rawRegDur.Seconds(), "x-raw-reg")
		b.ReportMetric(n/r.rawRegDur.Seconds(), "raw-reg/s")
		b.ReportMetric(cfg.resync.Seconds(), "resync-s")
		b.ReportMetric(float64(r.idleReads.total)/(n*float64(cfg.idleResyncs)), "reads/client/resync")
		b.ReportMetric(float64(r.idleReads.minPerClient), "idle-min-reads/client")
		b.ReportMetric(float64(r.idleReads.maxPerClient), "idle-max-reads/client")
		b.ReportMetric(float64(r.idleReads.failed), "idle-failed-reads")
		b.ReportMetric(float64(r.idleMaxReadsPerSecond), "idle-max-reads/s")
		b.ReportMetric(r.idleReadLatency.mean().Seconds()*1e3, "idle-read-ms")
		b.ReportMetric(r.idleReadLatency.p99, "idle-read-p99-le-s")
		b.ReportMetric(float64(r.idleReadLatency.over1s), "idle-reads-over-1s")
		if r.idleReads.total > 0 {
			b.ReportMetric(r.idleCPU.Seconds()/float64(r.idleReads.total)*1e3, "idle-cpu-ms/read")
		}
		b.ReportMetric(n/cfg.resync.Seconds(), "mean-reads/s")
		b.ReportMetric(float64(r.maxFirstReadsPerSecond), "max-reads/s-after-restart")
		b.ReportMetric(float64(r.maxFirstReadsPerSecond)/(n/cfg.resync.Seconds()), "x-mean-after-restart")
		b.ReportMetric(float64(r.maxFirstReadsPerTenth)/(n/10), "max-tenth/mean-tenth")
		b.ReportMetric(float64(r.firstReadsInFirstSecond), "reads-first-s-after-restart")
		b.ReportMetric(r.firstReadAfter.Seconds(), "restart-first-read-s")
		b.ReportMetric(r.firstReadSpan.Seconds(), "first-read-span-s")
		b.ReportMetric(float64(r.restartPendingClientsAtStop), "restart-unread-clients")
		b.ReportMetric(float64(r.restartReads.failed), "restart-failed-reads")
		b.ReportMetric(r.scheduleStart.Seconds(), "schedule-start-s")
		b.ReportMetric(float64(r.onSchedule)/n, "on-schedule-frac")
		b.ReportMetric(float64(r.lateOver1s), "late-over-1s")
		b.ReportMetric(r.lateP99.Seconds(), "late-p99-s")
		b.ReportMetric(r.lateMax.Seconds(), "late-max-s")
	}
	if slope, icpt, ok := memoryFit(r.backend, all); ok {
		b.ReportMetric(slope*1e3/(1<<20), "peak-MiB/1k-clients")
		b.ReportMetric(icpt/(1<<20), "peak-MiB-at-0")
	}
	if r.idleWrites != 0 {
		b.Errorf("the manager wrote %v times to the API server while idle", r.idleWrites)
	}
	if r.restartWrites != 0 {
		b.Logf("finding: the restarted manager wrote %v times to the API server (nothing had changed)", r.restartWrites)
	}
}

// memoryFit fits peak RSS over client count for backend's results.
func memoryFit(backend string, all []result) (slope, intercept float64, ok bool) {
	var xs, ys []float64
	for _, r := range all {
		if r.backend == backend {
			xs = append(xs, float64(r.n))
			ys = append(ys, float64(r.peakRSS))
		}
	}
	return fitLine(xs, ys)
}

// logTable logs a backend's figures as a table, for the README.
func logTable(b *testing.B, cfg config, results []result) {
	if len(results) == 0 {
		return
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s backend, %d workers", results[0].backend, cfg.workers)
	if results[0].backend == backendDynamic {
		fmt.Fprintf(&sb, ", resync %s", cfg.resync)
	}
	sb.WriteString("\n| clients | to Ready | clients/s | x raw writes | peak RSS | restarted: peak RSS | idle CPU | idle API req/s | idle API writes | restarted: API writes, settled after |")
	if results[0].backend == backendDynamic {
		sb.WriteString(" x raw reg | reads/client/resync (min-max per client) | idle: busiest second (mean) | restarted: busiest second of first reads |")
	}
	sb.WriteString("\n|---|---|---|---|---|---|---|---|---|---|")
	if results[0].backend == backendDynamic {
		sb.WriteString("---|---|---|---|")
	}
	for _, r := range results {
		n := float64(r.n)
		fmt.Fprintf(&sb, "\n| %d | %.1f s | %.0f | %.2f | %.0f MiB | %.0f MiB | %.4f s/s | %.2f | %.0f | %.0f, %.1f s |",
			r.n, r.readyDur.Seconds(), n/r.readyDur.Seconds(), r.readyDur.Seconds()/r.rawDur.Seconds(), mib(r.peakRSS), mib(r.restartPeakRSS),
			r.idleCPU.Seconds()/r.idle.Seconds(), r.idleReq/r.idle.Seconds(), r.idleWrites, r.restartWrites, r.settleDur.Seconds())
		if r.backend == backendDynamic {
			fmt.Fprintf(&sb, " %.1f | %.2f (%d-%d in %d) | %d (%.0f) | %d |",
				r.readyDur.Seconds()/r.rawRegDur.Seconds(), float64(r.idleReads.total)/(n*float64(cfg.idleResyncs)),
				r.idleReads.minPerClient, r.idleReads.maxPerClient, cfg.idleResyncs,
				r.idleMaxReadsPerSecond, n/cfg.resync.Seconds(), r.maxFirstReadsPerSecond)
		}
	}
	if slope, icpt, ok := memoryFit(results[0].backend, results); ok {
		fmt.Fprintf(&sb, "\npeak RSS ≈ %.1f MiB + %.1f KiB per client (least squares over %d sizes)", icpt/(1<<20), slope/1024, len(results))
	}
	b.Log(sb.String())
}

// logSample logs the size of what the manager wrote for one client (its
// status and Secret), which the raw baseline's writes imitate.
func logSample(b *testing.B, c client.Client, ns string) {
	b.Helper()
	ctx := context.Background()
	obj := &oauthv1alpha1.OAuthClient{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "c0"}, obj); err != nil {
		b.Fatalf("reading a sample client: %v", err)
	}
	st, _ := json.Marshal(obj.Status)
	sec := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: obj.Status.SecretName}, sec); err != nil {
		b.Fatalf("reading a sample Secret: %v", err)
	}
	sizes := map[string]int{}
	for k, v := range sec.Data {
		sizes[k] = len(v)
	}
	if os.Getenv("SCALE_DEBUG_SAMPLE") != "" {
		evs := &corev1.EventList{}
		_ = c.List(ctx, evs, client.InNamespace(ns), client.Limit(2))
		ej, _ := json.Marshal(evs.Items)
		sj, _ := json.Marshal(sec.ObjectMeta)
		b.Logf("status %s\nsecret meta %s\nevents %s", st, sj, ej)
	}
	b.Logf("sample client c0: status %d bytes, finalizers %v, annotations %v; Secret data sizes %v, annotations %v", len(st), obj.Finalizers, obj.Annotations, sizes, sec.Annotations)
}

// plainClient is an uncached client with no client-side rate limit, as the
// manager's (controller-runtime's default).
func plainClient(b *testing.B) client.Client {
	b.Helper()
	cfg := rest.CopyConfig(restCfg)
	cfg.QPS = -1
	c, err := client.New(cfg, client.Options{Scheme: testutil.Scheme()})
	if err != nil {
		b.Fatalf("plain client: %v", err)
	}
	return c
}

// finalizer is the manager's finalizer on an OAuthClient.
const finalizer = "oauth.clientreg.dev/finalizer"

// rawStateless makes, with a plain client and the manager's concurrency,
// the API writes a stateless client costs the manager (see rawWrites), on
// OAuthClients created beforehand (untimed). It returns the time they took
// and removes its objects.
func rawStateless(b *testing.B, c client.Client, n, workers int) time.Duration {
	b.Helper()
	ctx := context.Background()
	ns := newNamespace(b, "scale-raw-stateless")
	uids := createClients(b, c, ns, "absent", n, workers)
	issuer := "https://idp." + ns + ".example"
	start := time.Now()
	parallel(b, n, workers, func(j int) error {
		name := fmt.Sprintf("c%d", j)
		clientID := strings.Repeat("x", 593) // a signed stateless id is this long
		w := rawWrite{
			ns: ns, name: name, uid: uids[j], clientID: clientID, issuer: issuer,
			data: map[string][]byte{"client_id": []byte(clientID), "client_secret": make([]byte, 43), "issuer": []byte(issuer)},
			status: map[string]any{
				"clientSecretExpiresAt": time.Now().Add(90 * 24 * time.Hour).UTC().Format(time.RFC3339),
				"nextRotationTime":      time.Now().Add(60 * 24 * time.Hour).UTC().Format(time.RFC3339),
			},
		}
		return w.do(ctx, c, `{"metadata":{"finalizers":["`+finalizer+`"]}}`)
	})
	d := time.Since(start)
	purge(b, c, ns, workers)
	return d
}

// rawDynamic measures, each against a fresh provider, the provider's bare
// registration rate (RawRegistrationRate) and, with a plain client and the
// manager's concurrency, what a dynamic registration costs end to end: the
// API writes the manager makes (see rawWrites; the first is the in-flight
// mark with the finalizer) with the registration at the provider after the
// first, on OAuthClients created beforehand (untimed). It removes its
// objects.
func rawDynamic(b *testing.B, c client.Client, n, workers int) (regDur, pipeDur time.Duration) {
	b.Helper()
	ctx := context.Background()
	p := oidcprovider.Start(b, oidcprovider.Options{})
	regDur, err := p.RawRegistrationRate(ctx, n, workers)
	if err != nil {
		b.Fatalf("raw registrations: %v", err)
	}
	p.Close()

	p = oidcprovider.Start(b, oidcprovider.Options{})
	defer p.Close()
	hc := providerClient(p.CAPEM, workers)
	defer hc.CloseIdleConnections()
	ns := newNamespace(b, "scale-raw-dynamic")
	uids := createClients(b, c, ns, "absent", n, workers)
	start := time.Now()
	parallel(b, n, workers, func(j int) error {
		name := fmt.Sprintf("c%d", j)
		attempt := fmt.Sprintf("%016x", j)
		mark, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"finalizers":  []string{finalizer},
			"annotations": map[string]string{oauthv1alpha1.AnnotationRegistrationAttempt: fmt.Sprintf(`{"id":%q,"startedAt":%q,"endpoint":%q}`, attempt, time.Now().UTC().Format(time.RFC3339), p.URL+"/reg")},
		}})
		w := rawWrite{ns: ns, name: name, uid: uids[j], issuer: p.URL}
		w.register = func() error {
			reg, err := rawRegister(ctx, hc, p.URL, name)
			if err != nil {
				return err
			}
			w.data = map[string][]byte{"issuer": []byte(p.URL), "registration_ca.crt": p.CAPEM}
			for _, k := range []string{"client_id", "client_secret", "registration_access_token", "registration_client_uri"} {
				v, _ := reg[k].(string)
				w.data[k] = []byte(v)
			}
			w.clientID = string(w.data["client_id"])
			w.secretAnnotations = map[string]string{"oauth.clientreg.dev/attempt-id": attempt}
			w.status = map[string]any{"registrationClientURI": string(w.data["registration_client_uri"]), "resolvedRegistrationAttempt": attempt}
			return nil
		}
		return w.do(ctx, c, string(mark))
	})
	pipeDur = time.Since(start)
	purge(b, c, ns, workers)
	return regDur, pipeDur
}

// createClients creates n clients c0..c<n-1> of server in ns and returns
// their UIDs.
func createClients(b *testing.B, c client.Client, ns, server string, n, workers int) []types.UID {
	b.Helper()
	uids := make([]types.UID, n)
	parallel(b, n, workers, func(j int) error {
		obj := serviceClient(ns, fmt.Sprintf("c%d", j), server)
		if err := c.Create(context.Background(), obj); err != nil {
			return err
		}
		uids[j] = obj.UID
		return nil
	})
	return uids
}

// rawWrite is what the manager writes for one issued client, made by a
// plain client: a metadata patch of the OAuthClient (the finalizer; for a
// dynamic registration with the in-flight mark), then (dynamic) the
// registration, the Secret (labels, annotations and owner reference as the
// manager's), the status (its three conditions and fields) and an
// events.k8s.io Event. The sizes follow what the manager writes (see the
// sample logged by each run).
type rawWrite struct {
	ns, name, clientID, issuer string
	uid                        types.UID
	data                       map[string][]byte
	secretAnnotations          map[string]string
	status                     map[string]any
	register                   func() error
}

func (w *rawWrite) do(ctx context.Context, c client.Client, metaPatch string) error {
	obj := &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: w.name}}
	if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(metaPatch))); err != nil {
		return fmt.Errorf("metadata of %s: %w", w.name, err)
	}
	if w.register != nil {
		if err := w.register(); err != nil {
			return err
		}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	secretName := w.name + "-oauth"
	ann := map[string]string{
		"oauth.clientreg.dev/issued-at":           now,
		"oauth.clientreg.dev/registration-digest": "sha256:" + strings.Repeat("d", 43),
	}
	for k, v := range w.secretAnnotations {
		ann[k] = v
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: w.ns, Name: secretName,
			Labels: map[string]string{
				oauthv1alpha1.LabelManagedBy:     oauthv1alpha1.ManagedByValue,
				"oauth.clientreg.dev/owner-kind": "OAuthClient",
				"oauth.clientreg.dev/owner-name": w.name,
			},
			Annotations: ann,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: oauthv1alpha1.GroupVersion.String(), Kind: "OAuthClient", Name: w.name, UID: w.uid,
				Controller: ptrTo(true), BlockOwnerDeletion: ptrTo(true),
			}},
		},
		Type: corev1.SecretTypeOpaque,
		Data: w.data,
	}
	if err := c.Create(ctx, sec); err != nil {
		return fmt.Errorf("Secret of %s: %w", w.name, err)
	}
	short := w.clientID
	if len(short) > 24 {
		short = short[:16] + "…" + short[len(short)-8:]
	}
	cond := func(typ, msg string) map[string]any {
		return map[string]any{"type": typ, "status": "True", "reason": typ, "message": msg, "observedGeneration": 1, "lastTransitionTime": now}
	}
	status := map[string]any{
		"observedGeneration": 1,
		"clientID":           w.clientID,
		"shortClientID":      short,
		"issuer":             w.issuer,
		"clientIDIssuedAt":   now,
		"secretName":         secretName,
		"lastRotationTime":   now,
		"conditions": []any{
			cond("Registered", "client "+short+" issued by AuthorizationServer idp"),
			cond("SecretSynced", "credentials stored in Secret "+secretName),
			cond("Ready", "credentials are current in Secret "+secretName),
		},
	}
	for k, v := range w.status {
		status[k] = v
	}
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	if err := c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("status of %s: %w", w.name, err)
	}
	ev := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Namespace: w.ns, Name: fmt.Sprintf("%s.%x", w.name, time.Now().UnixNano())}, // as the recorder names them
		EventTime:           metav1.NowMicro(),
		Regarding:           corev1.ObjectReference{APIVersion: oauthv1alpha1.GroupVersion.String(), Kind: "OAuthClient", Namespace: w.ns, Name: w.name, UID: w.uid},
		Reason:              "Registered",
		Action:              "Create",
		Note:                "client " + short + ": credentials in Secret " + secretName + " (first registration)",
		Type:                corev1.EventTypeNormal,
		ReportingController: "clientreg",
		ReportingInstance:   "clientreg-raw",
	}
	if err := c.Create(ctx, ev); err != nil {
		return fmt.Errorf("Event of %s: %w", w.name, err)
	}
	return nil
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute figures: the machine
// is shared, and the figures mean more with it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func ptrTo[T any](v T) *T { return &v }

// rawRegister registers name at the provider as the manager would.
func rawRegister(ctx context.Context, hc *http.Client, issuer, name string) (map[string]any, error) {
	body := `{"client_name":"Service ` + name + `","grant_types":["client_credentials"],"response_types":[],"token_endpoint_auth_method":"client_secret_basic"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/reg", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("registering %s: %w", name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("registering %s: %d %v %s", name, resp.StatusCode, err, raw)
	}
	var reg map[string]any
	if err := json.Unmarshal(raw, &reg); err != nil {
		return nil, fmt.Errorf("registering %s: %w", name, err)
	}
	return reg, nil
}

// providerClient is an HTTP client trusting caPEM that keeps a connection
// per worker, as the manager's registration client does.
func providerClient(caPEM []byte, workers int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = testtls.Trusting(caPEM)
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2*workers, workers
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// startManager starts manager process number seq of a run.
func startManager(b *testing.B, cfg config, metricsURL, backend string, n, seq int) *managerproc.Proc {
	b.Helper()
	addr := strings.TrimSuffix(strings.TrimPrefix(metricsURL, "http://"), "/metrics")
	opts := managerproc.Options{
		RestConfig: restCfg,
		Name:       fmt.Sprintf("manager-%s-%d-%d", backend, n, seq),
		Args: []string{
			"--leader-elect=false",
			"--enable-webhooks=false",
			"--metrics-bind-address=" + addr,
			"--health-probe-bind-address=0",
			"--cluster-resource-namespace=" + clusterNS,
			"--max-concurrent-reconciles=" + strconv.Itoa(cfg.workers),
		},
	}
	if cfg.logDir != "" {
		opts.LogFile = filepath.Join(cfg.logDir, opts.Name+".log")
	}
	return managerproc.Start(b, opts)
}

// waitAllReady follows a watch on ns's OAuthClients until n are Ready at
// their generation, and returns when the first was seen Ready. It fails b
// after timeout, or when the manager exits, with the reasons of those that
// are not Ready.
func waitAllReady(b *testing.B, ns string, n int, timeout time.Duration, m *managerproc.Proc) time.Time {
	b.Helper()
	wc, err := client.NewWithWatch(restCfg, client.Options{Scheme: testutil.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	go func() {
		select {
		case <-m.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	state := map[string]string{} // name → "" when Ready, else its Ready reason
	var first time.Time
	ready := 0
	observe := func(c *oauthv1alpha1.OAuthClient) {
		reason := "NoCondition"
		if cond := meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady); cond != nil {
			reason = cond.Reason
			if cond.Status == metav1.ConditionTrue && c.Status.ObservedGeneration == c.Generation {
				reason = ""
			}
		}
		old, seen := state[c.Name]
		if seen && old == "" {
			ready--
		}
		state[c.Name] = reason
		if reason == "" {
			ready++
			if first.IsZero() {
				first = time.Now()
			}
		}
	}
	progress := time.NewTicker(30 * time.Second)
	defer progress.Stop()
	for ctx.Err() == nil && ready < n {
		list := &oauthv1alpha1.OAuthClientList{}
		if err := wc.List(ctx, list, client.InNamespace(ns)); err != nil {
			break
		}
		for i := range list.Items {
			observe(&list.Items[i])
		}
		if ready >= n {
			break
		}
		w, err := wc.Watch(ctx, &oauthv1alpha1.OAuthClientList{}, client.InNamespace(ns), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
		if err != nil {
			break
		}
	events:
		for ready < n {
			select {
			case ev, ok := <-w.ResultChan():
				c, isClient := ev.Object.(*oauthv1alpha1.OAuthClient)
				if !ok || !isClient {
					break events // closed or an error event: list again
				}
				observe(c)
			case <-progress.C:
				// Live progress, not a result: a benchmark's log is shown
				// only at its end, and only 10 lines of it.
				fmt.Fprintf(os.Stderr, "%s: %d of %d Ready; not Ready: %v\n", b.Name(), ready, n, reasons(state))
			}
		}
		w.Stop()
	}
	if ready < n {
		why := "timed out after " + timeout.String()
		if m.Exited() {
			why = "the manager exited: " + m.Tail(4<<10)
		}
		b.Fatalf("%d of %d clients Ready (%s); not Ready: %v", ready, n, why, reasons(state))
	}
	return first
}

func reasons(state map[string]string) map[string]int {
	out := map[string]int{}
	for _, r := range state {
		if r != "" {
			out[r]++
		}
	}
	return out
}

// waitSettled waits until the manager at metricsURL has reconciled at least
// n OAuthClients and its queue is empty, and returns the time since start.
func waitSettled(b *testing.B, metricsURL string, n int, timeout time.Duration, start time.Time) time.Duration {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := scrape(b, metricsURL)
		done := sum(s, "controller_runtime_reconcile_total", map[string]string{"controller": "oauthclient"})
		depth := sum(s, "workqueue_depth", map[string]string{"name": "oauthclient"})
		if done >= float64(n) && depth == 0 {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatalf("the restarted manager reconciled %v of %d clients in %s (queue depth %v)", done, n, timeout, depth)
		}
		time.Sleep(time.Second)
	}
}

func scrape(b *testing.B, url string) map[string]float64 {
	b.Helper()
	return testutil.Scrape(b, url)
}

// latency summarises a slice of the histogram
// clientreg_remote_request_duration_seconds{operation="read"} (all
// outcomes).
type latency struct {
	count, over1s int
	sum           float64
	// p99 is the upper bound (seconds) of the bucket holding the 99th
	// percentile; +Inf beyond the last bucket.
	p99 float64
	// cumulative counts by bucket upper bound.
	buckets map[float64]float64
}

func (l latency) mean() time.Duration {
	if l.count == 0 {
		return 0
	}
	return time.Duration(l.sum / float64(l.count) * float64(time.Second))
}

// since returns what l holds beyond earlier.
func (l latency) since(earlier latency) latency {
	d := latency{count: l.count - earlier.count, sum: l.sum - earlier.sum, buckets: map[float64]float64{}}
	for ub, v := range l.buckets {
		d.buckets[ub] = v - earlier.buckets[ub]
	}
	d.finish()
	return d
}

func (l *latency) finish() {
	ubs := make([]float64, 0, len(l.buckets))
	for ub := range l.buckets {
		ubs = append(ubs, ub)
	}
	slices.Sort(ubs)
	l.p99 = math.Inf(1)
	for _, ub := range ubs {
		if l.buckets[ub] >= 0.99*float64(l.count) {
			l.p99 = ub
			break
		}
	}
	l.over1s = l.count - int(l.buckets[1])
}

// readHistogram scrapes the manager's RFC 7592 read durations.
func readHistogram(b *testing.B, url string) latency {
	b.Helper()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatalf("scraping %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	byName, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		b.Fatalf("parsing %s: %v", url, err)
	}
	l := latency{buckets: map[float64]float64{}}
	mf := byName["clientreg_remote_request_duration_seconds"]
	if mf == nil {
		l.finish()
		return l
	}
next:
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "operation" && lp.GetValue() != "read" {
				continue next
			}
		}
		h := m.GetHistogram()
		l.count += int(h.GetSampleCount())
		l.sum += h.GetSampleSum()
		for _, bk := range h.GetBucket() {
			l.buckets[bk.GetUpperBound()] += float64(bk.GetCumulativeCount())
		}
	}
	l.finish()
	return l
}

// busiestSeconds returns the n busiest one-second bins from start as
// "+<second>s:<reads>", busiest first.
func busiestSeconds(times []time.Time, start time.Time, n int) []string {
	count := map[int]int{}
	for _, t := range times {
		count[int(t.Sub(start)/time.Second)]++
	}
	secs := make([]int, 0, len(count))
	for s := range count {
		secs = append(secs, s)
	}
	slices.SortFunc(secs, func(a, b int) int {
		if count[a] != count[b] {
			return count[b] - count[a]
		}
		return a - b
	})
	var out []string
	for _, s := range secs[:min(n, len(secs))] {
		out = append(out, fmt.Sprintf("+%ds:%d", s, count[s]))
	}
	return out
}

// dumpReads writes reads as CSV (Unix ms, client_id, status) to path, with
// the run's marks (phase starts) as comment lines, for a look at the
// pattern afterwards.
func dumpReads(b *testing.B, path string, reads []oidcprovider.Read, marks map[string]time.Time) {
	b.Helper()
	var sb strings.Builder
	for name, t := range marks {
		fmt.Fprintf(&sb, "# %s %d\n", name, t.UnixMilli())
	}
	sb.WriteString("unix_ms,client_id,status\n")
	for _, r := range reads {
		fmt.Fprintf(&sb, "%d,%s,%d\n", r.At.UnixMilli(), r.ClientID, r.Status)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Errorf("writing the read log: %v", err)
	}
}

// sum adds the samples of the series name whose labels include want.
func sum(series map[string]float64, name string, want map[string]string) float64 {
	var total float64
next:
	for k, v := range series {
		rest, ok := strings.CutPrefix(k, name+"{")
		if !ok {
			continue
		}
		for l, lv := range want {
			if !strings.Contains(rest, l+"="+strconv.Quote(lv)) {
				continue next
			}
		}
		total += v
	}
	return total
}

// apiRequests returns the manager's requests to the API server
// (rest_client_requests_total) and those among them that write (not GET;
// lists and watches are GETs).
func apiRequests(series map[string]float64) (all, writes float64) {
	all = sum(series, "rest_client_requests_total", nil)
	return all, all - sum(series, "rest_client_requests_total", map[string]string{"method": "GET"})
}

func readsBetween(reads []oidcprovider.Read, from, to time.Time) []oidcprovider.Read {
	var out []oidcprovider.Read
	for _, r := range reads {
		if !r.At.Before(from) && r.At.Before(to) {
			out = append(out, r)
		}
	}
	return out
}

func readTimes(reads []oidcprovider.Read) []time.Time {
	out := make([]time.Time, len(reads))
	for i, r := range reads {
		out[i] = r.At
	}
	return out
}

// reading is one reading of the manager process: stat is m.CPUTime, m.RSS
// or m.PeakRSS. An error fails b.
func reading[T any](b *testing.B, stat func() (T, error)) T {
	b.Helper()
	v, err := stat()
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// newNamespace creates a namespace named prefix plus a unique suffix.
func newNamespace(b *testing.B, prefix string) string {
	b.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		b.Fatalf("creating a namespace: %v", err)
	}
	return ns.Name
}

func parallel(b *testing.B, n, workers int, f func(int) error) {
	b.Helper()
	testutil.Parallel(b, n, workers, f)
}

// purge removes every OAuthClient, server and Secret of ns without a
// manager: finalizers are dropped by hand (envtest runs no garbage
// collector or namespace controller either).
func purge(b *testing.B, c client.Client, ns string, workers int) {
	b.Helper()
	ctx := context.Background()
	clients := &oauthv1alpha1.OAuthClientList{}
	if err := c.List(ctx, clients, client.InNamespace(ns)); err != nil {
		b.Fatalf("listing OAuthClients: %v", err)
	}
	var objs []client.Object
	for i := range clients.Items {
		if len(clients.Items[i].Finalizers) > 0 {
			objs = append(objs, &clients.Items[i])
		}
	}
	servers := &oauthv1alpha1.AuthorizationServerList{}
	if err := c.List(ctx, servers, client.InNamespace(ns)); err != nil {
		b.Fatalf("listing AuthorizationServers: %v", err)
	}
	for i := range servers.Items {
		if len(servers.Items[i].Finalizers) > 0 {
			objs = append(objs, &servers.Items[i])
		}
	}
	noFinalizers := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
	parallel(b, len(objs), workers, func(j int) error {
		if err := c.Patch(ctx, objs[j], noFinalizers); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("removing the finalizers of %s: %w", objs[j].GetName(), err)
		}
		return nil
	})
	for _, o := range []client.Object{&oauthv1alpha1.AuthorizationServer{}, &corev1.Secret{}, &corev1.Event{}} {
		if err := c.DeleteAllOf(ctx, o, client.InNamespace(ns)); err != nil {
			b.Fatalf("deleting the %T of %s: %v", o, ns, err)
		}
	}
	testutil.DeleteAllAndWait(b, c, ns)
}

// serviceClient is a client_credentials client of server; the same spec for
// both backends.
func serviceClient(ns, name, server string) *oauthv1alpha1.OAuthClient {
	return &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:               oauthv1alpha1.ServerReference{Name: server},
			SecretName:              name + "-oauth",
			ClientName:              "Service " + name,
			GrantTypes:              []string{"client_credentials"},
			TokenEndpointAuthMethod: "client_secret_basic",
		},
	}
}

func statelessServer(ns, name string) *oauthv1alpha1.AuthorizationServer {
	return &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{
			Issuer: "https://" + name + "." + ns + ".example",
		}},
	}
}

func dynamicServer(ns, name string, p *oidcprovider.Provider, resync time.Duration) *oauthv1alpha1.AuthorizationServer {
	return &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: oauthv1alpha1.AuthorizationServerSpec{DynamicRegistration: &oauthv1alpha1.DynamicRegistration{
			IssuerURL:      oauthv1alpha1.HTTPSURL(p.URL),
			CABundle:       p.CAPEM,
			ResyncInterval: &metav1.Duration{Duration: resync},
			Timeout:        &metav1.Duration{Duration: 10 * time.Second},
		}},
	}
}
