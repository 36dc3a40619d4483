package remote

import (
	"runtime/debug"
	"sync"
)

// buildID is the Build ID every Temporal worker of this process reports
// (worker.Options.BuildID; the UI shows it on each workflow task).
//
// Without one the SDK reads the whole executable to hash it when the
// first worker starts: 100 MB for goflyte, about 0.15 s of CPU before a
// `goflyte worker` polls. The binary's build information names the build
// as well and costs nothing: its module version (a release's, from go
// install ...@v1.2.3, or the pseudo-version go build stamps in a
// checkout, v0.0.0-<time>-<commit>[+dirty]), else its VCS revision. A
// binary with neither (go run, test binaries, -buildvcs=false) gets ""
// and the SDK's hash, as before.
var buildID = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return buildIDOf(info)
})

// buildIDOf is "goflyte@<module version>", else "goflyte@<revision>"
// (with "+dirty" for a modified tree), else "".
func buildIDOf(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return "goflyte@" + v
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return ""
	}
	id := "goflyte@" + rev
	if dirty {
		id += "+dirty"
	}
	return id
}
