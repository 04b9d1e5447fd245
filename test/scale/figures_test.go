package scale

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
)

// maxInWindow returns the largest number of times (sorted) that fall into
// any half-open window [t, t+w).
func maxInWindow(times []time.Time, w time.Duration) int {
	best, lo := 0, 0
	for hi := range times {
		for !times[hi].Before(times[lo].Add(w)) {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// binCounts counts times into bins of width from start: bin i holds
// [start+i*width, start+(i+1)*width). Times outside all bins are left out.
func binCounts(times []time.Time, start time.Time, width time.Duration, bins int) []int {
	out := make([]int, bins)
	for _, t := range times {
		d := t.Sub(start)
		if d < 0 {
			continue
		}
		if i := int(d / width); i < bins {
			out[i]++
		}
	}
	return out
}

// fitLine fits y = slope*x + intercept by least squares; ok is false with
// fewer than two distinct x.
func fitLine(xs, ys []float64) (slope, intercept float64, ok bool) {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0, 0, false
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	den := n*sxx - sx*sx
	if math.Abs(den) < 1e-9 {
		return 0, 0, false
	}
	slope = (n*sxy - sx*sy) / den
	return slope, (sy - slope*sx) / n, true
}

// readCounts summarises reads for n clients: how many there were, the
// fewest and most of any one client (a client never read counts 0), how
// many were not answered 200, and each client's first read, sorted.
type readCounts struct {
	total, minPerClient, maxPerClient, failed, clients int
	firsts                                             []time.Time
	firstOf                                            map[string]time.Time
}

func countReads(reads []oidcprovider.Read, n int) readCounts {
	per := map[string]int{}
	first := map[string]time.Time{}
	c := readCounts{total: len(reads), firstOf: first}
	for _, r := range reads {
		per[r.ClientID]++
		if f, ok := first[r.ClientID]; !ok || r.At.Before(f) {
			first[r.ClientID] = r.At
		}
		if r.Status != 200 {
			c.failed++
		}
	}
	c.clients = len(per)
	c.minPerClient = math.MaxInt
	for _, k := range per {
		c.minPerClient = min(c.minPerClient, k)
		c.maxPerClient = max(c.maxPerClient, k)
	}
	if len(per) < n || len(per) == 0 {
		c.minPerClient = 0
	}
	for _, t := range first {
		c.firsts = append(c.firsts, t)
	}
	slices.SortFunc(c.firsts, func(a, b time.Time) int { return a.Compare(b) })
	return c
}

// mib converts bytes to MiB.
func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// spreadOffset is the point of the resync interval the dynamic backend
// gives a client's first read after a manager start (SpreadFirstReads in
// controllers/backend/dynamic): the first 8 bytes of SHA-256 of its UID, big
// endian, modulo the interval in nanoseconds. Repeated here to check the
// schedule from outside the process.
func spreadOffset(uid types.UID, resync time.Duration) time.Duration {
	if resync <= 0 {
		return 0
	}
	h := sha256.Sum256([]byte(uid))
	return time.Duration(binary.BigEndian.Uint64(h[:8]) % uint64(resync))
}

// schedule compares each client's first read with its read point, as the
// dynamic backend places it (controllers/backend/dynamic readPoint): the
// points of a client are spreadOffset(uid) + k * resync from the Unix epoch.
// lateness is each first read minus its nearest point (negative: early),
// sorted; start is the median of the epoch-aligned interval starts the
// points belong to (where the first interval of the schedule begins).
// Clients with no UID in uidOf are left out.
type schedule struct {
	start    time.Time
	lateness []time.Duration
}

func fitSchedule(firstOf map[string]time.Time, uidOf map[string]types.UID, resync time.Duration) schedule {
	var base []time.Time
	var lateness []time.Duration
	for id, t := range firstOf {
		uid, ok := uidOf[id]
		if !ok || resync <= 0 {
			continue
		}
		off := spreadOffset(uid, resync)
		d := time.Duration((t.UnixNano() - int64(off)) % int64(resync))
		if d < 0 {
			d += resync
		}
		if d > resync/2 {
			d -= resync
		}
		base = append(base, t.Add(-off-d))
		lateness = append(lateness, d)
	}
	if len(base) == 0 {
		return schedule{}
	}
	slices.SortFunc(base, func(a, b time.Time) int { return a.Compare(b) })
	slices.Sort(lateness)
	return schedule{start: base[len(base)/2], lateness: lateness}
}

// quantile returns the q-quantile (0..1) of sorted durations, 0 for none.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// within counts the durations d with lo <= d <= hi.
func within(ds []time.Duration, lo, hi time.Duration) int {
	k := 0
	for _, d := range ds {
		if d >= lo && d <= hi {
			k++
		}
	}
	return k
}
