workflow "w" {
  input "text" { type = string }
  input "n" { type = number }
  task "split" {
    uses   = "fake.words"
    inputs = { text = input.text }
  }
  task "count" {
    uses   = "fake.count"
    inputs = { words = input.text } # ERROR: Incorrect input type
  }
  task "sum" {
    uses   = "fake.add"
    inputs = {
      a = task.split.words # ERROR: Incorrect input type
      b = input.n
    }
  }
  task "ok" {
    uses = "fake.add"
    inputs = {
      a = length(task.split.words)
      b = "2"
    }
  }
  task "bad_default" {
    uses   = "fake.echo"
    inputs = { s = { a = 1 } } # ERROR: Incorrect input type
  }
}
