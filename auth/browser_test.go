package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/goflyte/goflyte/auth/oidctest"
	"github.com/goflyte/goflyte/internal/browsertest"
)

// TestPKCEInChromium logs in with the PKCE flow in real headless
// Chromium: the browser opens the authorization URL, a person's typing is
// played on the provider's login page, and the browser follows the
// redirect to goflyte's loopback server, whose page it shows.
// GOFLYTE_TEST_BROWSER=1 (.ci/run) makes a missing Chromium a failure.
func TestPKCEInChromium(t *testing.T) {
	allocCtx := browsertest.Allocator(t)
	srv := oidctest.Start(t, oidctest.Options{PublicClients: []string{cliID}})

	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}

	shown := make(chan string, 1)
	s := newSource(t, Options{
		Settings: Settings{Mode: ModePKCE, Issuer: srv.Issuer, ClientID: cliID},
		OpenBrowser: func(authURL string) error {
			go func() {
				ctx, cancel := context.WithTimeout(browserCtx, 30*time.Second)
				defer cancel()
				err := chromedp.Do(ctx,
					chromedp.Navigate(authURL),
					chromedp.WaitVisible(chromedp.ID("username")),
					chromedp.SendKeys(chromedp.ID("username"), srv.User),
					chromedp.SendKeys(chromedp.ID("password"), srv.Password),
					chromedp.Click(chromedp.ID("submit")),
					chromedp.WaitVisible(chromedp.CSS("p")),
				)
				if err != nil {
					t.Errorf("browser: %v", err)
					shown <- ""
					return
				}
				text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
				if err != nil {
					t.Errorf("browser: %v", err)
				}
				loc, _ := chromedp.Run(ctx, chromedp.Location())
				shown <- loc + " " + text
			}()
			return nil
		},
	})
	tok, err := s.Login(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if c := claims(t, tok.AccessToken); c["sub"] != srv.User || tok.RefreshToken == "" {
		t.Errorf("claims %v, refresh token %v", c, tok.RefreshToken != "")
	}
	page := <-shown
	if !strings.HasPrefix(page, "http://127.0.0.1:") || !strings.Contains(page, "You are logged in to goflyte") {
		t.Errorf("the browser ended at %q", page)
	}
}
