package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// runsDeck prints the path of a run's deck index, or of one task's deck,
// and opens it with --open. args are RUN [TASK]. env is the environment
// of the opener: goflyte's less its secrets, as plugins get it.
func runsDeck(c *cli, sb sandbox.Sandbox, args []string, open bool, env []string) error {
	rec, err := sb.LoadRecord(args[0])
	if err != nil {
		return usagef("runs deck: %v", err)
	}
	var withDecks []string
	for _, t := range rec.Tasks {
		if t.Deck != "" {
			withDecks = append(withDecks, t.Name)
		}
	}
	rel := rec.Deck
	if rel == "" {
		return fmt.Errorf("run %s has no decks: none of its tasks has enable_deck = true (or the run has not ended)", rec.Name)
	}
	if len(args) == 2 {
		var task *sandbox.TaskRecord
		var names []string
		for i, t := range rec.Tasks {
			names = append(names, t.Name)
			if t.Name == args[1] {
				task = &rec.Tasks[i]
			}
		}
		switch {
		case task == nil:
			return usagef("runs deck: run %s has no task %q; its tasks: %s", rec.Name, args[1], strings.Join(names, ", "))
		case task.Deck == "":
			return fmt.Errorf("task %q of run %s has no deck (%s); tasks with decks: %s",
				task.Name, rec.Name, noDeckReason(task), strings.Join(withDecks, ", "))
		}
		rel = task.Deck
	}
	path := filepath.Join(sb.RunDir(rec.Name), filepath.FromSlash(rel))
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("the deck %s was removed", path)
		}
		return err
	}
	fmt.Fprintln(c.stdout, path)
	if open {
		return openInBrowser(path, env)
	}
	return nil
}

// noDeckReason says why a task has no deck.
func noDeckReason(t *sandbox.TaskRecord) string {
	switch {
	case t.Cache == sandbox.CacheHit:
		return "its result came from the cache, so it did not run"
	case t.Resumed:
		return "its outputs were kept from an earlier run"
	case t.Status == sandbox.StatusSkipped || t.Status == sandbox.StatusPending:
		return "it did not run"
	}
	return "its block does not have enable_deck = true"
}

// printDeck adds the run's deck to `runs show`.
func printDeck(c *cli, rec *sandbox.Record, runDir string) {
	if rec.Deck == "" {
		return
	}
	deck := filepath.Join(runDir, filepath.FromSlash(rec.Deck))
	if strings.Contains(rec.Deck, "://") {
		deck = rec.Deck // a remote run's: in the data store
	}
	fmt.Fprintf(c.stdout, "  deck      %s\n", deck)
	fmt.Fprintf(c.stdout, "            (goflyte runs deck %s [TASK] --open)\n", rec.Name)
}

// browserOpener returns the command that opens a file in the browser on
// this platform, or nil when there is none.
var browserOpener = func(path string) *exec.Cmd {
	var name string
	var args []string
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler"}
	default:
		name = "xdg-open"
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		return nil
	}
	return exec.Command(bin, append(args, path)...)
}

// openInBrowser opens path with the platform's opener, whose whole
// environment is env.
func openInBrowser(path string, env []string) error {
	cmd := browserOpener(path)
	if cmd == nil {
		return fmt.Errorf("no browser opener found; open %s yourself", path)
	}
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", filepath.Base(cmd.Path), path, err, strings.TrimSpace(string(out)))
	}
	return nil
}
