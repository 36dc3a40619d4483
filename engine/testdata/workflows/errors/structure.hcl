workflow "w" {
  task "a" {
    uses = "echo" # ERROR: Invalid uses
    inputs = { s = "x" }
  }
  task "a" { # ERROR: Duplicate task
    uses = "fake.echo"
  }
  task "b" { # ERROR: Missing required argument
    inputs = { s = "x" }
  }
  task "c" {
    uses    = "fake.echo"
    inputs  = { s = "x" }
    retry   = 3 # ERROR: Unsupported argument
  }
  input "n" {
    type    = number
    default = "many" # ERROR: Invalid default value
  }
  input "t" {
    type = strin # ERROR: Invalid type specification
  }
  output "o" { # ERROR: Missing required argument
    description = "no value"
  }
  thing "x" {} # ERROR: Unsupported block type
}
workflow "w" {} # ERROR: Duplicate workflow
workflow "9bad" {} # ERROR: Invalid workflow name
