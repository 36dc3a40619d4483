workflow "w" {
  task "no_version" {
    uses   = "fake.echo"
    inputs = { s = "x" }
    cache  = true # ERROR: Missing cache version
  }
  task "ignore_without_cache" {
    uses                = "fake.echo"
    inputs              = { s = "x" }
    cache_ignore_inputs = ["s"] # ERROR: Cache is not enabled
  }
  task "unknown_ignored" {
    uses                = "fake.add"
    inputs              = { a = 1, b = 2 }
    cache               = true
    cache_version       = "1"
    cache_ignore_inputs = ["c"] # ERROR: Unsupported input
  }
  task "bad_cache" {
    uses   = "fake.echo"
    inputs = { s = "x" }
    cache  = "maybe" # ERROR: Invalid cache
  }
  task "version_only" { # ERROR: Cache version without cache
    uses          = "fake.echo"
    inputs        = { s = "x" }
    cache_version = "2"
  }
}
