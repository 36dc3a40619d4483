package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestE2EDecks(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "report", "--input", "text=b a <script>window.pwned=1</script> b", "--input", "k=2")
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	name := filepath.Base(out.RunDir)
	index := filepath.Join(out.RunDir, "deck.html")

	r = x.run("runs", "deck", name)
	if r.code != 0 || strings.TrimSpace(r.stdout) != index {
		t.Fatalf("runs deck: want %s\n%s", index, r)
	}
	top := filepath.Join(out.RunDir, "tasks", "top", "deck.html")
	r = x.run("runs", "deck", out.ExecutionID, "top")
	if r.code != 0 || strings.TrimSpace(r.stdout) != top {
		t.Fatalf("runs deck top: want %s\n%s", top, r)
	}
	page, err := os.ReadFile(top)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<h2>Top words</h2>", "<td>b</td><td>2</td>", "data:image/svg+xml;base64,", "<h2>Source Code</h2>", "<h2>Dependencies</h2>", "goflyte-plugin-text"} {
		if !strings.Contains(string(page), s) {
			t.Errorf("deck of top lacks %q", s)
		}
	}
	if strings.Contains(string(page), "<script>window.pwned") {
		t.Error("an input's <script> reached the deck unescaped")
	}
	idx, _ := os.ReadFile(index)
	for _, s := range []string{`href="tasks/top/deck.html"`, `href="tasks/count/deck.html"`, "<td>split</td>"} {
		if !strings.Contains(string(idx), s) {
			t.Errorf("index lacks %q", s)
		}
	}

	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"runs", "deck", name, "split"}, 1, []string{`task "split"`, "has no deck", "enable_deck = true", "tasks with decks: count, top"}},
		{[]string{"runs", "deck", name, "nosuch"}, 2, []string{`no task "nosuch"`, "its tasks: split, count, top, shout, summary, ratio"}},
		{[]string{"runs", "deck", "r20000101-000000-00000000"}, 2, []string{"runs deck:"}},
	} {
		r := x.run(tc.args...)
		if r.code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, r.code, tc.code, r)
		}
		for _, s := range tc.want {
			if !strings.Contains(r.stderr, s) {
				t.Errorf("%v: stderr lacks %q\n%s", tc.args, s, r)
			}
		}
	}

	r = x.run("runs", "show", name)
	if r.code != 0 || !strings.Contains(r.stdout, "deck      "+index) {
		t.Errorf("runs show does not mention the deck\n%s", r)
	}
	r = x.run("runs", "show", name, "--json")
	var rec struct {
		Deck  string `json:"deck"`
		Tasks []struct {
			Name string `json:"name"`
			Deck string `json:"deck"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("runs show --json: %v\n%s", err, r)
	}
	decks := map[string]string{}
	for _, tk := range rec.Tasks {
		if tk.Deck != "" {
			decks[tk.Name] = tk.Deck
		}
	}
	if rec.Deck != "deck.html" || len(decks) != 2 || decks["top"] != "tasks/top/deck.html" {
		t.Errorf("runs show --json: deck %q, task decks %v", rec.Deck, decks)
	}

	// --open: with no opener in PATH, a clear error; with one, it gets the path.
	r = x.runEnv([]string{"PATH=" + t.TempDir()}, "runs", "deck", name, "--open")
	if r.code == 0 || !strings.Contains(r.stderr, "no browser opener found; open "+index+" yourself") {
		t.Errorf("--open without an opener\n%s", r)
	}
	if runtime.GOOS != "linux" {
		return // the opener is not xdg-open
	}
	bin := t.TempDir()
	log := filepath.Join(bin, "opened")
	script := "#!/bin/sh\necho \"$@\" > " + log + "\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r = x.runEnv([]string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}, "runs", "deck", name, "top", "--open")
	if r.code != 0 {
		t.Fatalf("--open with an opener\n%s", r)
	}
	if got, _ := os.ReadFile(log); strings.TrimSpace(string(got)) != top {
		t.Errorf("opener got %q, want %s", got, top)
	}
}
