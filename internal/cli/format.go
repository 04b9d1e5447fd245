package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// printer writes the "key: value" sections of status and inspect. Values
// are aligned per section by a tabwriter; Flush ends a section.
type printer struct {
	out io.Writer
	tw  *tabwriter.Writer
	now time.Time
}

func newPrinter(out io.Writer, now time.Time) *printer {
	return &printer{out: out, tw: tabwriter.NewWriter(out, 0, 4, 2, ' ', 0), now: now}
}

// kv prints one aligned "key: value" line, indented.
func (p *printer) kv(indent, key, format string, args ...any) {
	fmt.Fprintf(p.tw, "%s%s:\t%s\n", indent, key, oneLine(fmt.Sprintf(format, args...)))
}

// line prints a line that takes no part in the alignment.
func (p *printer) line(format string, args ...any) {
	p.flush()
	fmt.Fprintf(p.out, format+"\n", args...)
}

func (p *printer) flush() { _ = p.tw.Flush() }

// when prints t as RFC 3339 with how long ago or ahead it is.
func (p *printer) when(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return p.whenTime(t.Time)
}

func (p *printer) whenTime(t time.Time) string {
	return fmt.Sprintf("%s (%s)", t.UTC().Format(time.RFC3339), p.relative(t))
}

// relative says "5m ago" or "in 29d".
func (p *printer) relative(t time.Time) string {
	d := p.now.Sub(t)
	if d >= 0 {
		return duration.HumanDuration(d) + " ago"
	}
	return "in " + duration.HumanDuration(-d)
}

// age is the short age of t, as kubectl prints it.
func (p *printer) age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := p.now.Sub(t)
	if d < 0 {
		d = 0
	}
	return duration.HumanDuration(d)
}

// conditions prints a table of conditions, Ready first, then the others in
// their order.
func (p *printer) conditions(conds []metav1.Condition, generation int64) {
	p.flush()
	if len(conds) == 0 {
		fmt.Fprintln(p.out, "Conditions: none yet (the operator has not reconciled this object)")
		return
	}
	sorted := append([]metav1.Condition(nil), conds...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Type == "Ready" && sorted[j].Type != "Ready" })
	fmt.Fprintln(p.out, "Conditions:")
	tw := tabwriter.NewWriter(p.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tAGE\tMESSAGE")
	for _, c := range sorted {
		msg := oneLine(c.Message)
		if c.ObservedGeneration != 0 && c.ObservedGeneration != generation {
			msg = fmt.Sprintf("[generation %d, object at %d] %s", c.ObservedGeneration, generation, msg)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, orDash(c.Reason), p.age(c.LastTransitionTime.Time), msg)
	}
	_ = tw.Flush()
}

// oneLine keeps a value on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func durationOr(d *metav1.Duration, def string) string {
	if d == nil {
		return def
	}
	return d.Duration.String()
}
