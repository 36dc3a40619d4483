# Shows the execution parameters every task gets (sdk.Params(ctx)): the
# same execution id and date for all tasks of a run, a fresh working
# directory for each.
workflow "params" {
  task "first" { uses = "text.env" }
  task "second" { uses = "text.env" }

  output "first" { value = task.first }
  output "second" { value = task.second }
}
