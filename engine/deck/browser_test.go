package deck_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/goflyte/goflyte/engine/deck"
	"github.com/goflyte/goflyte/internal/browsertest"
)

// TestBrowser loads a run's deck index and a task's deck in headless
// Chromium, as a person would open them from disk, and checks that they
// render, that the scripts smuggled into the task's content did not run
// in the page, and that the pages asked for nothing but file:, data: and
// about: URLs.
func TestBrowser(t *testing.T) {
	allocCtx := browsertest.Allocator(t)

	// A run directory as the engine lays it out.
	runDir := t.TempDir()
	taskDir := filepath.Join(runDir, "tasks", "count")
	if err := os.MkdirAll(taskDir, 0o700); err != nil {
		t.Fatal(err)
	}
	task := sampleTask()
	task.Name = "count"
	task.Decks[0].Blocks = append(task.Decks[0].Blocks, deck.Block{Image: &deck.Image{MIMEType: "image/png", Data: realPNG(t), Alt: "real"}})
	task.Decks[0].Blocks = append(task.Decks[0].Blocks, deck.Block{Markdown: "![tracker](https://example.com/t.png) <img src=\"http://example.com/x\">"})
	var buf bytes.Buffer
	if err := deck.RenderTask(&buf, task, redact); err != nil {
		t.Fatal(err)
	}
	if err := deck.WriteFile(filepath.Join(taskDir, deck.FileName), buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	run := &deck.Run{ID: "local:local:r1", Workflow: "report" + smuggled, Status: "failed", Start: t0, End: t0.Add(4 * time.Second),
		Tasks: []deck.RunTask{
			{Name: "count", TaskID: "text.count", Status: "failed", Start: t0, End: t0.Add(4 * time.Second), Deck: "tasks/count/deck.html"},
			{Name: "after", TaskID: "text.join", Status: "skipped"},
		}}
	if err := deck.RenderIndex(&buf, run, redact); err != nil {
		t.Fatal(err)
	}
	if err := deck.WriteFile(filepath.Join(runDir, deck.FileName), buf.Bytes()); err != nil {
		t.Fatal(err)
	}

	// One browser for all subtests, a tab each.
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}

	open := func(t *testing.T, path string) (context.Context, func() []string) {
		t.Helper()
		var mu sync.Mutex
		var requests []string
		ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithListener(func(ev any) {
			if ev, ok := ev.(*network.EventRequestWillBeSent); ok {
				mu.Lock()
				requests = append(requests, ev.Request.URL)
				mu.Unlock()
			}
		}))
		t.Cleanup(cancel)
		ctx, cancelTimeout := context.WithTimeout(ctx, 30*time.Second)
		t.Cleanup(cancelTimeout)
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			t.Fatal(err)
		}
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)}
		if err := chromedp.Do(ctx, chromedp.Navigate(u.String())); err != nil {
			t.Fatalf("load %s: %v", u.String(), err)
		}
		return ctx, func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), requests...)
		}
	}
	eval := func(t *testing.T, ctx context.Context, js string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	checkSafe := func(t *testing.T, ctx context.Context, requests func() []string, title string) {
		t.Helper()
		if got := eval(t, ctx, `typeof window.pwned`); got != "undefined" {
			t.Errorf("a smuggled script ran: window.pwned is %v", got)
		}
		if got := eval(t, ctx, `document.title`); got != title {
			t.Errorf("document.title = %q, want %q", got, title)
		}
		// Let late requests (images, frames) show up.
		time.Sleep(100 * time.Millisecond)
		reqs := requests()
		sawPage := false
		for _, r := range reqs {
			switch {
			case strings.HasPrefix(r, "file:"):
				sawPage = true
			case strings.HasPrefix(r, "data:"), strings.HasPrefix(r, "about:"):
			default:
				t.Errorf("the page requested %s", r)
			}
		}
		if !sawPage {
			t.Errorf("no request for the page itself seen (is the listener working?): %v", reqs)
		}
	}

	t.Run("index", func(t *testing.T) {
		ctx, requests := open(t, filepath.Join(runDir, deck.FileName))
		checkSafe(t, ctx, requests, "decks: local:local:r1")
		if got := eval(t, ctx, `[...document.querySelectorAll("table.timeline tbody td:first-child")].map(td => td.textContent).join("|")`); got != "count|after" {
			t.Errorf("tasks in the timeline: %v", got)
		}
		href := eval(t, ctx, `document.querySelector("a.decklink").href`).(string)
		if !strings.HasPrefix(href, "file://") || !strings.HasSuffix(href, "/tasks/count/deck.html") {
			t.Errorf("link to the task's deck: %s", href)
		}
		if got := eval(t, ctx, `document.querySelector(".bar").getBoundingClientRect().width > 0`); got != true {
			t.Error("the timeline bar has no width")
		}
		if got := eval(t, ctx, `document.querySelector("h1").textContent`); got != "report"+smuggled {
			t.Errorf("heading %q", got)
		}
	})

	t.Run("task", func(t *testing.T) {
		ctx, requests := open(t, filepath.Join(taskDir, deck.FileName))
		checkSafe(t, ctx, requests, "deck: count")
		names := eval(t, ctx, `[...document.querySelectorAll("nav a")].map(a => a.textContent).join("|")`)
		if want := "Summary" + smuggled + "|Source Code|Dependencies|Timeline|Input|Output"; names != want {
			t.Errorf("decks %q, want %q", names, want)
		}
		cells := eval(t, ctx, `[...document.querySelectorAll("table.data td")].map(td => td.textContent).join("|")`).(string)
		if !strings.HasPrefix(cells, "a"+smuggled+"|1|***|2|") {
			t.Errorf("table cells: %s", cells)
		}
		// Markdown: rendered, with the script as text.
		if got := eval(t, ctx, `document.querySelector(".markdown strong").textContent`); got != "bold" {
			t.Errorf("markdown bold: %v", got)
		}
		if got := eval(t, ctx, `document.querySelector(".markdown").textContent.includes("window.pwned=1")`); got != true {
			t.Error("the markdown's script is not shown as text")
		}
		// Images: the PNG, the SVG and the data: image in markdown decode.
		widths := eval(t, ctx, `[...document.images].map(i => i.complete ? i.naturalWidth : -1)`).([]any)
		if len(widths) != 4 {
			t.Errorf("%d images, want 4 (png, svg, real png, markdown data URI): %v", len(widths), widths)
		}
		if got := eval(t, ctx, `document.querySelector('img[alt="real"]').naturalWidth`); got != float64(3) {
			t.Errorf("real PNG natural width %v, want 3", got)
		}
		// The HTML block is in a sandboxed frame the page cannot reach
		// into, and which cannot reach the page.
		if got := eval(t, ctx, `(() => { const f = document.querySelector("iframe.html"); return f.hasAttribute("sandbox") && f.getAttribute("sandbox") === "" && f.contentDocument === null })()`); got != true {
			t.Error("the HTML block's frame is not sandboxed")
		}
		// The tabs: the first deck shows, a click shows another.
		if got := eval(t, ctx, `[document.getElementById("deck-0").hidden, document.getElementById("deck-3").hidden].join()`); got != "false,true" {
			t.Errorf("before a click, hidden = %v", got)
		}
		if got := eval(t, ctx, `document.querySelectorAll("nav a")[3].click(), [document.getElementById("deck-0").hidden, document.getElementById("deck-3").hidden].join()`); got != "true,false" {
			t.Errorf("after a click, hidden = %v", got)
		}
		if dir := os.Getenv("GOFLYTE_DECK_SCREENSHOT"); dir != "" {
			_ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("nav a")[0].click()`))
			if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
				_ = os.WriteFile(filepath.Join(dir, "task-deck.png"), shot, 0o644)
			}
		}
	})
}

// realPNG is a 3×2 PNG.
func realPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
