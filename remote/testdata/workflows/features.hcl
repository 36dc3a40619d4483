# Language features the remote driver's tests run beside the examples
# (see workflow_test.go): each workflow exercises one.

# for_each with max_parallel and min_success_ratio: dividing by zero
# fails an instance; half of them may fail.
workflow "ratio" {
  input "divisors" { type = list(number) }

  task "div" {
    uses              = "math.div"
    for_each          = input.divisors
    inputs            = { a = 12, b = each.value }
    max_parallel      = 2
    min_success_ratio = 0.5
  }

  output "quotients" { value = task.div.quotient }
}

# A task's own failure, which is not retried (retries apply only to
# retryable errors).
workflow "fails" {
  input "message" { type = string }

  task "boom" {
    uses    = "text.fail"
    inputs  = { message = input.message }
    retries = 3
  }
  task "after" {
    uses   = "text.upper"
    inputs = { text = task.boom.message }
  }
}

# A cached task; "lost" loses its worker, "sleep" sleeps.
workflow "single" {
  input "text" {
    type    = string
    default = "hello"
  }
  input "ms" {
    type    = number
    default = 0
  }

  task "sleep" {
    uses   = "text.sleep"
    inputs = { ms = input.ms }
  }
  task "upper" {
    uses          = "text.upper"
    inputs        = { text = input.text }
    cache         = true
    cache_version = "2"
    retries       = 2
    depends_on    = [task.sleep]
  }

  output "text" { value = task.upper.text }
}

# Words of each text, in parallel, then joined: a sub-workflow per text
# inside a for_each, its outputs collected.
workflow "nested" {
  input "texts" { type = list(string) }

  task "each" {
    uses     = workflow.words
    for_each = input.texts
    inputs   = { text = each.value }
  }
  task "all" {
    uses   = "text.join"
    inputs = { words = flatten(task.each.words), sep = "," }
  }

  output "joined" { value = task.all.text }
}

workflow "words" {
  input "text" { type = string }

  task "split" {
    uses   = "text.split"
    inputs = { text = input.text }
  }
  task "shout" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }

  output "words" { value = task.split.words }
  output "shout" { value = task.shout.text }
}

# A wide fan-out, bounded only by the run's parallelism.
workflow "wide" {
  input "texts" { type = list(string) }

  task "count" {
    uses     = "text.count"
    for_each = input.texts
    inputs   = { words = split(" ", each.value) }
  }
  task "total" {
    uses   = "math.sum"
    inputs = { values = task.count.n }
  }

  output "total" { value = task.total.total }
}

# Instances that retry and sleep, for batches of a big for_each.
workflow "shouts" {
  input "texts" { type = list(string) }
  input "ms" {
    type    = number
    default = 0
  }

  task "nap" {
    uses     = "text.sleep"
    for_each = input.texts
    inputs   = { ms = input.ms }
  }
  task "shout" {
    uses          = "text.upper"
    for_each      = input.texts
    inputs        = { text = each.value }
    retries       = 2
    retry_backoff = "100ms"
    depends_on    = [task.nap]
  }

  output "shouts" { value = task.shout.text }
}

# Rows of a grid, each a sub-workflow with its own for_each: none is
# big enough for batches, so every call is an activity of the run's
# workflow.
workflow "grid" {
  input "rows" { type = list(list(string)) }

  task "row" {
    uses     = workflow.row
    for_each = input.rows
    inputs   = { cells = each.value }
  }

  output "rows" { value = task.row.shouts }
}

workflow "row" {
  input "cells" { type = list(string) }

  task "cell" {
    uses     = "text.upper"
    for_each = input.cells
    inputs   = { text = each.value }
  }

  output "shouts" { value = task.cell.text }
}

# A dynamic task whose workflow is a for_each over the texts (the fake
# text.count_each makes one when the first text is "__for_each"): wide
# enough, its instances run in batches too.
workflow "dynwide" {
  input "texts" { type = list(string) }

  task "counts" {
    uses   = "text.count_each"
    inputs = { texts = input.texts }
  }

  output "counts" { value = task.counts.counts }
}
