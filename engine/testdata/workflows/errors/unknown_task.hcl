workflow "w" {
  task "a" {
    uses   = "fake.ech" # ERROR: Unknown task
    inputs = { s = "x" }
  }
}
