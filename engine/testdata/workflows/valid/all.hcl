# Every feature of the workflow language that needs no special plugin.
workflow "all" {
  description = "exercises inputs, references, functions and depends_on"

  input "text" {
    type        = string
    description = "some words"
  }
  input "extra" {
    type    = list(string)
    default = ["x"]
  }
  input "cfg" {
    type    = object({ label = string, n = number })
    default = { label = "L", n = 2 }
  }

  task "split" {
    uses   = "fake.words"
    inputs = { text = input.text }
  }
  task "count" {
    uses   = "fake.count"
    inputs = { words = concat(task.split.words, input.extra) }
  }
  task "label" {
    uses = "fake.opt"
    inputs = {
      x     = input.cfg.n * task.count.n
      label = format("%s-%d", input.cfg.label, task.count.n)
    }
  }
  task "after" {
    uses       = "fake.echo"
    inputs     = { "s" = upper(join(" ", [for w in task.split.words : w if w != "x"])) }
    depends_on = [task.label]
  }
  output "count" { value = task.count.n }
  output "label" { value = task.label.label }
  output "all"   { value = task.after }
}
