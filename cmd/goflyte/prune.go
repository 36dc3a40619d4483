package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// localDataPrefix returns the local directory of local.raw_output_data_prefix
// ("" when it is unset or a bucket): runs delete removes a run's data
// store there too.
func localDataPrefix(prefix string) string {
	switch {
	case prefix == "":
		return ""
	case strings.HasPrefix(prefix, "file://"):
		return strings.TrimPrefix(prefix, "file://")
	case strings.Contains(prefix, "://"):
		return "" // a bucket: not ours to clean here
	}
	return prefix
}

// runsDelete removes the runs named. A running run is refused; the others
// are removed all the same, and the exit code is 1.
func runsDelete(c *cli, sb sandbox.Sandbox, dataPrefix string, names []string, asJSON bool) error {
	var deleted []sandbox.RunSummary
	var failed []error
	for _, n := range names {
		rec, err := sb.LoadRecord(n)
		name := n
		if err == nil {
			name = rec.Name
		} else if !errors.Is(err, fs.ErrNotExist) || strings.Contains(n, ":") {
			failed = append(failed, err)
			continue
		}
		if err := sb.DeleteRun(name, localDataPrefix(dataPrefix)); err != nil {
			failed = append(failed, err)
			continue
		}
		sum := sandbox.RunSummary{Name: name}
		if rec != nil {
			sum = sandbox.Summarize(rec)
		}
		deleted = append(deleted, sum)
	}
	if err := printRemoved(c, deleted, asJSON, false); err != nil {
		return err
	}
	for _, err := range failed {
		fmt.Fprintf(c.stderr, "Error: %v\n", err)
	}
	if len(failed) > 0 {
		return &exitError{code: exitFailed}
	}
	return nil
}

// runsPrune removes the finished runs that opts selects.
func runsPrune(c *cli, sb sandbox.Sandbox, dataPrefix string, olderThan time.Duration, keep int, statuses string, dryRun, asJSON bool) error {
	if olderThan <= 0 {
		return usagef("runs prune: give --older-than DURATION (counted from each run's end), e.g. --older-than 720h")
	}
	if keep < 0 {
		return usagef("runs prune: --keep must be at least 0")
	}
	opts := sandbox.PruneOptions{OlderThan: olderThan, Keep: keep, Now: time.Now()}
	if statuses != "" {
		valid := []string{sandbox.StatusSucceeded, sandbox.StatusFailed, sandbox.StatusCancelled, sandbox.StatusInterrupted}
		for _, s := range strings.Split(statuses, ",") {
			s = strings.TrimSpace(s)
			ok := false
			for _, v := range valid {
				ok = ok || v == s
			}
			if !ok {
				return usagef("runs prune: --status %q is not one of %s (a running run is never pruned)", s, strings.Join(valid, ", "))
			}
			opts.Statuses = append(opts.Statuses, s)
		}
	}
	recs, _, err := sb.ListRecords()
	if err != nil {
		return err
	}
	var removed []sandbox.RunSummary
	var failed []error
	for _, r := range sandbox.SelectPrune(recs, opts) {
		if !dryRun {
			if err := sb.DeleteRun(r.Name, localDataPrefix(dataPrefix)); err != nil {
				var re *sandbox.RunningError
				if errors.As(err, &re) {
					continue // started again (resumed into) since listing: leave it
				}
				failed = append(failed, err)
				continue
			}
		}
		removed = append(removed, sandbox.Summarize(r))
	}
	if err := printRemoved(c, removed, asJSON, dryRun); err != nil {
		return err
	}
	for _, err := range failed {
		fmt.Fprintf(c.stderr, "Error: %v\n", err)
	}
	if len(failed) > 0 {
		return &exitError{code: exitFailed}
	}
	return nil
}

// printRemoved lists removed runs on stdout (one name a line, or JSON) and
// a count on stderr.
func printRemoved(c *cli, runs []sandbox.RunSummary, asJSON, dryRun bool) error {
	if asJSON {
		if runs == nil {
			runs = []sandbox.RunSummary{}
		}
		return writeJSON(c.stdout, runs)
	}
	for _, r := range runs {
		fmt.Fprintln(c.stdout, r.Name)
	}
	verb := "Removed"
	if dryRun {
		verb = "Would remove"
	}
	fmt.Fprintf(c.stderr, "%s %d run%s.\n", verb, len(runs), plural(len(runs), "", "s"))
	return nil
}

// runsCancel stops a running run.
func runsCancel(c *cli, sb sandbox.Sandbox, nameOrID string) error {
	rec, err := loadRun(sb, "runs cancel", nameOrID)
	if err != nil {
		return err
	}
	if _, err := sb.CancelRun(rec.Name); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "Sent an interrupt to run %s (pid %d); it stops its tasks and records itself cancelled.\n", rec.Name, rec.PID)
	return nil
}
