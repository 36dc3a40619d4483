# Three branches that run in parallel after "split", joined by "summary":
#
#            ┌─ count ──┐
#   split ───┼─ top ────┼─ summary
#            └─ shout ──┘
#
#   goflyte run examples/workflows/report.hcl --input text="..."   (make run)
#
# "top" and "count" have decks: HTML reports written when the run ends.
# goflyte runs deck RUN --open shows them; top adds a deck of its own.
workflow "report" {
  description = "Count, rank and shout the words of a text, then join the results."

  input "text" {
    type        = string
    description = "The text to report on."
  }
  input "k" {
    type        = number
    default     = 3
    description = "How many of the most frequent words to show."
  }

  task "split" {
    uses   = "text.split"
    inputs = { text = input.text }
  }

  # These three depend only on split, so they run at the same time.
  task "count" {
    uses        = "text.count"
    inputs      = { words = task.split.words }
    enable_deck = true
    deck_fields = ["Input", "Output", "Timeline"]
  }
  task "top" {
    uses        = "text.top"
    inputs      = { words = task.split.words, k = input.k }
    enable_deck = true
  }
  task "shout" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }

  # The join: expressions may combine the outputs of several tasks.
  task "summary" {
    uses = "text.join"
    inputs = {
      words = [
        "${task.count.n} words,",
        "${task.count.unique} distinct;",
        "top: ${join(", ", [for t in task.top.top : "${t.word} (${t.count})"])}",
      ]
      sep = " "
    }
  }

  task "ratio" {
    uses   = "math.div"
    inputs = { a = task.count.unique, b = task.count.n }
  }

  output "summary" { value = task.summary.text }
  output "distinct_ratio" { value = task.ratio.quotient }
  output "shout" { value = task.shout.text }
}
