# Sub-workflows: a task may call another workflow (uses = workflow.<name>),
# also for each element of a list; its outputs are used like a task's.
# The failure handler may be a workflow too.
#
#   goflyte run pipeline --input 'texts=["the cat sat", "on the mat"]'
workflow "pipeline" {
  description = "Run wordcount on each text, then add up the counts."

  input "texts" { type = list(string) }

  task "each" {
    uses     = workflow.wordcount # examples/workflows/wordcount.hcl
    for_each = input.texts
    inputs   = { text = each.value }
  }
  task "total" {
    uses   = "math.sum"
    inputs = { values = task.each.n }
  }

  output "counts" { value = task.each.n }
  output "total" { value = task.total.total }
}
