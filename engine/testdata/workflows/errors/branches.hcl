workflow "w" {
  input "n" { type = number }
  branch "b" {
    case {
      if = "maybe" # ERROR: Invalid condition
      task "inside" {
        uses   = "fake.echo"
        inputs = { s = "x" }
      }
      output "o" { value = task.inside.s }
    }
    default {
      output "p" { value = "y" }
    }
  }
  task "outside" {
    uses   = "fake.echo"
    inputs = { s = task.inside.s } # ERROR: Reference into a branch
  }
  task "uses_o" {
    uses   = "fake.echo"
    inputs = { s = branch.b.o } # ERROR: Unknown branch output
  }
  task "nob" {
    uses   = "fake.echo"
    inputs = { s = branch.c.o } # ERROR: Reference to undeclared branch
  }
  branch "empty" {} # ERROR: Empty branch
  branch "b2" {
    default { # ERROR: Misplaced default
      output "o" { value = "z" }
    }
    case {
      if = true
      fail = "no" # ERROR: Failing arm with work
      task "t2" {
        uses = "fake.echo"
        inputs = { s = "x" }
      }
    }
  }
  task "b" { # ERROR: Duplicate task
    uses   = "fake.echo"
    inputs = { s = "x" }
  }
}
workflow "cyc" { # ERROR: Dependency cycle
  branch "loop" {
    case {
      if = task.after.s == "x"
      output "o" { value = "y" }
    }
  }
  task "after" {
    uses   = "fake.echo"
    inputs = { s = branch.loop.o }
  }
}
workflow "mixed" {
  branch "m" { # ERROR: Inconsistent branch output
    case {
      if = true
      output "o" { value = ["a"] }
    }
    default {
      output "o" { value = { k = "v" } }
    }
  }
}
