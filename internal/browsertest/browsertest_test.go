package browsertest

import (
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAllocator starts Chromium, loads a page and reads it back, and
// checks that the browser left nothing in the test's TMPDIR.
func TestAllocator(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Run("browser", func(t *testing.T) {
		ctx, cancel := chromedp.NewContext(Allocator(t))
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate("data:text/html,<p id=p>hello from a data URL</p>")); err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("p").textContent`))
		if err != nil {
			t.Fatal(err)
		}
		if text != "hello from a data URL" {
			t.Errorf("page text = %q", text)
		}
	})
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("left in TMPDIR after the browser: %v", ents)
	}
}
