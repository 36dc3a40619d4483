workflow "w" {
  input "text" { type = string }
  task "split" {
    uses   = "fake.words"
    inputs = { text = input.txt } # ERROR: Reference to undeclared input
  }
  task "count" {
    uses   = "fake.count"
    inputs = { words = task.splt.words } # ERROR: Reference to undeclared task
  }
  task "echo" {
    uses   = "fake.echo"
    inputs = { s = var.text } # ERROR: Unknown reference
  }
  task "self" {
    uses   = "fake.echo"
    inputs = { s = task.self.s } # ERROR: Self-referential task
  }
  task "dep" {
    uses       = "fake.echo"
    inputs     = { s = "x" }
    depends_on = [
      task.nope, # ERROR: Reference to undeclared task
      "split",   # ERROR: Invalid depends_on
    ]
  }
}
