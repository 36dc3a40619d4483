workflow "w" {
  input "text" { type = string }
  task "split" {
    uses   = "fake.words"
    inputs = { text = input.text }
  }
  task "count" {
    uses   = "fake.count"
    inputs = { words = task.split.word } # ERROR: Unknown task output
  }
  output "n" {
    value = task.count.count # ERROR: Unknown task output
  }
  output "m" {
    value = upperr(input.text) # ERROR: Call to unknown function
  }
}
