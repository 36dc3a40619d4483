package console

import (
	"fmt"
	"html"
	"slices"
	"strings"
	"time"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// A graph is a run's tasks laid out in layers, left to right: a task's
// layer is the length of its longest chain of dependencies, and within a
// layer tasks are ordered by the mean position of the tasks they depend
// on (barycenter), which keeps edges short and uncrossed in common DAGs.
// The tasks of a sub-workflow or a dynamic task ("<task>+<child>") are
// collapsed into their parent's node unless the parent is expanded.
type graph struct {
	nodes  []*gnode
	layers [][]*gnode
	groups []group
}

type gnode struct {
	task     *sandbox.TaskRecord
	layer    int
	pos      int
	deps     []*gnode
	children int // collapsed children
	x, y     int
}

// group is a task's collapsed children, for the expand links.
type group struct {
	Parent   string
	Count    int
	Expanded bool
	Children []string // an eager task's children, as recorded
}

const (
	nodeW, nodeH = 190, 46
	gapX, gapY   = 60, 18
	pad          = 10
)

func layout(tasks []sandbox.TaskRecord, expand []string) *graph {
	g := &graph{}
	byName := map[string]*gnode{}
	counts := map[string]int{}
	for i := range tasks {
		t := &tasks[i]
		if parent, _, ok := strings.Cut(t.Name, "+"); ok && !slices.Contains(expand, parent) {
			counts[parent]++
			continue
		}
		n := &gnode{task: t}
		byName[t.Name] = n
		g.nodes = append(g.nodes, n)
	}
	for _, n := range g.nodes {
		n.children = counts[n.task.Name]
		if n.children > 0 || len(n.task.Children) > 0 {
			g.groups = append(g.groups, group{Parent: n.task.Name, Count: n.children, Expanded: slices.Contains(expand, n.task.Name), Children: n.task.Children})
		}
		for _, d := range n.task.Deps {
			if dn := byName[d]; dn != nil && dn != n {
				n.deps = append(n.deps, dn)
			}
		}
		if parent, _, ok := strings.Cut(n.task.Name, "+"); ok && len(n.deps) == 0 {
			if p := byName[parent]; p != nil {
				n.deps = append(n.deps, p)
			}
		}
	}
	// Layers: longest path, iteratively (records are acyclic; the bound
	// keeps a damaged one from looping).
	for range len(g.nodes) + 1 {
		changed := false
		for _, n := range g.nodes {
			for _, d := range n.deps {
				if d.layer+1 > n.layer {
					n.layer = d.layer + 1
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
	for _, n := range g.nodes {
		for len(g.layers) <= n.layer {
			g.layers = append(g.layers, nil)
		}
		n.pos = len(g.layers[n.layer])
		g.layers[n.layer] = append(g.layers[n.layer], n)
	}
	// Barycenter ordering, two sweeps.
	for range 2 {
		for _, layer := range g.layers[min(1, len(g.layers)):] {
			bary := map[*gnode]float64{}
			for _, n := range layer {
				if len(n.deps) == 0 {
					bary[n] = float64(n.pos)
					continue
				}
				sum := 0.0
				for _, d := range n.deps {
					sum += float64(d.pos)
				}
				bary[n] = sum / float64(len(n.deps))
			}
			slices.SortStableFunc(layer, func(a, b *gnode) int {
				switch {
				case bary[a] < bary[b]:
					return -1
				case bary[a] > bary[b]:
					return 1
				}
				return 0
			})
			for i, n := range layer {
				n.pos = i
			}
		}
	}
	for _, layer := range g.layers {
		for _, n := range layer {
			n.x = pad + n.layer*(nodeW+gapX)
			n.y = pad + n.pos*(nodeH+gapY)
		}
	}
	return g
}

// svg draws the graph. Each task is a <g id="node-<task>"
// data-status="<status>"> linking to its page; the script changes
// data-status and the class as the run goes.
func (g *graph) svg(run string) string {
	w, h := 2*pad, 2*pad
	for _, layer := range g.layers {
		h = max(h, 2*pad+len(layer)*(nodeH+gapY)-gapY)
	}
	w = max(w, 2*pad+len(g.layers)*(nodeW+gapX)-gapX)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="task graph">`, w, h, w, h)
	b.WriteString(`<g class="edges">`)
	for _, n := range g.nodes {
		for _, d := range n.deps {
			x1, y1 := d.x+nodeW, d.y+nodeH/2
			x2, y2 := n.x, n.y+nodeH/2
			mx := (x1 + x2) / 2
			fmt.Fprintf(&b, `<path d="M%d %d C%d %d %d %d %d %d"/>`, x1, y1, mx, y1, mx, y2, x2, y2)
		}
	}
	b.WriteString(`</g>`)
	for _, n := range g.nodes {
		t := n.task
		name := html.EscapeString(t.Name)
		fmt.Fprintf(&b, `<g id="node-%s" class="node st-%s" data-status="%s" data-task="%s" transform="translate(%d %d)">`,
			name, html.EscapeString(t.Status), html.EscapeString(t.Status), name, n.x, n.y)
		fmt.Fprintf(&b, `<a href="%s"><rect width="%d" height="%d" rx="6"/>`, html.EscapeString("/runs/"+pathEscape(run)+"/tasks/"+pathEscape(t.Name)), nodeW, nodeH)
		fmt.Fprintf(&b, `<text x="10" y="19" class="name">%s</text>`, html.EscapeString(clip(t.Name, 24)))
		fmt.Fprintf(&b, `<text x="10" y="36" class="sub">%s</text></a></g>`, html.EscapeString(nodeNote(t, n.children)))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// nodeNote is a node's second line: status, and the counts of a fan-out
// or of collapsed children.
func nodeNote(t *sandbox.TaskRecord, children int) string {
	s := t.Status
	if t.Instances > 0 {
		s += fmt.Sprintf(" · %d instances", t.Instances)
		if f := len(t.FailedInstances); f > 0 {
			s += fmt.Sprintf(", %d failed", f)
		}
	}
	if children > 0 {
		s += fmt.Sprintf(" · +%d tasks", children)
	}
	if len(t.Children) > 0 {
		s += fmt.Sprintf(" · ran %d", len(t.Children))
	}
	return s
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// timeline draws a row per task that ran and in it one bar per attempt,
// from its start to its end (or now), scaled to the run. A retried
// attempt's bar is failed and marked "retried"; each bar's title names the
// task, the attempt, how it ended and its error. Records without attempt
// times draw one bar per task (see [sandbox.TaskRecord.AttemptSpans]).
func timeline(rec *sandbox.Record) string {
	start, end := rec.Start, rec.End
	if end.IsZero() {
		end = time.Now()
	}
	type row struct {
		task  *sandbox.TaskRecord
		spans []sandbox.AttemptSpan
	}
	var rows []row
	for i := range rec.Tasks {
		t := &rec.Tasks[i]
		spans := t.AttemptSpans()
		if len(spans) == 0 {
			continue
		}
		rows = append(rows, row{t, spans})
		for _, sp := range spans {
			if sp.End.After(end) {
				end = sp.End
			}
		}
		if len(rows) == 2000 {
			break
		}
	}
	if len(rows) == 0 {
		return ""
	}
	span := end.Sub(start)
	if span <= 0 {
		span = time.Millisecond
	}
	xOf := func(t time.Time) int { return int(float64(barW) * float64(t.Sub(start)) / float64(span)) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="%d" height="%d">`, labelW+barW+120, len(rows)*rowH+4)
	for i, r := range rows {
		t, y := r.task, i*rowH+2
		label := t.Name
		if n := len(r.spans); n > 1 {
			label += fmt.Sprintf(" (%d attempts)", n)
		}
		fmt.Fprintf(&b, `<text x="0" y="%d">%s</text>`, y+12, html.EscapeString(clip(label, 30)))
		var last time.Time
		for _, sp := range r.spans {
			spEnd := sp.End
			if spEnd.IsZero() {
				spEnd = end
			}
			x := labelW + xOf(sp.Start)
			w := max(2, labelW+xOf(spEnd)-x)
			class := "st-" + sp.Status
			if sp.Attempt < r.spans[len(r.spans)-1].Attempt {
				class += " retried"
			}
			title := fmt.Sprintf("%s attempt %d of %d: %s after %s", t.Name, sp.Attempt, len(r.spans), sp.Status, roundDuration(spEnd.Sub(sp.Start)))
			if len(r.spans) == 1 {
				title = fmt.Sprintf("%s attempt %d: %s after %s", t.Name, sp.Attempt, sp.Status, roundDuration(spEnd.Sub(sp.Start)))
			}
			if sp.Error != "" {
				title += ": " + clip(sp.Error, 300)
			}
			fmt.Fprintf(&b, `<rect class="%s" data-task="%s" data-attempt="%d" x="%d" y="%d" width="%d" height="%d"><title>%s</title></rect>`,
				html.EscapeString(class), html.EscapeString(t.Name), sp.Attempt, x, y, w, rowH-4, html.EscapeString(title))
			last = spEnd
		}
		x := labelW + xOf(last)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="sub">%s</text>`, x+4, y+12, roundDuration(last.Sub(r.spans[0].Start)))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// The timeline's geometry, in pixels: the label column, the bars' width
// (the whole run) and the height of a row.
const labelW, barW, rowH = 200, 600, 18
