workflow "w" {
  input "nested" {
    type    = list(list(number))
    default = [[1, 2]]
  }
  task "scalar" {
    uses     = "fake.echo"
    for_each = 3 # ERROR: Invalid for_each
    inputs   = { s = "x" }
  }
  task "no_for_each" {
    uses   = "fake.echo"
    inputs = { s = each.value } # ERROR: each without for_each
  }
  task "bad_each" {
    uses     = "fake.echo"
    for_each = ["a"]
    inputs   = { s = each.val } # ERROR: Invalid each reference
  }
  task "bad_type" {
    uses     = "fake.echo"
    for_each = input.nested
    inputs   = { s = each.value } # ERROR: Incorrect input type
  }
  task "limits" {
    uses              = "fake.echo"
    for_each          = ["a"]
    inputs            = { s = each.value }
    max_parallel      = 0 # ERROR: Invalid max_parallel
    min_success_ratio = 2 # ERROR: Invalid min_success_ratio
  }
  task "lonely" {
    uses         = "fake.echo"
    inputs       = { s = "x" }
    max_parallel = 2 # ERROR: No for_each
  }
  task "downstream" {
    uses   = "fake.echo"
    inputs = { s = task.bad_each.s } # ERROR: Incorrect input type
  }
}
