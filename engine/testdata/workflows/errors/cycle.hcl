workflow "w" {
  task "a" { # ERROR: Dependency cycle
    uses   = "fake.echo"
    inputs = { s = task.c.s }
  }
  task "b" {
    uses   = "fake.echo"
    inputs = { s = task.a.s }
  }
  task "c" {
    uses       = "fake.echo"
    inputs     = { s = "x" }
    depends_on = [task.b]
  }
}
