package deck_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goflyte/goflyte/engine/deck"
)

const smuggled = `<script>window.pwned=1;document.title="pwned"</script>`

var (
	pngHeader = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	t0        = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

func sampleTask() *deck.Task {
	return &deck.Task{
		Name:   "count" + smuggled,
		TaskID: "text.count",
		Status: "failed",
		Error:  "boom " + smuggled,
		Decks: []deck.Deck{{
			Name: "Summary" + smuggled,
			Blocks: []deck.Block{
				{Markdown: "# Title\n\n**bold** " + smuggled + "\n\n<img src=x onerror=alert(1)>\n\n![remote](https://example.com/x.png) [link](javascript:alert(1)) " +
					"![inline](data:image/png;base64," + base64.StdEncoding.EncodeToString(pngHeader) + ")"},
				{Table: &deck.Table{Header: []string{"word" + smuggled, "n"}, Rows: [][]string{{"a" + smuggled, "1"}, {"s3cret", "2"}}}},
				{HTML: `<p class="x">it's "quoted" & ` + smuggled + `</p>`},
				{Image: &deck.Image{MIMEType: "image/png", Data: pngHeader, Alt: "chart" + smuggled}},
				{Image: &deck.Image{MIMEType: "image/svg+xml", Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"><text>s3cret</text></svg>`), Alt: "svg"}},
				{Image: &deck.Image{MIMEType: "image/gif", Data: []byte("GIF89a"), Alt: "gif"}},
			},
		}},
		Fields:        []string{deck.SourceCode, deck.Dependencies, deck.Timeline, deck.Input, deck.Output},
		Source:        "task \"count\" {\n  uses = \"text.count\" # " + smuggled + "\n}",
		Plugin:        "text",
		PluginVersion: "1.0.0",
		PluginPath:    "/plugins/goflyte-plugin-text",
		Upstream:      []string{"fetch"},
		Attempts: []deck.Attempt{
			{Label: "1", Start: t0, End: t0.Add(2 * time.Second), Error: "flaky"},
			{Label: "2", Start: t0.Add(3 * time.Second), End: t0.Add(4 * time.Second)},
		},
		Inputs:  []byte(`{"text":"a s3cret b","html":"` + strings.ReplaceAll(smuggled, `"`, `\"`) + `"}`),
		RunDeck: "../../deck.html",
	}
}

func redact(s string) string { return strings.ReplaceAll(s, "s3cret", "***") }

func render(t *testing.T, task *deck.Task) string {
	t.Helper()
	var buf bytes.Buffer
	if err := deck.RenderTask(&buf, task, redact); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestRenderTaskEscapes(t *testing.T) {
	page := render(t, sampleTask())
	// Our own script is the only one.
	if n := strings.Count(page, "<script>"); n != 1 {
		t.Errorf("page has %d <script> tags, want 1 (its own):\n%s", n, page)
	}
	if strings.Contains(page, "pwned=1;") && !strings.Contains(page, "&lt;script&gt;window.pwned=1;") {
		t.Error("smuggled script not escaped")
	}
	for _, bad := range []string{"<img src=x", "onerror=alert", "javascript:", "s3cret"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;window.pwned=1;",      // names, tables, markdown text
		"<!-- raw HTML omitted -->",          // goldmark without WithUnsafe
		"[image: remote]",                    // external markdown image
		`<strong>bold</strong>`,              // markdown still renders
		`<th>word&lt;script&gt;`,             // table header
		`<td>***</td>`,                       // redacted cell
		`<figcaption>chart&lt;script&gt;`,    // alt text
		`src="data:image/png;base64,iVBORw0`, // PNG as a data URI
		"image of unsupported type image/gif",
		`href="../../deck.html"`,
		"<td>/plugins/goflyte-plugin-text</td>",
		"<td>fetch</td>",
		`&#34;text&#34;: &#34;a *** b&#34;`, // pretty JSON, redacted
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The SVG is redacted before encoding.
	svg := base64.StdEncoding.EncodeToString([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><text>***</text></svg>`))
	if !strings.Contains(page, "data:image/svg+xml;base64,"+svg) {
		t.Error("SVG not redacted or not a data URI")
	}
}

func TestRenderTaskIframe(t *testing.T) {
	page := render(t, sampleTask())
	re := regexp.MustCompile(`<iframe class="html" sandbox="" title="HTML block" srcdoc="([^"]*)"></iframe>`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no sandboxed iframe with srcdoc in:\n%s", page)
	}
	want := `&lt;p class=&#34;x&#34;&gt;it&#39;s &#34;quoted&#34; &amp; &lt;script&gt;`
	if !strings.HasPrefix(m[1], want) {
		t.Errorf("srcdoc = %s, want it to start with %s", m[1], want)
	}
}

func TestRenderTaskNoRemoteResources(t *testing.T) {
	page := render(t, sampleTask())
	if !strings.Contains(page, `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:;`) {
		t.Error("no CSP")
	}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(src|href|srcset|action|poster|data)\s*=\s*"\s*(https?:|//)`),
		regexp.MustCompile(`(?i)url\(\s*['"]?(https?:|//)`),
		regexp.MustCompile(`(?i)@import`),
	} {
		if m := re.FindString(page); m != "" {
			t.Errorf("page loads a remote resource: %s", m)
		}
	}
}

func TestRenderTaskFields(t *testing.T) {
	for _, tc := range []struct {
		fields []string
		want   []string
	}{
		{nil, []string{"Summary"}},
		{[]string{deck.Timeline}, []string{"Summary", "Timeline"}},
		{[]string{deck.Output, deck.SourceCode}, []string{"Summary", "Output", "Source Code"}},
	} {
		task := sampleTask()
		task.Decks[0].Name = "Summary"
		task.Fields = tc.fields
		page := render(t, task)
		var got []string
		for _, m := range regexp.MustCompile(`<section class="deck" id="deck-\d+"><h2>([^<]*)</h2>`).FindAllStringSubmatch(page, -1) {
			got = append(got, m[1])
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("fields %v: decks %v, want %v", tc.fields, got, tc.want)
		}
		if has := strings.Contains(page, "goflyte-plugin-text"); has {
			t.Errorf("fields %v: Dependencies shown", tc.fields)
		}
	}
}

func TestRenderIndex(t *testing.T) {
	run := &deck.Run{
		ID: "p:d:r1", Workflow: "wf" + smuggled, Status: "failed", Start: t0, End: t0.Add(10 * time.Second),
		Tasks: []deck.RunTask{
			{Name: "a", TaskID: "text.a", Status: "succeeded", Start: t0, End: t0.Add(5 * time.Second), Deck: "tasks/a/deck.html"},
			{Name: "b" + smuggled, TaskID: "text.b", Status: "failed", Start: t0.Add(5 * time.Second), End: t0.Add(10 * time.Second)},
			{Name: "c", TaskID: "text.c", Status: "skipped"},
		},
	}
	var buf bytes.Buffer
	if err := deck.RenderIndex(&buf, run, redact); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		`<a class="decklink" href="tasks/a/deck.html">a</a>`,
		`<td>b&lt;script&gt;`,
		`style="left:0.00%;width:50.00%"`,
		`style="left:50.00%;width:50.00%"`,
		"<td>c</td>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index lacks %q:\n%s", want, page)
		}
	}
	if n := strings.Count(page, "<script>"); n != 1 {
		t.Errorf("index has %d <script> tags", n)
	}
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), deck.FileName)
	for _, content := range []string{"one", "two"} {
		if err := deck.WriteFile(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "two" {
		t.Fatalf("read %q, %v", data, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}
