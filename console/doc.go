// Package console serves goflyte's local web console: the runs of a
// sandbox, each run's graph, timeline, tasks, logs and decks, the cache,
// live updates as other goflyte processes write runs, and actions (start,
// resume, cancel, delete) that run the same code as the CLI.
//
// # Reading
//
// The console reads nothing itself: records, events, task logs and cache
// entries come from engine/sandbox and engine/cache, the code the CLI
// reads them with, so /api/runs, /api/runs/{run} and /api/cache have the
// shapes of `goflyte runs list --json`, `runs show --json` and `cache
// list --json`. Live views follow a run with [sandbox.Follower].
//
// # Security
//
// Every request needs the console's token: from ?token= once (it is then
// kept in an HttpOnly, SameSite=Strict cookie) or from that cookie. The
// Host header must name the console's own address (against DNS
// rebinding): otherwise 421. A POST whose Origin (or Sec-Fetch-Site) is
// not the console's own is refused with 403. Every page is sent with a
// Content-Security-Policy that allows only the console's own script and
// style files; task outputs, logs and errors go through html/template as
// text. Decks are served with a CSP sandbox, so their scripts run in an
// opaque origin that cannot reach the console, and shown in sandboxed
// frames.
//
// # Live updates
//
// GET /api/runs/{run}/events is a Server-Sent Events stream of the run:
// events task (a task's state: name, status, ...), log (a task log line),
// run (the run's summary) and end (the run is over). Every event has an
// id; a reconnect with Last-Event-ID continues right after it while the
// console runs. A stream opened after the run ended sends the final task
// states, run and end. GET /api/events streams run events for the runs
// page.
package console
