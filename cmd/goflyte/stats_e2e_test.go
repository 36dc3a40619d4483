package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// statsdServer is a StatsD server for the tests: a UDP socket on
// 127.0.0.1 that collects the lines it receives.
type statsdServer struct {
	conn  *net.UDPConn
	lines chan string
}

func startStatsD(t *testing.T) *statsdServer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &statsdServer{conn: conn, lines: make(chan string, 1000)}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(s.lines)
				return
			}
			for line := range strings.SplitSeq(string(buf[:n]), "\n") {
				s.lines <- line
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return s
}

func (s *statsdServer) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

// await reads lines until each prefix has started one, and fails the test
// after a few seconds.
func (s *statsdServer) await(t *testing.T, prefixes ...string) {
	t.Helper()
	missing := map[string]bool{}
	for _, p := range prefixes {
		missing[p] = true
	}
	var seen []string
	timeout := time.After(10 * time.Second)
	for len(missing) > 0 {
		select {
		case line := <-s.lines:
			seen = append(seen, line)
			for p := range missing {
				if strings.HasPrefix(line, p) {
					delete(missing, p)
				}
			}
		case <-timeout:
			t.Fatalf("no StatsD line starting with %v; received:\n%s", keys(missing), strings.Join(seen, "\n"))
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// metricsRun runs the metrics example and returns the recorded metrics of
// its count task, from runs show --json.
func metricsRun(t *testing.T, x *e2e, env ...string) (map[string]sandbox.Metric, string, result) {
	t.Helper()
	r := x.runEnv(env, "run", "metrics", "--input", "text=to be or not to be", "--json")
	var out runJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || out.Status != "succeeded" {
		t.Fatalf("want success\n%s", r)
	}
	show := x.run("runs", "show", out.ExecutionID, "--json")
	var rec sandbox.Record
	if err := json.Unmarshal([]byte(show.stdout), &rec); err != nil {
		t.Fatalf("runs show --json: %v\n%s", err, show)
	}
	got := map[string]sandbox.Metric{}
	for _, tk := range rec.Tasks {
		if tk.Name != "count" {
			continue
		}
		for _, m := range tk.Metrics {
			key := m.Name
			if s := m.Tags["size"]; s != "" {
				key += "{size=" + s + "}"
			}
			got[key] = m
		}
	}
	return got, out.ExecutionID, r
}

func checkCountMetrics(t *testing.T, got map[string]sandbox.Metric) {
	t.Helper()
	want := map[string]struct {
		kind  string
		value float64
	}{
		"text.words{size=short}": {"counter", 6},
		"text.unique_words":      {"gauge", 4},
		"text.count.time":        {"timer", -1},
		"engine.task.duration":   {"timer", -1},
	}
	for name, w := range want {
		m, ok := got[name]
		switch {
		case !ok:
			t.Errorf("no metric %s in the record; have %v", name, got)
		case m.Kind != w.kind || (w.value >= 0 && m.Value != w.value) || m.Count < 1:
			t.Errorf("metric %s = %+v, want a %s of %g", name, m, w.kind, w.value)
		}
	}
	if m := got["engine.task.duration"]; m.Tags["plugin"] != "text" || m.Tags["task"] != "count" || m.Tags["node"] != "count" {
		t.Errorf("engine.task.duration tags = %v", m.Tags)
	}
}

func TestE2EStatsD(t *testing.T) {
	x := newE2E(t)
	srv := startStatsD(t)
	cfg, err := os.ReadFile(filepath.Join(x.dir, "flyte.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	x.writeFile("flyte.hcl", string(cfg)+fmt.Sprintf("\nstatsd {\n  host = \"127.0.0.1\"\n  port = %d\n}\n", srv.port()))

	got, id, _ := metricsRun(t, x)
	srv.await(t,
		"goflyte.text.words.__size=short:1|c",                                   // the plugin's, sent by the plugin
		"goflyte.text.unique_words:4|g",                                         //
		"goflyte.text.count.time:",                                              //
		"goflyte.engine.task.duration.__node=count.__plugin=text.__task=count:", // the engine's
	)
	checkCountMetrics(t, got)

	show := x.run("runs", "show", id)
	for _, want := range []string{"Metrics:", "text.unique_words", "gauge", "engine.task.duration", "size=short"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("runs show does not show %q\n%s", want, show)
		}
	}
	x.checkNoOrphans()
}

func TestE2EStatsDFromFlytekitSecretsNames(t *testing.T) {
	x := newE2E(t)
	srv := startStatsD(t)
	_, _, r := metricsRun(t, x, "FLYTE_SECRETS_HOST=127.0.0.1", fmt.Sprintf("FLYTE_SECRETS_PORT=%d", srv.port()))
	srv.await(t, "goflyte.text.words.", "goflyte.engine.task.duration.")
	if !strings.Contains(r.stderr, "FLYTE_SECRETS_HOST sets statsd.host") || strings.Contains(r.stderr, "127.0.0.1") {
		t.Errorf("want a deprecation warning that does not show the value\n%s", r)
	}
}

func TestE2EStatsWithoutStatsD(t *testing.T) {
	x := newE2E(t)
	srv := startStatsD(t) // listening, but not configured: nothing may arrive
	got, _, _ := metricsRun(t, x)
	checkCountMetrics(t, got)
	select {
	case line := <-srv.lines:
		t.Errorf("received %q without a statsd block", line)
	case <-time.After(200 * time.Millisecond):
	}
}
