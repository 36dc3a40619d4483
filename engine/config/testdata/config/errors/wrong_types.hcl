# Values of the wrong type; each diagnostic says which type is expected.
sdk {
  plugin_dirs       = "bin/plugins" # ERROR: Invalid value for setting
  workflow_packages = [["nested"]]  # ERROR: Invalid value for setting
}

local {
  cache_enabled = "maybe"    # ERROR: Invalid value for setting
  project       = ["a", "b"] # ERROR: Invalid value for setting
}

aws {
  retries      = "lots"      # ERROR: Invalid value for setting
  enable_debug = { on = true } # ERROR: Invalid value for setting
}

credentials {
  client_secret = ["hunter2"] # ERROR: Invalid value for setting
}
