// Package deck renders goflyte's decks, Flytekit's task reports, as
// self-contained HTML files: one page per task (the task's own decks and
// the default ones its block chose with deck_fields) and an index page per
// run that links them and shows a timeline of all its tasks.
//
// The pages load nothing from outside: styles and the tiny tab script are
// inline, images are data: URIs, and a Content-Security-Policy forbids
// every other resource. Everything a task sent is escaped. Markdown is
// rendered without raw HTML (goldmark's default) and without images other
// than data: URIs. An HTML block is shown in an <iframe sandbox srcdoc>,
// where its scripts do not run and cannot reach the page. Every piece of
// text passes through the caller's redactor first, and the whole page
// once more at the end.
//
// The package does not know about the engine: the engine fills in [Task]
// and [Run] and calls [RenderTask], [RenderIndex] and [WriteFile].
package deck

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Default decks, as named in a task block's deck_fields.
const (
	SourceCode   = "Source Code"
	Dependencies = "Dependencies"
	Timeline     = "Timeline"
	Input        = "Input"
	Output       = "Output"
)

// FileName is the name of every deck file: <task dir>/deck.html and
// <run dir>/deck.html.
const FileName = "deck.html"

// Deck is a named page of blocks.
type Deck struct {
	Name   string
	Blocks []Block
}

// Block is one block of a deck: exactly one field is set.
type Block struct {
	Markdown string
	HTML     string
	Table    *Table
	Image    *Image
}

// Table is a table of text cells.
type Table struct {
	Header []string
	Rows   [][]string
}

// Image is a PNG (image/png) or SVG (image/svg+xml) image; other types
// are not shown.
type Image struct {
	MIMEType string
	Data     []byte
	Alt      string
}

// Task is what a task's deck page shows.
type Task struct {
	Name   string // the node's name in the workflow
	TaskID string // "<plugin>.<task>"
	Status string
	Error  string
	// Decks are the task's own decks, in order.
	Decks []Deck
	// Fields are the default decks to show after the task's own, in order:
	// SourceCode, Dependencies, Timeline, Input, Output.
	Fields []string
	// Source is the task block's source text (Source Code).
	Source string
	// Plugin, PluginVersion and PluginPath describe the plugin, Upstream
	// the tasks this one waits for (Dependencies).
	Plugin, PluginVersion, PluginPath string
	Upstream                          []string
	// Attempts are the task's attempts (Timeline).
	Attempts []Attempt
	// Inputs and Outputs are JSON objects (Input, Output); nil when there
	// are none.
	Inputs, Outputs json.RawMessage
	// RunDeck is the path of the run's index page relative to the task's
	// page, "" for none.
	RunDeck string
}

// Attempt is one attempt of a task, or of an instance of it.
type Attempt struct {
	Label      string // e.g. "1", or "@2 attempt 1" for an instance
	Start, End time.Time
	Error      string
}

// Run is what a run's index page shows.
type Run struct {
	ID, Workflow, Status string
	Start, End           time.Time
	Error                string
	Tasks                []RunTask
}

// RunTask is one task in a run's index.
type RunTask struct {
	Name, TaskID, Status string
	Start, End           time.Time
	// Cache is the task's cache outcome ("hit", "miss", …), "" if none.
	Cache string
	// Deck is the path of the task's deck page relative to the index, ""
	// when it has none.
	Deck string
}

// WriteFile writes data to path atomically (a temporary file in the same
// directory, then a rename), with mode 0600.
func WriteFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write deck: %w", err)
	}
	return nil
}

// RenderTask writes the deck page of t to w. redact, if not nil, is
// applied to every text before it is escaped and to the page at the end.
func RenderTask(w io.Writer, t *Task, redact func(string) string) error {
	p := newPage(redact)
	title := t.Name
	p.head("deck: " + title)
	p.raw(`<header><h1>`)
	p.text(t.Name)
	p.raw(`</h1><p class="meta">`)
	p.text(t.TaskID)
	p.raw(` · <span class="status `)
	p.attr(statusClass(t.Status))
	p.raw(`">`)
	p.text(t.Status)
	p.raw(`</span>`)
	if t.RunDeck != "" {
		p.raw(` · <a href="`)
		p.attr(t.RunDeck)
		p.raw(`">all tasks of the run</a>`)
	}
	p.raw("</p>")
	if t.Error != "" {
		p.raw(`<pre class="error">`)
		p.text(t.Error)
		p.raw("</pre>")
	}
	p.raw("</header>\n")

	type section struct {
		name   string
		render func()
	}
	var sections []section
	for _, d := range t.Decks {
		d := d
		sections = append(sections, section{d.Name, func() { p.blocks(d.Blocks) }})
	}
	for _, f := range t.Fields {
		switch f {
		case SourceCode:
			sections = append(sections, section{f, func() { p.code(t.Source, "hcl") }})
		case Dependencies:
			sections = append(sections, section{f, func() { p.dependencies(t) }})
		case Timeline:
			sections = append(sections, section{f, func() { p.attempts(t.Attempts) }})
		case Input:
			sections = append(sections, section{f, func() { p.json(t.Inputs, "no inputs") }})
		case Output:
			sections = append(sections, section{f, func() {
				if t.Outputs == nil && t.Status != "succeeded" {
					p.raw(`<p class="empty">no outputs: the task `)
					p.text(t.Status)
					p.raw("</p>")
					return
				}
				p.json(t.Outputs, "no outputs")
			}})
		}
	}
	p.raw(`<nav><ul>`)
	for i, s := range sections {
		p.raw(fmt.Sprintf(`<li><a href="#deck-%d">`, i))
		p.text(s.name)
		p.raw(`</a></li>`)
	}
	p.raw("</ul></nav>\n<main>\n")
	if len(sections) == 0 {
		p.raw(`<p class="empty">This task made no decks.</p>`)
	}
	for i, s := range sections {
		p.raw(fmt.Sprintf(`<section class="deck" id="deck-%d"><h2>`, i))
		p.text(s.name)
		p.raw("</h2>\n")
		s.render()
		p.raw("</section>\n")
	}
	p.raw("</main>\n")
	p.foot()
	return p.writeTo(w)
}

// RenderIndex writes the index page of a run to w: its tasks with links
// to their decks and a timeline. redact is as for RenderTask.
func RenderIndex(w io.Writer, r *Run, redact func(string) string) error {
	p := newPage(redact)
	p.head("decks: " + r.ID)
	p.raw("<header><h1>")
	p.text(r.Workflow)
	p.raw(`</h1><p class="meta">`)
	p.text(r.ID)
	p.raw(` · <span class="status `)
	p.attr(statusClass(r.Status))
	p.raw(`">`)
	p.text(r.Status)
	p.raw("</span>")
	if !r.Start.IsZero() {
		p.raw(" · started ")
		p.text(r.Start.Format(time.RFC3339))
		if !r.End.IsZero() {
			p.raw(", took ")
			p.text(formatDuration(r.End.Sub(r.Start)))
		}
	}
	p.raw("</p>")
	if r.Error != "" {
		p.raw(`<pre class="error">`)
		p.text(r.Error)
		p.raw("</pre>")
	}
	p.raw("</header>\n<main>\n")
	p.raw(`<section class="deck" id="timeline"><h2>Timeline</h2>`)
	start, end := r.Start, r.End
	for _, t := range r.Tasks {
		if !t.Start.IsZero() && (start.IsZero() || t.Start.Before(start)) {
			start = t.Start
		}
		if t.End.After(end) {
			end = t.End
		}
	}
	p.raw(`<table class="timeline"><thead><tr><th>Task</th><th>Plugin task</th><th>Status</th><th>Start</th><th>Duration</th><th class="barcol">Timeline</th></tr></thead><tbody>`)
	for _, t := range r.Tasks {
		p.raw("<tr><td>")
		if t.Deck != "" {
			p.raw(`<a class="decklink" href="`)
			p.attr(t.Deck)
			p.raw(`">`)
			p.text(t.Name)
			p.raw("</a>")
		} else {
			p.text(t.Name)
		}
		p.raw("</td><td>")
		p.text(t.TaskID)
		p.raw(`</td><td><span class="status `)
		p.attr(statusClass(t.Status))
		p.raw(`">`)
		p.text(t.Status)
		if t.Cache == "hit" {
			p.raw(" (cached)")
		}
		p.raw("</span></td><td>")
		if !t.Start.IsZero() && !start.IsZero() {
			p.text("+" + formatDuration(t.Start.Sub(start)))
		}
		p.raw("</td><td>")
		if !t.Start.IsZero() && !t.End.IsZero() {
			p.text(formatDuration(t.End.Sub(t.Start)))
		}
		p.raw(`</td><td class="barcol">`)
		p.bar(start, end, t.Start, t.End, t.Status)
		p.raw("</td></tr>\n")
	}
	p.raw("</tbody></table></section>\n</main>\n")
	p.foot()
	return p.writeTo(w)
}

// page builds one HTML page.
type page struct {
	buf    bytes.Buffer
	redact func(string) string
}

func newPage(redact func(string) string) *page {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	return &page{redact: redact}
}

// csp lets the page run its inline script and styles and show data:
// images, and nothing else: no request leaves the file.
const csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; frame-src 'self' data: about:; base-uri 'none'; form-action 'none'"

func (p *page) head(title string) {
	p.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	p.raw(`<meta http-equiv="Content-Security-Policy" content="` + csp + "\">\n")
	p.raw(`<meta name="referrer" content="no-referrer">` + "\n")
	p.raw(`<meta name="viewport" content="width=device-width, initial-scale=1">` + "\n<title>")
	p.text(title)
	p.raw("</title>\n<style>" + style + "</style>\n</head>\n<body>\n")
}

func (p *page) foot() {
	p.raw("<script>" + script + "</script>\n</body>\n</html>\n")
}

// raw writes trusted markup.
func (p *page) raw(s string) { p.buf.WriteString(s) }

// text writes redacted, escaped text.
func (p *page) text(s string) { p.buf.WriteString(html.EscapeString(p.redact(s))) }

// attr writes a redacted, escaped attribute value (inside double quotes).
func (p *page) attr(s string) { p.buf.WriteString(html.EscapeString(p.redact(s))) }

func (p *page) writeTo(w io.Writer) error {
	_, err := io.WriteString(w, p.redact(p.buf.String()))
	return err
}

func (p *page) blocks(blocks []Block) {
	if len(blocks) == 0 {
		p.raw(`<p class="empty">empty deck</p>`)
	}
	for _, b := range blocks {
		switch {
		case b.Table != nil:
			p.table(b.Table.Header, b.Table.Rows)
		case b.Image != nil:
			p.image(b.Image)
		case b.HTML != "":
			// The block is a document of its own in a sandboxed frame:
			// no scripts, an opaque origin, and the page's CSP.
			p.raw(`<iframe class="html" sandbox="" title="HTML block" srcdoc="`)
			p.attr(b.HTML)
			p.raw(`"></iframe>` + "\n")
		case b.Markdown != "":
			p.raw(`<div class="markdown">`)
			p.raw(markdown(p.redact(b.Markdown)))
			p.raw("</div>\n")
		}
	}
}

func (p *page) table(header []string, rows [][]string) {
	p.raw(`<table class="data">`)
	if len(header) > 0 {
		p.raw("<thead><tr>")
		for _, h := range header {
			p.raw("<th>")
			p.text(h)
			p.raw("</th>")
		}
		p.raw("</tr></thead>")
	}
	p.raw("<tbody>")
	for _, row := range rows {
		p.raw("<tr>")
		for _, c := range row {
			p.raw("<td>")
			p.text(c)
			p.raw("</td>")
		}
		p.raw("</tr>")
	}
	p.raw("</tbody></table>\n")
}

func (p *page) image(img *Image) {
	data := img.Data
	switch img.MIMEType {
	case "image/png":
	case "image/svg+xml":
		// Text that may hold a secret. Scripts in an SVG shown by <img>
		// never run.
		data = []byte(p.redact(string(data)))
	default:
		p.raw(`<p class="empty">image of unsupported type `)
		p.text(img.MIMEType)
		p.raw(" not shown</p>\n")
		return
	}
	p.raw(`<figure><img src="data:` + img.MIMEType + ";base64," + base64.StdEncoding.EncodeToString(data) + `" alt="`)
	p.attr(img.Alt)
	p.raw(`">`)
	if img.Alt != "" {
		p.raw("<figcaption>")
		p.text(img.Alt)
		p.raw("</figcaption>")
	}
	p.raw("</figure>\n")
}

func (p *page) code(src, lang string) {
	if src == "" {
		p.raw(`<p class="empty">no source</p>`)
		return
	}
	p.raw(`<pre class="code"><code class="language-` + lang + `">`)
	p.text(src)
	p.raw("</code></pre>\n")
}

func (p *page) json(data json.RawMessage, empty string) {
	var buf bytes.Buffer
	if len(data) == 0 || string(data) == "{}" || string(data) == "null" {
		p.raw(`<p class="empty">`)
		p.text(empty)
		p.raw("</p>\n")
		return
	}
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		buf.Reset()
		buf.Write(data)
	}
	p.code(buf.String(), "json")
}

func (p *page) dependencies(t *Task) {
	rows := [][]string{{"plugin", t.Plugin}, {"version", t.PluginVersion}, {"binary", t.PluginPath}}
	upstream := strings.Join(t.Upstream, ", ")
	if upstream == "" {
		upstream = "none"
	}
	rows = append(rows, []string{"upstream tasks", upstream})
	p.table(nil, rows)
}

func (p *page) attempts(attempts []Attempt) {
	if len(attempts) == 0 {
		p.raw(`<p class="empty">no attempts</p>`)
		return
	}
	var start, end time.Time
	for _, a := range attempts {
		if start.IsZero() || a.Start.Before(start) {
			start = a.Start
		}
		if a.End.After(end) {
			end = a.End
		}
	}
	p.raw(`<table class="timeline"><thead><tr><th>Attempt</th><th>Start</th><th>End</th><th>Duration</th><th>Result</th><th class="barcol">Timeline</th></tr></thead><tbody>`)
	for _, a := range attempts {
		status := "succeeded"
		if a.Error != "" {
			status = "failed"
		}
		p.raw("<tr><td>")
		p.text(a.Label)
		p.raw("</td><td>")
		p.text(a.Start.Format("15:04:05.000"))
		p.raw("</td><td>")
		p.text(a.End.Format("15:04:05.000"))
		p.raw("</td><td>")
		p.text(formatDuration(a.End.Sub(a.Start)))
		p.raw("</td><td>")
		if a.Error != "" {
			p.raw(`<span class="status failed">`)
			p.text(a.Error)
			p.raw("</span>")
		} else {
			p.raw("ok")
		}
		p.raw(`</td><td class="barcol">`)
		p.bar(start, end, a.Start, a.End, status)
		p.raw("</td></tr>\n")
	}
	p.raw("</tbody></table>\n")
}

// bar draws [from, to] within [start, end] as a CSS bar.
func (p *page) bar(start, end, from, to time.Time, status string) {
	total := end.Sub(start)
	if from.IsZero() || to.IsZero() || total <= 0 {
		p.raw(`<div class="track"></div>`)
		return
	}
	left := 100 * float64(from.Sub(start)) / float64(total)
	width := max(100*float64(to.Sub(from))/float64(total), 0.5)
	left = min(max(left, 0), 99.5)
	width = min(width, 100-left)
	p.raw(fmt.Sprintf(`<div class="track"><div class="bar %s" style="left:%.2f%%;width:%.2f%%"></div></div>`, statusClass(status), left, width))
}

// statusClass is a CSS class for a status: only known words pass.
func statusClass(s string) string {
	switch s {
	case "succeeded", "failed", "running", "skipped", "cancelled", "pending", "interrupted":
		return s
	}
	return "other"
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

const style = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:12px 20px}header h1{margin:0;font-size:20px}
header a{color:#9cc3ff}.meta{margin:4px 0 0;color:#c7cbd3}
nav{background:#fff;border-bottom:1px solid #dde1e6;padding:0 12px}nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap}
nav a{display:block;padding:10px 12px;color:#1d2330;text-decoration:none;border-bottom:3px solid transparent}
nav a.active{border-bottom-color:#3b6fd8;font-weight:600}
main{padding:16px 20px}section.deck{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:12px 16px;margin-bottom:16px}
section.deck h2{margin:0 0 10px;font-size:16px}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #dde1e6;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f0f2f5}
table.timeline{width:100%}td.barcol,th.barcol{width:40%}
.track{position:relative;height:14px;background:#eef0f3;border-radius:3px}
.bar{position:absolute;top:0;bottom:0;border-radius:3px;background:#3b6fd8}
.bar.failed{background:#d64545}.bar.cancelled,.bar.skipped{background:#9aa1ad}.bar.running{background:#e0a800}
.status.failed{color:#b42318}.status.succeeded{color:#1a7f37}
pre{background:#f6f8fa;border:1px solid #dde1e6;border-radius:4px;padding:8px;overflow:auto}
pre.error{background:#4a1c1c;color:#ffd7d7;border:0;white-space:pre-wrap}
iframe.html{width:100%;height:320px;border:1px solid #dde1e6;resize:vertical;background:#fff}
img{max-width:100%}figure{margin:8px 0}figcaption{color:#5c6370;font-size:12px}.empty{color:#5c6370;font-style:italic}
`

// script shows one deck at a time, chosen in the nav; without it every
// deck shows, one under the other.
const script = `(function(){
var secs=[].slice.call(document.querySelectorAll("main section.deck"));
var links=[].slice.call(document.querySelectorAll("nav a"));
if(!links.length)return;
function show(id){secs.forEach(function(s){s.hidden=s.id!==id});links.forEach(function(a){a.classList.toggle("active",a.getAttribute("href")==="#"+id)})}
links.forEach(function(a){a.addEventListener("click",function(e){e.preventDefault();show(a.getAttribute("href").slice(1))})});
var h=location.hash.slice(1);show(h&&document.getElementById(h)?h:secs[0].id);
})();`
