workflow "a" {
  on_failure = "fake.nope" # ERROR: Unknown task
  task "t" {
    uses   = "fake.echo"
    inputs = { s = "x" }
  }
}
workflow "b" {
  on_failure = "fake.needs_x" # ERROR: Unsuitable failure handler
}
workflow "c" {
  input "x" { type = list(string) }
  on_failure = "fake.needs_x" # ERROR: Unsuitable failure handler
}
workflow "d" {
  on_failure = "nothing" # ERROR: Invalid on_failure
}
