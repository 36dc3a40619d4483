workflow "w" {
  task "a" {
    uses = "fake.echo"
    inputs = { # ERROR: Missing required input
      ss = "x" # ERROR: Unsupported input
    }
  }
  task "b" {
    uses   = "fake.add"
    inputs = { a = 1, b = 2, c = 3 } # ERROR: Unsupported input
  }
  task "c" {
    uses = "fake.echo"
    inputs = {
      s = "x"
      s = "y" # ERROR: Duplicate input
    }
  }
  task "d" {
    uses   = "fake.echo"
    inputs = ["s"] # ERROR: Invalid inputs
  }
}
