# Branches: the first case whose condition is true runs (its tasks, and
# branches nested in it); the others never run. A case may fail the run.
#
#   goflyte run classify --input text="short and sweet"
workflow "classify" {
  description = "Summarise a long text by its top words, shout a short one, refuse an empty one."

  input "text" { type = string }

  task "split" {
    uses   = "text.split"
    inputs = { text = input.text }
  }
  task "count" {
    uses   = "text.count"
    inputs = { words = task.split.words }
  }

  branch "size" {
    case {
      if = task.count.n > 12
      task "top" {
        uses   = "text.top"
        inputs = { words = task.split.words, k = 3 }
      }
      output "summary" { value = "top words: ${join(", ", [for t in task.top.top : t.word])}" }
    }
    case {
      if   = task.count.n == 0
      fail = "the text is empty"
    }
    default {
      task "shout" {
        uses   = "text.upper"
        inputs = { text = input.text }
      }
      output "summary" { value = task.shout.text }
    }
  }

  # Outputs every arm gives are the branch's outputs.
  output "summary" { value = branch.size.summary }
}
