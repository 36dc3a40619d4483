workflow "w" {
  task "a" {
    uses    = "fake.echo"
    inputs  = { s = "x" }
    retries = -1 # ERROR: Invalid retries
  }
  task "b" {
    uses    = "fake.echo"
    inputs  = { s = "x" }
    retries = 1.5 # ERROR: Invalid retries
  }
  task "c" {
    uses    = "fake.echo"
    inputs  = { s = "x" }
    timeout = "soon" # ERROR: Invalid timeout
  }
  task "d" {
    uses          = "fake.echo"
    inputs        = { s = "x" }
    retry_backoff = "-1s" # ERROR: Invalid retry_backoff
  }
  task "ok" {
    uses          = "fake.echo"
    inputs        = { s = "x" }
    retries       = 3
    retry_backoff = "10ms"
    timeout       = "1m30s"
  }
}
