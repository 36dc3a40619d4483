package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/engine/remote/remotetest"
)

// TestE2EDoctorPlatform runs goflyte doctor against a real Temporal test
// server: it reports the platform when platform.url is set, in the table
// and in --json, names the setting when the check fails, and leaves the
// platform out when url is not set.
func TestE2EDoctorPlatform(t *testing.T) {
	x := newE2E(t)
	r := x.run("doctor", "--json")
	if r.code != 0 || strings.Contains(r.stdout, `"platform"`) {
		t.Errorf("doctor without platform.url: want no platform row\n%s", r)
	}

	srv := remotetest.Start(t, remotetest.Options{})
	env := []string{"FLYTE_PLATFORM_URL=" + srv.Addr, "FLYTE_PLATFORM_INSECURE=true"}
	r = x.runEnv(env, "doctor")
	if r.code != 0 || !strings.Contains(r.stdout, "platform") || !strings.Contains(r.stdout, "namespace default") {
		t.Errorf("doctor with a reachable platform\n%s", r)
	}

	type row struct {
		Backend  string
		Usable   bool
		Platform *struct {
			URL       string  `json:"url"`
			Namespace string  `json:"namespace"`
			TLS       string  `json:"tls"`
			Reachable bool    `json:"reachable"`
			TookMS    float64 `json:"took_ms"`
			Setting   string  `json:"setting"`
			Error     string  `json:"error"`
		} `json:"platform"`
	}
	platformRow := func(r result) row {
		t.Helper()
		var rows []row
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, r)
		}
		for _, rw := range rows {
			if rw.Backend == "platform" && rw.Platform != nil {
				return rw
			}
		}
		t.Fatalf("doctor --json has no platform row\n%s", r)
		return row{}
	}
	p := platformRow(x.runEnv(env, "doctor", "--json"))
	if !p.Usable || !p.Platform.Reachable || p.Platform.URL != srv.Addr || p.Platform.TLS != "off" || p.Platform.TookMS <= 0 {
		t.Errorf("doctor --json, reachable platform: %+v %+v", p, *p.Platform)
	}

	p = platformRow(x.runEnv(append(env, "FLYTE_PLATFORM_NAMESPACE=missing-ns"), "doctor", "--json"))
	if p.Usable || p.Platform.Setting != "platform.namespace" || p.Platform.Error == "" {
		t.Errorf("doctor --json, unknown namespace: %+v %+v", p, *p.Platform)
	}
}
