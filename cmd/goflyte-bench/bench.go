package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The comparison machinery: a Comparison pairs a goflyte measurement with a
// baseline measured in the same run, and states the target ratio. Adding a
// row means appending a Comparison to comparisons() in rows.go; nothing here
// needs to change.

// Sampler takes one sample and returns the time it measured. A sampler
// measures its own interval, so that setup and teardown around the interval
// (closing a plugin, checking a result) are left out of it.
type Sampler func(ctx context.Context) (time.Duration, error)

// Side is one column of a comparison.
type Side struct {
	// What says what one sample measures, for the legend under the table.
	What string
	// Setup prepares the side (start a server, warm an engine) and returns
	// its sampler. Resources go to env.Cleanup, which runs at the end.
	Setup func(ctx context.Context, env *Env) (Sampler, error)
}

// Op is the direction of a target: how the ratio goflyte/baseline must
// compare with Comparison.Target.
type Op string

// Target directions.
const (
	AtMost Op = "<=" // ratio <= target
	Below  Op = "<"  // ratio < target
)

// Comparison is one row of the report.
type Comparison struct {
	// ID is a short stable name for -run and the JSON output.
	ID string
	// Name is the row's label in the table.
	Name    string
	Goflyte Side
	// Baseline is nil for an info row, which reports goflyte's number only.
	Baseline *Side
	// Target is the ratio goflyte/baseline must meet (by Op); 0 means the
	// row has no target.
	Target float64
	Op     Op
	// Limit, if not 0, is an absolute target beside the ratio's: goflyte's
	// median must be at most Limit. Its verdict is reported separately
	// (Result.LimitVerdict), and the row is a miss if either target is.
	Limit time.Duration
	// N and QuickN are the measured samples per side (with -quick); Warmup
	// samples per side are taken first and discarded.
	N, QuickN, Warmup int
	// ShortN, if not 0, is the samples per side in -short mode instead of
	// a tenth of N: for a noisy row whose one short sample says little.
	ShortN int
	// Unit is what the samples count: "" for time, UnitBytes for bytes
	// (a Sampler then returns a byte count as its Duration, and Limit is
	// in bytes), UnitEvents for a count of Temporal history events (the
	// same, as a plain number).
	Unit string
	// Short puts the row in -short mode (a few samples of the cheap rows,
	// under a minute in all, run at the end of .ci/run).
	Short bool
	// Peer marks a row that runs another tool (go-task, Dagu): measured
	// only with -peers (make bench-peers installs them).
	Peer bool
}

// Comparison.Unit values besides time.
const (
	UnitBytes  = "bytes"  // rows that measure memory
	UnitEvents = "events" // rows that count Temporal history events
)

// In -short mode a row takes a tenth of its samples (at least one) and at
// most one warm-up sample per side.
const shortDivisor, shortWarmup = 10, 1

// Info reports whether the row has no target.
func (c *Comparison) Info() bool { return c.Limit == 0 && !c.hasRatioTarget() }

// hasRatioTarget reports whether the row has a target for its ratio.
func (c *Comparison) hasRatioTarget() bool { return c.Target != 0 && c.Baseline != nil }

func (c *Comparison) samples(quick bool) int {
	if quick && c.QuickN > 0 {
		return c.QuickN
	}
	return max(c.N, 1)
}

// samplesIn returns the samples and warm-up samples per side in a mode.
func (c *Comparison) samplesIn(o RunOptions) (n, warmup int) {
	n, warmup = c.samples(o.Quick), c.Warmup
	if o.Short {
		n, warmup = max(1, c.samples(false)/shortDivisor), min(warmup, shortWarmup)
		if c.ShortN > 0 {
			n = c.ShortN
		}
	}
	return n, warmup
}

// Stats summarises the samples of one side.
type Stats struct {
	N      int           `json:"n"`
	Median time.Duration `json:"median_ns"`
	Mean   time.Duration `json:"mean_ns"`
	Min    time.Duration `json:"min_ns"`
	Max    time.Duration `json:"max_ns"`
	P10    time.Duration `json:"p10_ns"`
	P90    time.Duration `json:"p90_ns"`
}

// Result is a measured comparison.
type Result struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Info bool   `json:"info"`
	// Unit is "bytes" for a row whose numbers are bytes, "events" for a
	// count of history events (the *_ns fields then hold those), "" for
	// time.
	Unit         string  `json:"unit,omitempty"`
	Goflyte      *Stats  `json:"goflyte,omitempty"`
	GoflyteWhat  string  `json:"goflyte_measures"`
	Baseline     *Stats  `json:"baseline,omitempty"`
	BaselineWhat string  `json:"baseline_measures,omitempty"`
	Ratio        float64 `json:"ratio,omitempty"`
	Target       float64 `json:"target,omitempty"`
	Op           Op      `json:"op,omitempty"`
	// Verdict is "ok" or "miss" for a row with a target for its ratio, ""
	// otherwise.
	Verdict string `json:"verdict,omitempty"`
	// Limit is the absolute target for goflyte's median (at most), if
	// any, and LimitVerdict whether the median meets it ("ok", "miss").
	Limit        time.Duration `json:"limit_ns,omitempty"`
	LimitVerdict string        `json:"limit_verdict,omitempty"`
	// Skipped says why the row could not be measured on this machine.
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}

// SkipError is returned by a Setup when its row cannot run on this machine
// (a missing tool or file system); the row is reported as skipped, which is
// not an error.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// Skip returns a *SkipError.
func Skip(reason string) error { return &SkipError{Reason: reason} }

// Verdict values.
const (
	VerdictOK   = "ok"
	VerdictMiss = "miss"
)

// verdict tells whether ratio meets target in direction op.
func verdict(ratio, target float64, op Op) string {
	if target == 0 || math.IsNaN(ratio) || math.IsInf(ratio, 0) {
		return ""
	}
	ok := ratio <= target
	if op == Below {
		ok = ratio < target
	}
	if ok {
		return VerdictOK
	}
	return VerdictMiss
}

// summarize computes the statistics of samples (which it sorts).
func summarize(samples []time.Duration) *Stats {
	if len(samples) == 0 {
		return &Stats{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	n := len(samples)
	return &Stats{
		N:      n,
		Median: median(samples),
		Mean:   sum / time.Duration(n),
		Min:    samples[0],
		Max:    samples[n-1],
		P10:    samples[(n-1)*10/100],
		P90:    samples[(n-1)*90/100],
	}
}

// median of sorted samples: the middle one, or the mean of the two middle
// ones.
func median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// RunOptions configures Run.
type RunOptions struct {
	Quick bool
	// Short measures only the rows marked Short, with a few samples.
	Short bool
	// Peers measures the rows that run other tools (Peer) too.
	Peers bool
	// Filter selects rows by ID or name; nil selects all.
	Filter *regexp.Regexp
	// Progress receives one line per row as it starts; nil discards.
	Progress io.Writer
}

// Selected reports whether the filter selects c.
func (o RunOptions) Selected(c *Comparison) bool {
	if (o.Short && !c.Short) || (c.Peer && !o.Peers) {
		return false
	}
	return o.Filter == nil || o.Filter.MatchString(c.ID) || o.Filter.MatchString(c.Name)
}

// Run measures every selected comparison. A row that fails carries its
// error in Result.Error and the others still run.
func Run(ctx context.Context, env *Env, comps []Comparison, opts RunOptions) []Result {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	var results []Result
	for i := range comps {
		c := &comps[i]
		if !opts.Selected(c) {
			continue
		}
		n, warmup := c.samplesIn(opts)
		fmt.Fprintf(progress, "measuring %s (%d samples per side)...\n", c.Name, n)
		start := time.Now()
		r := measure(ctx, env, c, n, warmup)
		switch {
		case r.Error != "":
			fmt.Fprintf(progress, "  error: %s\n", r.Error)
		case r.Skipped != "":
			fmt.Fprintf(progress, "  skipped: %s\n", r.Skipped)
		default:
			fmt.Fprintf(progress, "  done in %s\n", time.Since(start).Round(time.Millisecond))
		}
		results = append(results, r)
		if ctx.Err() != nil {
			break
		}
	}
	return results
}

func measure(ctx context.Context, env *Env, c *Comparison, n, warmup int) Result {
	r := Result{ID: c.ID, Name: c.Name, Info: c.Info(), Unit: c.Unit, GoflyteWhat: c.Goflyte.What}
	if c.hasRatioTarget() {
		r.Target, r.Op = c.Target, c.Op
	}
	r.Limit = c.Limit
	fail := func(side string, err error) Result {
		var skip *SkipError
		if errors.As(err, &skip) {
			r.Skipped = skip.Reason
		} else {
			r.Error = fmt.Sprintf("%s: %v", side, err)
		}
		return r
	}
	gf, err := c.Goflyte.Setup(ctx, env)
	if err != nil {
		return fail("goflyte setup", err)
	}
	var base Sampler
	if c.Baseline != nil {
		r.BaselineWhat = c.Baseline.What
		if base, err = c.Baseline.Setup(ctx, env); err != nil {
			return fail("baseline setup", err)
		}
	}
	// The two sides alternate, and which goes first alternates too, so that
	// drift in the machine's load affects both alike.
	var gfSamples, baseSamples []time.Duration
	for i := -warmup; i < n; i++ {
		k := i + warmup
		for _, isGoflyte := range [2]bool{k%2 == 0, k%2 != 0} {
			if isGoflyte {
				d, err := gf(ctx)
				if err != nil {
					return fail("goflyte", err)
				}
				if i >= 0 {
					gfSamples = append(gfSamples, d)
				}
			} else if base != nil {
				d, err := base(ctx)
				if err != nil {
					return fail("baseline", err)
				}
				if i >= 0 {
					baseSamples = append(baseSamples, d)
				}
			}
		}
	}
	r.Goflyte = summarize(gfSamples)
	if r.Limit > 0 {
		r.LimitVerdict = VerdictMiss
		if r.Goflyte.Median <= r.Limit {
			r.LimitVerdict = VerdictOK
		}
	}
	if base != nil {
		r.Baseline = summarize(baseSamples)
		if r.Baseline.Median > 0 {
			r.Ratio = float64(r.Goflyte.Median) / float64(r.Baseline.Median)
		}
		r.Verdict = verdict(r.Ratio, r.Target, r.Op)
	}
	return r
}

// Machine describes where the numbers were measured.
type Machine struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	NumCPU    int    `json:"num_cpu"`
	GoVersion string `json:"go_version"`
}

func (m Machine) String() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", m.GOOS, m.GOARCH, m.NumCPU, m.GoVersion)
}

// Report is everything -json prints.
type Report struct {
	Machine Machine `json:"machine"`
	Quick   bool    `json:"quick"`
	Short   bool    `json:"short,omitempty"`
	// Load is the system's load average (1, 5, 15 minutes) when the run
	// ended, where the system reports it: measurements under load are
	// indicative only.
	Load    []float64     `json:"load,omitempty"`
	Results []Result      `json:"results"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
}

// WriteTable writes the report as a table with a legend.
func (rep *Report) WriteTable(w io.Writer) error {
	mode := "full"
	switch {
	case rep.Short:
		mode = "short"
	case rep.Quick:
		mode = "quick"
	}
	load := ""
	if len(rep.Load) == 3 {
		load = fmt.Sprintf(", load average %.2f %.2f %.2f", rep.Load[0], rep.Load[1], rep.Load[2])
	}
	fmt.Fprintf(w, "goflyte-bench on %s (%s mode%s)\n\n", rep.Machine, mode, load)
	rows := [][]string{{"comparison", "goflyte", "baseline", "ratio", "target", "", "n"}}
	for _, r := range rep.Results {
		rows = append(rows, []string{rowLabel(r), r.goflyteCell(), r.baselineCell(), r.ratioCell(), r.targetCell(), r.verdictCell(), r.nCell()})
	}
	writeColumns(w, rows, []bool{false, true, true, true, false, false, true})
	fmt.Fprintln(w, "\nn: samples per side (medians shown). What each row measures:")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "  %s\n      goflyte:  %s\n", r.Name, r.GoflyteWhat)
		if r.BaselineWhat != "" {
			fmt.Fprintf(w, "      baseline: %s\n", r.BaselineWhat)
		}
		if t := r.targetsLine(); t != "" {
			fmt.Fprintf(w, "      targets:  %s\n", t)
		}
	}
	for _, r := range rep.Results {
		if r.Skipped != "" {
			fmt.Fprintf(w, "\nskipped %q: %s\n", r.Name, r.Skipped)
		}
	}
	for _, r := range rep.Results {
		if r.Error != "" {
			fmt.Fprintf(w, "\nerror in %q: %s\n", r.Name, r.Error)
		}
	}
	fmt.Fprintf(w, "\ntargets are reported, not asserted; %s in total\n", rep.Elapsed.Round(100*time.Millisecond))
	return nil
}

// writeColumns writes rows as columns two spaces apart, each cell padded
// to its column's width: on the left where right[i], else on the right.
// Widths count runes, so "µs" is two wide.
func writeColumns(w io.Writer, rows [][]string, right []bool) {
	widths := make([]int, len(right))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i > 0 {
				b.WriteString("  ")
			}
			if right[i] {
				b.WriteString(pad + cell)
			} else {
				b.WriteString(cell + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func rowLabel(r Result) string {
	if r.Info {
		return "  (info) " + r.Name
	}
	return r.Name
}

func (r Result) goflyteCell() string {
	if r.Goflyte == nil {
		return "-"
	}
	return r.format(r.Goflyte.Median)
}

func (r Result) baselineCell() string {
	if r.Baseline == nil {
		return ""
	}
	return r.format(r.Baseline.Median)
}

// format prints a number of the row's unit.
func (r Result) format(d time.Duration) string {
	switch r.Unit {
	case UnitBytes:
		return formatBytes(int64(d))
	case UnitEvents:
		return fmt.Sprintf("%d events", int64(d))
	}
	return formatDuration(d)
}

// formatBytes prints n bytes with about three significant digits, in
// decimal units: 950 B, 12.3 KB, 4.10 MB, 770 MB, 1.20 GB.
func formatBytes(n int64) string {
	f := float64(n)
	switch {
	case f < 999.5:
		return fmt.Sprintf("%d B", n)
	case f < 999.5e3:
		return trimTo3(f/1e3) + " KB"
	case f < 999.5e6:
		return trimTo3(f/1e6) + " MB"
	}
	return trimTo3(f/1e9) + " GB"
}

func trimTo3(f float64) string {
	switch {
	case f < 9.995:
		return fmt.Sprintf("%.2f", f)
	case f < 99.95:
		return fmt.Sprintf("%.1f", f)
	}
	return fmt.Sprintf("%.0f", f)
}

func (r Result) ratioCell() string {
	if r.Baseline == nil || r.Ratio == 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx", r.Ratio)
}

func (r Result) targetCell() string {
	var parts []string
	if r.Target != 0 {
		parts = append(parts, string(r.Op)+formatRatio(r.Target)+"x")
	}
	if r.Limit > 0 {
		parts = append(parts, "<="+r.format(r.Limit))
	}
	return strings.Join(parts, ", ")
}

func (r Result) verdictCell() string {
	switch {
	case r.Error != "":
		return "ERROR"
	case r.Skipped != "":
		return "skipped"
	case r.Verdict == VerdictMiss || r.LimitVerdict == VerdictMiss:
		return "MISS"
	case r.Verdict == VerdictOK || r.LimitVerdict == VerdictOK:
		return VerdictOK
	}
	return ""
}

// targetsLine spells out each target's verdict for the legend of a row
// with an absolute limit, whose table cell shows one verdict for both:
// "ratio 0.23x <=0.05x: MISS; median 950ms <=500ms: MISS".
func (r Result) targetsLine() string {
	if r.Limit == 0 || r.Goflyte == nil {
		return ""
	}
	var parts []string
	if r.Verdict != "" {
		parts = append(parts, fmt.Sprintf("ratio %.2fx %s%sx: %s", r.Ratio, r.Op, formatRatio(r.Target), verdictWord(r.Verdict)))
	}
	parts = append(parts, fmt.Sprintf("goflyte median %s <=%s: %s", r.format(r.Goflyte.Median), r.format(r.Limit), verdictWord(r.LimitVerdict)))
	return strings.Join(parts, "; ")
}

func verdictWord(v string) string {
	if v == VerdictMiss {
		return "MISS"
	}
	return v
}

func (r Result) nCell() string {
	if r.Goflyte == nil {
		return ""
	}
	return fmt.Sprint(r.Goflyte.N)
}

// formatRatio prints a target ratio without trailing zeros: 1.5, 2, 0.75.
func formatRatio(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// formatDuration prints d with about three significant digits: 850ns,
// 12.3µs, 240µs, 9.04ms, 11.4ms, 240ms, 1.80s.
func formatDuration(d time.Duration) string {
	// The thresholds sit where rounding would print a fourth digit, so that
	// 999.7µs prints as 1.00ms, not 1000µs.
	f := float64(d)
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case f < 99.95e3:
		return fmt.Sprintf("%.1fµs", f/1e3)
	case f < 999.5e3:
		return fmt.Sprintf("%.0fµs", f/1e3)
	case f < 9.995e6:
		return fmt.Sprintf("%.2fms", f/1e6)
	case f < 99.95e6:
		return fmt.Sprintf("%.1fms", f/1e6)
	case f < 999.5e6:
		return fmt.Sprintf("%.0fms", f/1e6)
	}
	return fmt.Sprintf("%.2fs", f/1e9)
}
