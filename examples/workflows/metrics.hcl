# Task metrics: text.count records a counter (text.words, tagged by word
# size), a gauge (text.unique_words) and a timer (text.count.time); the
# engine adds its own (engine.task.duration, ...). See them with
#
#   goflyte run examples/workflows/metrics.hcl --input text="to be or not to be"
#   goflyte runs show RUN
#
# To also send them to a StatsD server as they happen, add to flyte.hcl
#
#   statsd {
#     host = "localhost"
#   }
#
# (or set FLYTE_STATSD_HOST=localhost) and watch, for example, with
# `nc -kul 8125`.
workflow "metrics" {
  description = "Count words and record metrics about it."

  input "text" {
    type        = string
    description = "The text to count."
  }

  task "split" {
    uses   = "text.split"
    inputs = { text = input.text }
  }

  task "count" {
    uses   = "text.count"
    inputs = { words = task.split.words }
  }

  output "n" { value = task.count.n }
  output "unique" { value = task.count.unique }
}
