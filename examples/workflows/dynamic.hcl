# Dynamic and eager tasks: tasks that decide at run time what else runs.
#
#   goflyte run dynamic --input 'texts=["to be or not", "to be"]'
workflow "dynamic" {
  description = "Count words with a dynamic task, shout with an eager one."

  input "texts" { type = list(string) }

  # text.count_each returns a graph (a split and a count per text) that
  # the engine validates and runs (LOCAL_DYNAMIC_TASK_EXECUTION).
  task "counts" {
    uses   = "text.count_each"
    inputs = { texts = input.texts }
  }

  # text.shout_all runs text.upper through the engine for each text, all
  # at once (EAGER_LOCAL_EXECUTION); the calls are its children in the
  # run record.
  task "shouts" {
    uses   = "text.shout_all"
    inputs = { texts = input.texts }
  }

  output "counts" { value = task.counts.counts }
  output "shouts" { value = task.shouts.shouts }
}
