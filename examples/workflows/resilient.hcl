# Retries, timeouts and a failure handler.
#
#   goflyte run resilient --input text="hello"
workflow "resilient" {
  description = "Retry a flaky step, bound a slow one, and report any failure."

  input "text" { type = string }

  # Runs after a task fails, with the workflow's inputs and err.
  on_failure = workflow.report_failure

  task "shout" {
    uses          = "text.upper"
    inputs        = { text = input.text }
    retries       = 3      # for retryable errors, plugin crashes and timeouts
    retry_backoff = "200ms" # doubled for each retry
    timeout       = "10s"  # per attempt
  }

  output "shout" { value = task.shout.text }
}

workflow "report_failure" {
  input "text" { type = string }
  input "err" { type = object({ failed_node = string, message = string }) }

  task "log" {
    uses   = "text.join"
    inputs = { words = ["failed:", input.err.failed_node, "for", input.text], sep = " " }
  }
}
