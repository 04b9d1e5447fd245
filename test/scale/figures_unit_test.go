package scale

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
)

func TestParseSizes(t *testing.T) {
	got, err := parseSizes(" 10000,1000,1000 ,")
	if err != nil || !slices.Equal(got, []int{1000, 10000}) {
		t.Fatalf("parseSizes = %v, %v", got, err)
	}
	for _, bad := range []string{"", ",", "0", "-5", "1k"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) accepted", bad)
		}
	}
}

func TestMaxInWindow(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, base.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	for _, c := range []struct {
		times []time.Time
		want  int
	}{
		{nil, 0},
		{at(0), 1},
		{at(0, 999), 2},
		{at(0, 1000), 1}, // half-open
		{at(0, 500, 1400, 1450, 1499, 2600), 4},
		{at(0, 0, 0, 5000), 3},
	} {
		if got := maxInWindow(c.times, time.Second); got != c.want {
			t.Errorf("maxInWindow(%v) = %d, want %d", c.times, got, c.want)
		}
	}
}

func TestBinCounts(t *testing.T) {
	base := time.Unix(1000, 0)
	times := []time.Time{base.Add(-time.Millisecond), base, base.Add(999 * time.Millisecond), base.Add(time.Second), base.Add(2500 * time.Millisecond), base.Add(3 * time.Second)}
	if got := binCounts(times, base, time.Second, 3); !slices.Equal(got, []int{2, 1, 1}) {
		t.Fatalf("binCounts = %v", got)
	}
}

func TestFitLine(t *testing.T) {
	slope, icpt, ok := fitLine([]float64{1000, 10000}, []float64{60, 150})
	if !ok || slope != 0.01 || icpt != 50 {
		t.Fatalf("two points: %v %v %v", slope, icpt, ok)
	}
	slope, icpt, ok = fitLine([]float64{0, 1, 2}, []float64{1, 3, 5})
	if !ok || slope != 2 || icpt != 1 {
		t.Fatalf("three points: %v %v %v", slope, icpt, ok)
	}
	if _, _, ok := fitLine([]float64{5}, []float64{1}); ok {
		t.Error("one point fitted")
	}
	if _, _, ok := fitLine([]float64{5, 5}, []float64{1, 2}); ok {
		t.Error("one distinct x fitted")
	}
}

func TestCountReads(t *testing.T) {
	base := time.Unix(1000, 0)
	reads := []oidcprovider.Read{
		{At: base.Add(2 * time.Second), ClientID: "a", Status: 200},
		{At: base, ClientID: "b", Status: 200},
		{At: base.Add(time.Second), ClientID: "a", Status: 401},
	}
	c := countReads(reads, 2)
	if c.total != 3 || c.clients != 2 || c.minPerClient != 1 || c.maxPerClient != 2 || c.failed != 1 {
		t.Fatalf("countReads = %+v", c)
	}
	if !slices.Equal(c.firsts, []time.Time{base, base.Add(time.Second)}) {
		t.Fatalf("firsts = %v", c.firsts)
	}
	if c := countReads(reads, 3); c.minPerClient != 0 {
		t.Fatalf("a client never read: min = %d", c.minPerClient)
	}
}

func TestSpreadOffset(t *testing.T) {
	const resync = 30 * time.Second
	if got := spreadOffset("anything", 0); got != 0 {
		t.Errorf("no interval: %s", got)
	}
	// Uniform enough over many UIDs: every tenth of the interval gets some.
	var tenths [10]int
	for i := range 1000 {
		off := spreadOffset(types.UID(fmt.Sprintf("uid-%d", i)), resync)
		if off < 0 || off >= resync {
			t.Fatalf("offset %s outside [0, %s)", off, resync)
		}
		tenths[off/(resync/10)]++
	}
	for i, k := range tenths {
		if k < 50 || k > 150 {
			t.Errorf("tenth %d holds %d of 1000 offsets", i, k)
		}
	}
	if a, b := spreadOffset("a", resync), spreadOffset("a", resync); a != b {
		t.Error("not deterministic")
	}
}

func TestFitSchedule(t *testing.T) {
	const resync = 10 * time.Second
	start := time.Unix(5000, 0)
	firstOf := map[string]time.Time{}
	uidOf := map[string]types.UID{}
	for i := range 9 {
		id, uid := fmt.Sprintf("client-%d", i), types.UID(fmt.Sprintf("uid-%d", i))
		uidOf[id] = uid
		at := start.Add(spreadOffset(uid, resync))
		if i == 0 {
			at = at.Add(3 * time.Second) // one late
		}
		firstOf[id] = at
	}
	firstOf["unknown"] = start // no UID: left out
	s := fitSchedule(firstOf, uidOf, resync)
	if !s.start.Equal(start) {
		t.Fatalf("start = %s, want %s", s.start, start)
	}
	if len(s.lateness) != 9 || s.lateness[8] != 3*time.Second || within(s.lateness, 0, 0) != 8 {
		t.Fatalf("lateness = %v", s.lateness)
	}
	if q := quantile(s.lateness, 0.5); q != 0 {
		t.Errorf("median lateness = %s", q)
	}
	if q := quantile(s.lateness, 1); q != 3*time.Second {
		t.Errorf("max lateness = %s", q)
	}
	if q := quantile(nil, 0.5); q != 0 {
		t.Errorf("quantile of nothing = %s", q)
	}
}
