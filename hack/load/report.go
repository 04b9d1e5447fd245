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
func printTable(out io.Writer, env runEnv, results []*modeResult, costs []requestCost) {
	fmt.Fprintf(out, "\nRegistration endpoint load (%s, concurrency %d, GOMAXPROCS %d of %d CPUs; kube-apiserver and etcd share them)\n\n",
		env.Endpoint, env.Concurrency, env.GOMAXPROCS, env.NumCPU)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tn\treg/s\tp50 ms\tp99 ms\tmax ms\terrors\tpeak RSS MiB\tpeak heap MiB\tAPI req/reg\tmgr writes/reg\traw pairs/s\tratio\t")
	for _, r := range results {
		raw, ratio := "-", "-"
		if r.PairLive != nil {
			raw = fmt.Sprintf("%.0f", bestOf(r.PairIdle, r.PairLive))
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%d\t%.0f\t%.0f\t%.1f\t%.1f\t%s\t%s\t\n",
			r.Mode, r.Registrations, r.PerSecond, r.P50Ms, r.P99Ms, r.MaxMs, r.Errors,
			mib(r.Memory.PeakRSS), mib(r.Memory.PeakHeapAlloc), r.RequestsPerRegistration, r.WritesPerRequest, raw, ratio)
	}
	_ = tw.Flush()

	fmt.Fprintln(out)
	for _, r := range results {
		fmt.Fprintf(out, "%s: CPU per registration: %s\n", r.Mode, cpuPer(r.CPUSeconds, r.Registrations))
		if r.PairLive != nil {
			fmt.Fprintf(out, "%s: raw creates by a plain client, same concurrency and client limits:\n", r.Mode)
			for _, x := range []struct {
				name string
				raw  *rawResult
			}{
				{"OAuthClient+Secret pairs, manager stopped", r.PairIdle}, {"OAuthClient+Secret pairs, manager running", r.PairLive},
				{"OAuthClient only, manager stopped", r.RawIdle}, {"OAuthClient only, manager running", r.RawLive},
				{"OAuthClient+status+Secret, manager stopped", r.StoredIdle},
			} {
				if x.raw != nil {
					fmt.Fprintf(out, "  %-43s %5d  %7.0f/s  p50 %.1f ms  p99 %.1f ms  max %.1f ms  CPU/item %s\n",
						x.name, x.raw.Creates, x.raw.PerSecond, x.raw.P50Ms, x.raw.P99Ms, x.raw.MaxMs, cpuPer(x.raw.CPUSeconds, x.raw.Creates))
				}
			}
			verdict := "met"
			if r.Ratio < ratioTarget {
				verdict = "NOT met"
			}
			fmt.Fprintf(out, "  ratio = %.0f reg/s ÷ %.0f raw OAuthClient+Secret pairs/s (the faster; the same objects a registration stores) = %.2f (target ≥ %.1f: %s)\n",
				r.PerSecond, bestOf(r.PairIdle, r.PairLive), r.Ratio, ratioTarget, verdict)
			fmt.Fprintf(out, "  against OAuthClient creates alone (%.0f/s, the faster): %.2f\n", bestOf(r.RawIdle, r.RawLive), r.RatioOAuthClientOnly)
			fmt.Fprintf(out, "  CPU ratio = CPU per raw pair (manager stopped) ÷ CPU per registration = %.2f (the ratio when the CPUs are the limit, whatever else runs)\n", r.CPURatio)
			if r.StoredIdle != nil {
				fmt.Fprintf(out, "  against the whole stored state, create + status write + Secret (%.0f/s): %.2f\n", r.StoredIdle.PerSecond, r.RatioStoredState)
			}
			if r.SecretBytes > 0 {
				fmt.Fprintf(out, "  Secret size (JSON): stored by the manager %d bytes, raw pair %d bytes\n", r.SecretBytes, r.RawSecretBytes)
			}
		}
		if len(r.ManagerRequests) > 0 {
			keys := slices.Sorted(maps.Keys(r.ManagerRequests))
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%s %.2f", k, float64(r.ManagerRequests[k])/float64(r.Registrations))
			}
			fmt.Fprintf(out, "%s: manager API requests per registration (%.2f in all): %s\n", r.Mode, r.RequestsPerRegistration, strings.Join(parts, ", "))
		}

		for _, s := range r.ErrorSamples {
			fmt.Fprintf(out, "%s: error %s\n", r.Mode, s)
		}
	}
	if len(costs) > 0 {
		fmt.Fprintln(out, "Single API requests, plain client, manager stopped (CPU per request; a Secret create = pair batch - OAuthClient batch):")
		for _, c := range costs {
			parts := []string{}
			for _, k := range slices.Sorted(maps.Keys(c.CPUms)) {
				parts = append(parts, fmt.Sprintf("%s %.2f", k, c.CPUms[k]))
			}
			fmt.Fprintf(out, "  %-55s %5d  %7.0f/s  CPU %.2f ms (%s)\n", c.Request, c.N, c.PerSecond, c.TotalCPU, strings.Join(parts, ", "))
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

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// printJSON writes the results as one JSON document.
func printJSON(out io.Writer, env runEnv, results []*modeResult, costs []requestCost) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	doc := struct {
		Env         runEnv        `json:"env"`
		RatioTarget float64       `json:"ratioTarget"`
		Results     []*modeResult `json:"results"`
		Costs       []requestCost `json:"singleRequestCosts,omitempty"`
	}{env, ratioTarget, results, costs}
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}
