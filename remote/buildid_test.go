package remote

import (
	"runtime/debug"
	"testing"
)

func TestBuildIDOf(t *testing.T) {
	for _, tc := range []struct {
		name     string
		version  string
		settings []debug.BuildSetting
		want     string
	}{
		{"no vcs", "(devel)", []debug.BuildSetting{{Key: "GOOS", Value: "linux"}}, ""},
		{"released", "v1.4.0", []debug.BuildSetting{{Key: "GOOS", Value: "linux"}}, "goflyte@v1.4.0"},
		{"built in a checkout", "v0.0.0-20261203072148-2a0f1d3059d6+dirty", []debug.BuildSetting{{Key: "vcs.revision", Value: "2a0f1d3059d6"}, {Key: "vcs.modified", Value: "true"}}, "goflyte@v0.0.0-20261203072148-2a0f1d3059d6+dirty"},
		{"clean", "(devel)", []debug.BuildSetting{{Key: "vcs.revision", Value: "5b4be2d0"}, {Key: "vcs.modified", Value: "false"}}, "goflyte@5b4be2d0"},
		{"modified", "", []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: "5b4be2d0"}}, "goflyte@5b4be2d0+dirty"},
		{"modified without revision", "(devel)", []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := buildIDOf(&debug.BuildInfo{Main: debug.Module{Version: tc.version}, Settings: tc.settings}); got != tc.want {
				t.Errorf("buildIDOf = %q, want %q", got, tc.want)
			}
		})
	}
}
