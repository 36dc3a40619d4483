# Fan-out: one instance of a task per element of a list (or map), their
# outputs collected into a list (or map) for the tasks after them.
#
#   goflyte run fanout --input 'texts=["to be or not to be", "let it be", "be here now"]'
workflow "fanout" {
  description = "Count the words of several texts in parallel, then add the counts."

  input "texts" {
    type        = list(string)
    description = "The texts to count."
  }

  task "count" {
    uses         = "text.count"
    for_each     = input.texts
    inputs       = { words = split(" ", each.value) }
    max_parallel = 4 # at most 4 instances at once
  }

  task "total" {
    uses   = "math.sum"
    inputs = { values = task.count.n } # list(number): one count per text
  }

  output "counts" { value = task.count.n }
  output "total" { value = task.total.total }
}
