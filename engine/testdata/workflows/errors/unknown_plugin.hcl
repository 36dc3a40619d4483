workflow "w" {
  task "a" {
    uses   = "fak.echo" # ERROR: Unknown plugin
    inputs = { s = "x" }
  }
}
