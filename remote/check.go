package remote

import (
	"context"
	"time"
)

// Status is the result of [Check], as `goflyte doctor` shows it.
type Status struct {
	URL       string        `json:"url"`
	Namespace string        `json:"namespace"`
	TLS       string        `json:"tls"`             // "off", "verified" or "unverified" ([Options.TLSMode])
	Proxy     string        `json:"proxy,omitempty"` // the proxy URL without its password
	Reachable bool          `json:"reachable"`       // the frontend answered and the namespace exists
	Server    string        `json:"server_version,omitempty"`
	Took      time.Duration `json:"-"`
	TookMS    float64       `json:"took_ms"`
	Setting   string        `json:"setting,omitempty"` // on failure: the setting to look at
	Error     string        `json:"error,omitempty"`
	// Refused: the service refused the credentials ([DialError.Refused]).
	Refused bool `json:"refused,omitempty"`
	// Err is the failure, for callers that look inside it.
	Err error `json:"-"`
}

// Check dials the frontend as [Dial] does (health, TLS, namespace), closes
// the connection and reports what it found. It never returns an error of
// its own: a failure is in Status.Error.
func Check(ctx context.Context, o Options) Status {
	o = o.withDefaults()
	st := Status{URL: o.URL, Namespace: o.Namespace, TLS: o.TLSMode()}
	if o.HTTPProxyURL != "" {
		if u, err := parseProxyURL(o.HTTPProxyURL); err == nil {
			st.Proxy = u.Redacted()
		}
	}
	start := time.Now()
	c, info, err := dial(ctx, o)
	st.Took = time.Since(start)
	st.TookMS = float64(st.Took.Microseconds()) / 1000
	if err != nil {
		st.Error, st.Err = err.Error(), err
		if de, ok := err.(*DialError); ok {
			st.Setting, st.Refused = de.Setting, de.Refused
		}
		return st
	}
	c.Close()
	st.Reachable = true
	st.Server = info.GetServerVersion()
	return st
}
