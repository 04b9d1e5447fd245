package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

const ratioTarget = 0.5

// printTable writes the results as a table with notes.
func printTable(out io.Writer, env runEnv, results []*modeResult) {
	fmt.Fprintf(out, "\nRegistration endpoint load (%s, concurrency %d, GOMAXPROCS %d of %d CPUs; kube-apiserver and etcd share them)\n\n",
		env.Endpoint, env.Concurrency, env.GOMAXPROCS, env.NumCPU)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tn\treg/s\tp50 ms\tp99 ms\tmax ms\terrors\tpeak RSS MiB\tpeak heap MiB\tmgr writes/reg\traw creates/s\tratio\t")
	for _, r := range results {
		raw, ratio := "-", "-"
		if r.RawLive != nil {
			raw = fmt.Sprintf("%.0f", bestRaw(r))
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%d\t%.0f\t%.0f\t%.1f\t%s\t%s\t\n",
			r.Mode, r.Registrations, r.PerSecond, r.P50Ms, r.P99Ms, r.MaxMs, r.Errors,
			mib(r.Memory.PeakRSS), mib(r.Memory.PeakHeapAlloc), r.WritesPerRequest, raw, ratio)
	}
	_ = tw.Flush()

	fmt.Fprintln(out)
	for _, r := range results {
		fmt.Fprintf(out, "%s: CPU per registration: %s\n", r.Mode, cpuPer(r.CPUSeconds, r.Registrations))
		if r.RawLive != nil {
			fmt.Fprintf(out, "%s: raw OAuthClient creates, same concurrency and client limits:\n", r.Mode)
			for _, x := range []struct {
				name string
				raw  *rawResult
			}{{"manager stopped", r.RawIdle}, {"manager running", r.RawLive}} {
				if x.raw != nil {
					fmt.Fprintf(out, "  %-16s %5d creates  %7.0f/s  p50 %.1f ms  p99 %.1f ms  max %.1f ms\n",
						x.name, x.raw.Creates, x.raw.PerSecond, x.raw.P50Ms, x.raw.P99Ms, x.raw.MaxMs)
				}
			}
			fmt.Fprintf(out, "  CPU per raw create (faster batch): %s\n", cpuPer(bestRawResult(r).CPUSeconds, bestRawResult(r).Creates))
			verdict := "met"
			if r.Ratio < ratioTarget {
				verdict = "NOT met"
			}
			fmt.Fprintf(out, "  ratio = %.0f reg/s ÷ %.0f raw creates/s (the faster) = %.2f (target ≥ %.1f: %s)\n",
				r.PerSecond, bestRaw(r), r.Ratio, ratioTarget, verdict)
		}
		if len(r.ManagerRequests) > 0 {
			keys := slices.Sorted(maps.Keys(r.ManagerRequests))
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%s %d", k, r.ManagerRequests[k])
			}
			fmt.Fprintf(out, "%s: manager API requests during the mode: %s\n", r.Mode, strings.Join(parts, ", "))
		}
		for _, s := range r.ErrorSamples {
			fmt.Fprintf(out, "%s: error %s\n", r.Mode, s)
		}
	}
	scope := "since each mode started (VmHWM reset through /proc/self/clear_refs)"
	for _, r := range results {
		if !r.Memory.PeakRSSSinceReset {
			scope = "since the process started (VmHWM could not be reset)"
		}
	}
	fmt.Fprintf(out, "Memory is this one process (manager + endpoint + load generator; not kube-apiserver or etcd): peak RSS %s, peak heap = highest sampled runtime.MemStats.HeapAlloc.\n", scope)
}

// cpuPer formats CPU milliseconds per operation by process.
func cpuPer(cpu map[string]float64, n int) string {
	keys := slices.Sorted(maps.Keys(cpu))
	parts := make([]string, 0, len(keys)+1)
	total := 0.0
	for _, k := range keys {
		total += cpu[k]
		parts = append(parts, fmt.Sprintf("%s %.2f", k, cpu[k]*1000/float64(n)))
	}
	return fmt.Sprintf("%.2f ms (%s)", total*1000/float64(n), strings.Join(parts, ", "))
}

func bestRawResult(r *modeResult) *rawResult {
	if r.RawIdle != nil && (r.RawLive == nil || r.RawIdle.PerSecond >= r.RawLive.PerSecond) {
		return r.RawIdle
	}
	return r.RawLive
}

func bestRaw(r *modeResult) float64 {
	best := 0.0
	for _, x := range []*rawResult{r.RawIdle, r.RawLive} {
		if x != nil {
			best = max(best, x.PerSecond)
		}
	}
	return best
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// printJSON writes the results as one JSON document.
func printJSON(out io.Writer, env runEnv, results []*modeResult) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	doc := struct {
		Env         runEnv        `json:"env"`
		RatioTarget float64       `json:"ratioTarget"`
		Results     []*modeResult `json:"results"`
	}{env, ratioTarget, results}
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}
