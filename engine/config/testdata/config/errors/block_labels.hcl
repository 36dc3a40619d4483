# Sections take no labels.
sdk "main" { # ERROR: Unexpected block label
  logging_level = "info"
}

aws "us" "east" { # ERROR: Unexpected block label
  retries = 2
}
