# The smallest useful workflow: split a text into words, then count them.
#
#   goflyte run examples/workflows/wordcount.hcl --input text="to be or not to be"
workflow "wordcount" {
  description = "Count the words of a text."

  input "text" {
    type        = string
    description = "The text to count."
  }

  task "split" {
    uses   = "text.split" # <plugin>.<task>
    inputs = { text = input.text }
  }

  task "count" {
    uses   = "text.count"
    inputs = { words = task.split.words }
  }

  output "n" {
    value       = task.count.n
    description = "How many words the text has."
  }
}
