package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// latencies summarises per-request durations.
type latencies struct {
	P50, P99, Max time.Duration
}

// summarize returns nearest-rank percentiles of d (which it sorts).
func summarize(d []time.Duration) latencies {
	if len(d) == 0 {
		return latencies{}
	}
	slices.Sort(d)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return d[max(0, min(i, len(d)-1))]
	}
	return latencies{P50: rank(0.50), P99: rank(0.99), Max: d[len(d)-1]}
}

// parallel runs do(0..n-1) on workers goroutines and returns each call's
// latency, the number of failed calls, up to five failure messages and the
// wall time from the first call to the last answer.
func parallel(ctx context.Context, n, workers int, do func(ctx context.Context, i int) error) (lat []time.Duration, failed int, samples []string, wall time.Duration) {
	lat = make([]time.Duration, n)
	var (
		next   atomic.Int64
		nFail  atomic.Int64
		mu     sync.Mutex
		wg     sync.WaitGroup
		starts = time.Now()
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				err := do(ctx, i)
				lat[i] = time.Since(t)
				if err != nil {
					nFail.Add(1)
					mu.Lock()
					if len(samples) < 5 {
						samples = append(samples, fmt.Sprintf("#%d: %v", i, err))
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	wall = time.Since(starts)
	failed = int(nFail.Load())
	if done := int(min(next.Load(), int64(n))); done < n { // interrupted
		failed += n - done
		lat = lat[:done]
	}
	return lat, failed, samples, wall
}

// memory is what the process used during one phase.
type memory struct {
	// PeakRSS is VmHWM: the peak resident set since resetPeakRSS (or since
	// the process started when the reset is not permitted).
	PeakRSS uint64 `json:"peakRSSBytes"`
	// PeakRSSSinceReset says whether PeakRSS covers the phase only.
	PeakRSSSinceReset bool `json:"peakRSSPhaseOnly"`
	// PeakHeapAlloc is the highest runtime.MemStats.HeapAlloc sampled.
	PeakHeapAlloc uint64 `json:"peakHeapAllocBytes"`
	// HeapSys and Sys are runtime.MemStats at the end of the phase.
	HeapSys uint64 `json:"heapSysBytes"`
	Sys     uint64 `json:"sysBytes"`
}

// memWatch samples the Go heap while a phase runs.
type memWatch struct {
	reset bool
	stop  chan struct{}
	done  chan struct{}
	peak  atomic.Uint64
}

// watchMemory resets the kernel's peak RSS counter (Linux: "5" into
// /proc/self/clear_refs) so that VmHWM covers this phase only, and samples
// HeapAlloc every 50ms until stop.
func watchMemory() *memWatch {
	w := &memWatch{stop: make(chan struct{}), done: make(chan struct{})}
	w.reset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	go func() {
		defer close(w.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > w.peak.Load() {
				w.peak.Store(ms.HeapAlloc)
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// finish stops the sampler and reads the peaks.
func (w *memWatch) finish() (memory, error) {
	close(w.stop)
	<-w.done
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := memory{PeakRSSSinceReset: w.reset, PeakHeapAlloc: max(w.peak.Load(), ms.HeapAlloc), HeapSys: ms.HeapSys, Sys: ms.Sys}
	hwm, err := procStatus("VmHWM")
	if err != nil {
		return m, err
	}
	m.PeakRSS = hwm
	return m, nil
}

// procStatus reads a "kB" field of /proc/self/status, in bytes.
func procStatus(field string) (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("reading process status: %w", err)
	}
	defer func() { _ = f.Close() }() // read only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %s %q: %w", field, val, err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading process status: %w", err)
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// apiCounter counts the manager's requests to the API server, by method,
// resource and wire format ("POST secrets [protobuf]", "PATCH oauthclients/status [json]").
type apiCounter struct {
	reads, writes atomic.Int64
	mu            sync.Mutex
	byKind        map[string]int64
}

func (c *apiCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodGet {
			c.reads.Add(1)
		} else {
			c.writes.Add(1)
		}
		key := r.Method + " " + resourceOf(r.URL.Path)
		if r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true" {
			key = "WATCH " + resourceOf(r.URL.Path)
		}
		// The wire format: protobuf for built-in kinds (controller-runtime's
		// default), JSON for custom resources (CRDs have no protobuf).
		ct := r.Header.Get("Content-Type")
		if r.Method == http.MethodGet {
			ct = r.Header.Get("Accept")
		}
		if strings.Contains(ct, "protobuf") {
			key += " [protobuf]"
		} else {
			key += " [json]"
		}
		c.mu.Lock()
		if c.byKind == nil {
			c.byKind = map[string]int64{}
		}
		c.byKind[key]++
		c.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

// snapshot returns the totals and a copy of the per-kind counts.
func (c *apiCounter) snapshot() (reads, writes int64, byKind map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byKind = make(map[string]int64, len(c.byKind))
	for k, v := range c.byKind {
		byKind[k] = v
	}
	return c.reads.Load(), c.writes.Load(), byKind
}

// resourceOf turns an API path into its resource and subresource:
// /apis/g/v/namespaces/ns/oauthclients/x/status -> oauthclients/status.
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return path
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) > 2 {
		parts = parts[2:]
	}
	switch len(parts) {
	case 0:
		return path
	case 1, 2:
		return parts[0]
	default:
		return parts[0] + "/" + strings.Join(parts[2:], "/")
	}
}

// diff returns b - a for every key of b with a difference.
func diff(a, b map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range b {
		if d := v - a[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// cpuTimes returns the CPU time (user + system) used so far by this process
// ("self") and by its child processes (kube-apiserver and etcd), by command name.
func cpuTimes() map[string]time.Duration {
	out := map[string]time.Duration{}
	self := os.Getpid()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15), comm may hold spaces.
		s := string(raw)
		lparen, rparen := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if lparen < 0 || rparen < lparen {
			continue
		}
		fields := strings.Fields(s[rparen+1:])
		if len(fields) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		name := s[lparen+1 : rparen]
		switch {
		case pid == self:
			name = "self"
		case ppid != self:
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		out[name] += time.Duration(utime+stime) * time.Second / clockTicks
	}
	return out
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTicks = 100

// cpuSeconds returns b - a per process, in seconds.
func cpuSeconds(a, b map[string]time.Duration) map[string]float64 {
	out := map[string]float64{}
	for k, v := range b {
		out[k] = (v - a[k]).Seconds()
	}
	return out
}
