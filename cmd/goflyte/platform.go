package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/remote"
)

// platformOptions are the connection options of the platform block.
// Tokens come with the credentials block (not wired yet).
func platformOptions(cfg *config.Config, logger hclog.Logger) remote.Options {
	o := remote.OptionsFromConfig(cfg.Platform)
	o.Logger = logger.Named("temporal")
	return o
}

// platformSet reports whether platform.url was given (file, env or flag)
// rather than left at its default.
func platformSet(cfg *config.Config) bool {
	src, _ := cfg.Source("platform.url")
	return src.Kind != config.SourceDefault
}

// doctorPlatformTimeout bounds doctor's platform check.
const doctorPlatformTimeout = 5 * time.Second

// platformRow is doctor's row for the platform, in the shape of the
// secret stores' rows (Backend, Usable, Detail) plus the check's findings.
type platformRow struct {
	Backend  string         `json:"Backend"`
	Usable   bool           `json:"Usable"`
	Detail   string         `json:"Detail"`
	Platform *remote.Status `json:"platform"`
}

// checkPlatform runs doctor's platform check.
func checkPlatform(ctx context.Context, cfg *config.Config, logger hclog.Logger) platformRow {
	o := platformOptions(cfg, logger)
	o.DialTimeout = doctorPlatformTimeout
	st := remote.Check(ctx, o)
	row := platformRow{Backend: "platform", Usable: st.Reachable, Platform: &st}
	via := ""
	if st.Proxy != "" {
		via = " via " + st.Proxy
	}
	if st.Reachable {
		row.Detail = fmt.Sprintf("Temporal %s at %s%s, namespace %s, TLS %s, %.0f ms", st.Server, st.URL, via, st.Namespace, st.TLS, st.TookMS)
	} else {
		row.Detail = fmt.Sprintf("%s (after %.0f ms)", st.Error, st.TookMS)
	}
	return row
}
