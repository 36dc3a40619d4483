aws {
  retries { # ERROR: Unsupported nested block
    count = 3
  }
}
