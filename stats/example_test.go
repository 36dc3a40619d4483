package stats_test

import (
	"fmt"
	"time"

	"github.com/goflyte/goflyte/stats"
)

func ExampleRecorder() {
	r := stats.NewRecorder(stats.RecorderOptions{}) // no Client: local only
	r.Incr("rows", stats.Tags{"source": "s3"})
	r.Count("rows", 4, stats.Tags{"source": "s3"})
	r.Gauge("queue", 7)
	r.Timing("load", 1500*time.Microsecond)
	r.Timing("load", 500*time.Microsecond)

	fmt.Println(r.Value("rows", stats.Tags{"source": "s3"}))
	for _, m := range r.Metrics() {
		fmt.Printf("%s %s %v value=%g count=%d\n", m.Name, m.Kind, m.Tags, m.Value, m.Count)
	}
	// Output:
	// 5
	// load timer map[] value=2 count=2
	// queue gauge map[] value=7 count=1
	// rows counter map[source:s3] value=5 count=2
}
