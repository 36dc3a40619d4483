# Every problem in a file is reported at once.
sdk {
  logging_level = "loud"  # ERROR: Invalid value for setting
  plugin_dir    = ["bin"] # ERROR: Unknown setting
}

local {
  cache_enabled = "maybe" # ERROR: Invalid value for setting
}

aws {
  retries = 1.5 # ERROR: Invalid value for setting
}

gpc { # ERROR: Unsupported configuration block
}

local { # ERROR: Duplicate configuration block
}
