# Arithmetic over a list of numbers, with two independent branches.
#
#   goflyte run examples/workflows/stats.hcl --input 'values=[3, 1, 4, 1, 5, 9, 2, 6]'
workflow "stats" {
  description = "Sum, mean and spread of a list of numbers."

  input "values" {
    type        = list(number)
    description = "The numbers."
  }

  task "total" {
    uses   = "math.sum"
    inputs = { values = input.values }
  }
  task "mean" {
    uses   = "math.mean"
    inputs = { values = input.values }
  }
  task "spread" {
    uses   = "math.add"
    inputs = { a = max(input.values...), b = -min(input.values...) }
  }
  task "scaled" {
    uses   = "math.mul"
    inputs = { a = task.mean.mean, b = length(input.values) }
  }

  output "total" { value = task.total.total }
  output "mean" { value = task.mean.mean }
  output "spread" { value = task.spread.sum }
  output "check" {
    value       = task.scaled.product == task.total.total
    description = "mean × count equals the total."
  }
}
