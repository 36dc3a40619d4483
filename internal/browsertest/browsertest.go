// Package browsertest gives tests a real headless Chromium through
// chromedp: found on PATH, started with the options every test of this
// repository needs, and ended with the test.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/goflyte/goflyte/internal/testtmp"
)

// EnvRequire, set to 1, makes a missing Chromium fail a test rather than
// skip it: .ci/run sets it, having installed one, so that a skip cannot
// hide a browser test that no longer runs.
const EnvRequire = "GOFLYTE_TEST_BROWSER"

// Find returns the path of a Chromium-like browser on PATH, or "".
func Find() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// Allocator returns a chromedp allocator context for a headless Chromium
// of tb's: chromedp.NewContext on it starts the browser (its first
// context) or opens a tab. The browser ends, and what it left in its
// temporary directory is removed, when tb ends. opts come after the
// defaults (a window size, say). It skips tb in -short mode or when no
// Chromium is installed (fails it then if EnvRequire is 1).
func Allocator(tb testing.TB, opts ...chromedp.ExecAllocatorOption) context.Context {
	tb.Helper()
	if testing.Short() {
		tb.Skip("browser test: starts Chromium")
	}
	browser := Find()
	if browser == "" {
		msg := "no Chromium found: install chromium (apt-get install chromium) or run .ci/run"
		if os.Getenv(EnvRequire) == "1" {
			tb.Fatal(EnvRequire + "=1 but " + msg)
		}
		tb.Skip(msg)
	}
	all := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		// Chromium leaves a directory of its own in TMPDIR, with its
		// singleton socket in it: a short path, removed after the browser.
		chromedp.Env("TMPDIR="+testtmp.Short(tb)))
	ctx, cancel := chromedp.NewExecAllocator(context.Background(), append(all, opts...)...)
	tb.Cleanup(cancel) // waits for the browser to exit
	return ctx
}
