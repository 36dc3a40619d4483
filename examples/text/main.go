// Command goflyte-plugin-text is an example goflyte plugin with small text
// tasks: split text into words, count them, find the most frequent, change
// case, join them again. A few tasks exist for the engine's tests: fail,
// crash, sleep and env. See README.md.
package main

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/goflyte/goflyte/sdk"
)

type countEachIn struct {
	Texts []string `json:"texts" desc:"The texts whose words to count."`
}

type countEachOut struct {
	Counts []int `json:"counts" desc:"The number of words of each text, in order."`
}

// countEach is a dynamic task: it decides at run time to split and count
// each text, and returns that graph for the engine to run.
func countEach(ctx context.Context, in countEachIn) (*sdk.Graph[countEachOut], error) {
	g := sdk.NewGraph[countEachOut]()
	counts := make([]sdk.Ref, len(in.Texts))
	for i, text := range in.Texts {
		split, count := fmt.Sprintf("split%d", i), fmt.Sprintf("count%d", i)
		g.Task(split, "text.split", map[string]any{"text": text})
		g.Task(count, "text.count", map[string]any{"words": sdk.Ref("task." + split + ".words")})
		counts[i] = sdk.Ref("task." + count + ".n")
	}
	g.Output("counts", counts)
	sdk.Logger(ctx).Info("built a graph", "tasks", 2*len(in.Texts))
	return g, nil
}

type shoutAllIn struct {
	Texts []string `json:"texts" desc:"The texts to shout."`
}

type shoutAllOut struct {
	Shouts []string `json:"shouts" desc:"The texts in upper case, in order."`
}

// shoutAll is an eager task: plain Go that runs text.upper through the
// engine for each text, all at once.
func shoutAll(ctx context.Context, in shoutAllIn) (shoutAllOut, error) {
	out := shoutAllOut{Shouts: make([]string, len(in.Texts))}
	errs := make([]error, len(in.Texts))
	var wg sync.WaitGroup
	for i, text := range in.Texts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := sdk.Params(ctx).Run(ctx, "text.upper", map[string]any{"text": text})
			if err != nil {
				errs[i] = err
				return
			}
			var o textIO
			errs[i] = res.Decode(&o)
			out.Shouts[i] = o.Text
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func main() {
	sdk.ServeWithOptions(sdk.Options{Name: "text"}, tasks)
}

var tasks = map[string]sdk.Task{
	"split":       sdk.Func(split).WithDoc("Splits text into words, at whitespace or at a separator."),
	"count":       sdk.Func(count).WithDoc("Counts words, and the distinct words among them."),
	"upper":       sdk.Func(upper).WithDoc("Converts text to upper case."),
	"join":        sdk.Func(join).WithDoc("Joins words into text with a separator."),
	"top":         sdk.Func(top).WithDoc("Returns the k most frequent words with their counts."),
	"fail":        sdk.Func(fail).WithDoc("Always fails with the given message (for tests)."),
	"crash":       sdk.Func(crash).WithDoc("Writes the message to stderr and exits the plugin process with status 3 (for tests)."),
	"sleep":       sdk.Func(sleep).WithDoc("Sleeps for ms milliseconds, or until cancelled (for tests)."),
	"env":         sdk.Func(env).WithDoc("Reports its execution parameters and writes hello.txt into its working directory (for tests)."),
	"shout_all":   sdk.Eager(shoutAll).WithDoc("Upper-cases each text by running text.upper through the engine, concurrently (an eager task)."),
	"write":       sdk.Func(write).WithDoc("Writes text into a file."),
	"upper_file":  sdk.Func(upperFile).WithDoc("Writes an upper-case copy of a file."),
	"read":        sdk.Func(read).WithDoc("Reads a file."),
	"split_lines": sdk.Func(splitLines).WithDoc("Splits a file into a directory of one file per line."),
	"cat":         sdk.Func(cat).WithDoc("Concatenates the files of a directory."),
	"count_each":  sdk.Dynamic(countEach).WithDoc("Counts the words of each text with a split and a count task per text, built at run time (a dynamic task)."),
}

type splitIn struct {
	Text string `json:"text" desc:"The text to split."`
	Sep  string `json:"sep,omitempty" desc:"The separator. If unset, runs of whitespace separate words."`
}

type wordsOut struct {
	Words []string `json:"words" desc:"The words, in order."`
}

func split(ctx context.Context, in splitIn) (wordsOut, error) {
	var words []string
	switch {
	case in.Sep == "":
		words = strings.Fields(in.Text)
	case in.Text != "":
		words = strings.Split(in.Text, in.Sep)
	}
	sdk.Logger(ctx).Info("split text", "bytes", len(in.Text), "words", len(words))
	return wordsOut{Words: words}, nil
}

type wordsIn struct {
	Words []string `json:"words" desc:"The words."`
}

type countOut struct {
	N      int `json:"n" desc:"The number of words."`
	Unique int `json:"unique" desc:"The number of distinct words."`
}

func count(ctx context.Context, in wordsIn) (countOut, error) {
	// Metrics: a timer for the counting, a counter of words by length
	// class and a gauge of distinct words. They land in the run record
	// (goflyte runs show RUN) and, with a statsd block, in StatsD.
	s := sdk.Params(ctx).Stats()
	defer s.Time("text.count.time")()
	seen := make(map[string]bool, len(in.Words))
	for _, w := range in.Words {
		seen[w] = true
		size := "short"
		if len(w) > 3 {
			size = "long"
		}
		s.Incr("text.words", sdk.Tags{"size": size})
	}
	out := countOut{N: len(in.Words), Unique: len(seen)}
	s.Gauge("text.unique_words", float64(out.Unique))
	sdk.Logger(ctx).Info("counted words", "n", out.N, "unique", out.Unique)
	return out, nil
}

type textIO struct {
	Text string `json:"text" desc:"The text."`
}

func upper(ctx context.Context, in textIO) (textIO, error) {
	sdk.Logger(ctx).Info("upper-casing text", "bytes", len(in.Text))
	return textIO{Text: strings.ToUpper(in.Text)}, nil
}

type joinIn struct {
	Words []string `json:"words" desc:"The words to join."`
	// A pointer, so that an empty separator can be asked for: nil means
	// the default.
	Sep *string `json:"sep" desc:"The separator; a single space if unset."`
}

func join(ctx context.Context, in joinIn) (textIO, error) {
	sep := " "
	if in.Sep != nil {
		sep = *in.Sep
	}
	sdk.Logger(ctx).Info("joining words", "words", len(in.Words))
	return textIO{Text: strings.Join(in.Words, sep)}, nil
}

type topIn struct {
	Words []string `json:"words" desc:"The words."`
	K     int      `json:"k" desc:"How many words to return; at least 1."`
}

// Validate runs before top; its AttrError points at the input k in the
// workflow file.
func (in topIn) Validate() error {
	if in.K < 1 {
		return sdk.AttrError("k", "Invalid number of words", fmt.Sprintf("k must be at least 1, but it is %d.", in.K))
	}
	return nil
}

type wordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

type topOut struct {
	Top []wordCount `json:"top" desc:"Up to k words with their counts, most frequent first, ties in alphabetical order."`
}

func top(ctx context.Context, in topIn) (topOut, error) {
	counts := map[string]int{}
	for _, w := range in.Words {
		counts[w]++
	}
	list := make([]wordCount, 0, len(counts))
	for w, n := range counts {
		list = append(list, wordCount{Word: w, Count: n})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Count != list[j].Count {
			return list[i].Count > list[j].Count
		}
		return list[i].Word < list[j].Word
	})
	if len(list) > in.K {
		list = list[:in.K]
	}
	sdk.Logger(ctx).Info("found top words", "k", in.K, "distinct", len(counts))
	topDeck(sdk.Params(ctx).Deck("Top words"), len(in.Words), len(counts), list)
	return topOut{Top: list}, nil
}

// topDeck reports the top words: a summary, a table and a bar chart. The
// engine renders it for a task block with enable_deck = true.
func topDeck(d *sdk.Deck, words, distinct int, list []wordCount) {
	d.Markdown(fmt.Sprintf("## Top %d words\n\n**%d** words, **%d** distinct.", len(list), words, distinct))
	rows := make([][]any, len(list))
	for i, wc := range list {
		rows[i] = []any{i + 1, wc.Word, wc.Count}
	}
	d.Table([]string{"rank", "word", "count"}, rows)
	if len(list) == 0 {
		return
	}
	const barHeight, width = 22, 320
	var svg strings.Builder
	fmt.Fprintf(&svg, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, width, barHeight*len(list))
	for i, wc := range list {
		w := 200 * wc.Count / list[0].Count
		y := i * barHeight
		fmt.Fprintf(&svg, `<rect x="100" y="%d" width="%d" height="%d" fill="#3b6fd8"/>`, y+3, w, barHeight-6)
		fmt.Fprintf(&svg, `<text x="95" y="%d" text-anchor="end">%s</text>`, y+15, xmlEscape(wc.Word))
		fmt.Fprintf(&svg, `<text x="%d" y="%d">%d</text>`, 105+w, y+15, wc.Count)
	}
	svg.WriteString(`</svg>`)
	if err := d.SVG([]byte(svg.String()), "bar chart of the top words"); err != nil {
		panic(err) // the SVG above is always valid
	}
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

type messageIn struct {
	Message string `json:"message" desc:"The message."`
}

// failOut declares an output that fail never produces, so that a test
// workflow can make another task depend on it (and see it skipped).
type failOut struct {
	Message string `json:"message" desc:"Never produced: the task always fails."`
}

func fail(ctx context.Context, in messageIn) (failOut, error) {
	sdk.Logger(ctx).Info("failing on purpose")
	return failOut{}, errors.New(in.Message)
}

// crash ends the plugin process in the middle of a task, as a real bug
// might (a log.Fatal, an os.Exit in a library). The engine must report a
// dead plugin and show the tail of its stderr, which holds the message.
func crash(ctx context.Context, in messageIn) (struct{}, error) {
	p := sdk.Params(ctx)
	p.Logger.Info("crashing on purpose")
	fmt.Fprintln(p.Stderr, in.Message) // os.Stderr would not reach the engine; see sdk.ExecutionParams.Stderr
	os.Exit(3)
	return struct{}{}, nil
}

type sleepIn struct {
	Ms int `json:"ms" desc:"How long to sleep, in milliseconds."`
}

type sleepOut struct {
	SleptMs int `json:"slept_ms" desc:"How long the task slept, in milliseconds."`
}

func (in sleepIn) Validate() error {
	if in.Ms < 0 {
		return sdk.AttrError("ms", "Negative duration", "ms must be zero or more.")
	}
	return nil
}

func sleep(ctx context.Context, in sleepIn) (sleepOut, error) {
	sdk.Logger(ctx).Info("sleeping", "ms", in.Ms)
	timer := time.NewTimer(time.Duration(in.Ms) * time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		return sleepOut{SleptMs: in.Ms}, nil
	case <-ctx.Done():
		return sleepOut{}, ctx.Err()
	}
}

type envOut struct {
	ExecutionID      string `json:"execution_id"`
	ExecutionDate    string `json:"execution_date" desc:"RFC 3339."`
	WorkingDirectory string `json:"working_directory"`
	Mode             string `json:"mode" desc:"Flytekit's name for the mode, e.g. LOCAL_WORKFLOW_EXECUTION."`
	TaskID           string `json:"task_id"`
	Node             string `json:"node"`
	Attempt          int    `json:"attempt"`
	File             string `json:"file" desc:"The path of hello.txt, written into the working directory."`
	TmpDir           string `json:"tmp_dir" desc:"Where RandomLocalDir makes directories."`
	RawOutputPrefix  string `json:"raw_output_prefix" desc:"The URI of the run's data store."`
}

func env(ctx context.Context, _ struct{}) (envOut, error) {
	p := sdk.Params(ctx)
	file := filepath.Join(p.WorkingDirectory, "hello.txt")
	if err := os.WriteFile(file, []byte("hello from "+p.TaskID+"\n"), 0o644); err != nil {
		return envOut{}, err
	}
	p.Logger.Info("reporting execution parameters", "execution_id", p.ExecutionID)
	return envOut{
		ExecutionID:      p.ExecutionID,
		ExecutionDate:    p.ExecutionDate.Format(time.RFC3339),
		WorkingDirectory: p.WorkingDirectory,
		Mode:             p.Mode.String(),
		TaskID:           p.TaskID,
		Node:             p.Node,
		Attempt:          p.Attempt,
		File:             file,
		TmpDir:           p.TmpDir,
		RawOutputPrefix:  p.RawOutputPrefix,
	}, nil
}
