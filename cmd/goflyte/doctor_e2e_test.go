package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/remote/remotetest"
)

// TestE2EDoctorPlatform runs goflyte doctor against a real Temporal test
// server: it reports the platform when platform.url is set, in the table
// and in --json, names the setting when the check fails, and leaves the
// platform out when url is not set.
func TestE2EDoctorPlatform(t *testing.T) {
	// It waits on its servers more than it computes.
	t.Parallel()
	x := newE2E(t)
	r := x.run("doctor", "--json")
	if r.code != 0 || strings.Contains(r.stdout, `"platform"`) {
		t.Errorf("doctor without platform.url: want no platform row\n%s", r)
	}

	srv := remotetest.Shared(t)
	env := []string{"FLYTE_PLATFORM_URL=" + srv.Addr, "FLYTE_PLATFORM_INSECURE=true", "FLYTE_PLATFORM_NAMESPACE=" + srv.Namespace}
	r = x.runEnv(env, "doctor")
	if r.code != 0 || !strings.Contains(r.stdout, "platform") || !strings.Contains(r.stdout, "namespace "+srv.Namespace) {
		t.Errorf("doctor with a reachable platform\n%s", r)
	}

	type status struct {
		URL       string  `json:"url"`
		Namespace string  `json:"namespace"`
		TLS       string  `json:"tls"`
		Reachable bool    `json:"reachable"`
		TookMS    float64 `json:"took_ms"`
		Setting   string  `json:"setting"`
		Error     string  `json:"error"`
	}
	platformRow := func(r result) *status {
		t.Helper()
		var out struct {
			Platform *status `json:"platform"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, r)
		}
		if out.Platform == nil {
			t.Fatalf("doctor --json has no platform\n%s", r)
		}
		return out.Platform
	}
	p := platformRow(x.runEnv(env, "doctor", "--json"))
	if !p.Reachable || p.URL != srv.Addr || p.Namespace != srv.Namespace || p.TLS != "off" || p.TookMS <= 0 {
		t.Errorf("doctor --json, reachable platform: %+v", *p)
	}

	p = platformRow(x.runEnv(append(env, "FLYTE_PLATFORM_NAMESPACE=missing-ns"), "doctor", "--json"))
	if p.Reachable || p.Setting != "platform.namespace" || p.Error == "" {
		t.Errorf("doctor --json, unknown namespace: %+v", *p)
	}
}
