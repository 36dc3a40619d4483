// Package stats provides counters, gauges and timers with tags: a
// [Recorder] that aggregates samples per series in memory, and a StatsD
// [Client] that sends each sample over UDP as it happens.
//
// Both the plugin side (package sdk, behind ExecutionParams.Stats) and the
// engine (its own per-task metrics) use this package; it imports only
// package plugin, for the [plugin.Metric] a Recorder aggregates into, so a
// plugin binary that links it links nothing of the engine.
//
// # Series and aggregation
//
// A series is a metric name and a set of tags. A Recorder keeps one
// [plugin.Metric] per series: a counter's sum, a gauge's last value, a
// timer's total, minimum and maximum in milliseconds, and for all three
// the number of samples.
//
// # Names and tags
//
// Names are dotted paths ("rows.read"). Tags are [Tags], a map from key to
// value. Both are sanitized before they are recorded or sent: in names,
// every character that StatsD gives a meaning to (':', '|', '@', '#',
// ','), whitespace, control characters and non-ASCII characters become
// '_'; tag keys and values also lose '.' and '=' the same way. A tag with
// an empty key or value is dropped, as Flytekit drops it.
//
// # The StatsD line format
//
// Each sample is one datagram holding one line of the plain StatsD
// protocol, without a sample rate:
//
//	<prefix>.<name>:<value>|c     a counter (Incr, Decr, Count)
//	<prefix>.<name>:<value>|g     a gauge
//	<prefix>.<name>:<value>|ms    a timer, in milliseconds
//
// Tags are folded into the name as Flytekit's TaggableStats does, one
// ".__<key>=<value>" part per tag in key order:
//
//	goflyte.rows.__lang=en.__source=s3:3|c
//
// This works with every StatsD server (etsy statsd, Telegraf's statsd
// input, the Prometheus statsd_exporter with a mapping), and matches the
// names Flytekit tasks send, where the DogStatsD "|#k:v" extension would
// be misread by plain StatsD servers. With [Options.DisableTags] the
// tags are left out of the line (the Recorder keeps them). A negative gauge
// is sent as "0|g" then the value in one datagram, because a leading sign
// means "change by" in StatsD.
//
// # Cost
//
// Sending never blocks and never fails the caller: on Unix the datagram
// is written with one non-blocking write(2), and a datagram the socket
// cannot take at once is dropped and counted ([Client.Dropped]). See
// BenchmarkRecorder for the cost per sample.
package stats
