# Spellings that are accepted and normalised.
sdk {
  logging_level = 20     # Flytekit's numeric level: "info"
  plugin_dirs   = []
}

credentials {
  auth_mode = "PKCE"     # any case: "Pkce"
  scopes    = null       # null keeps the default
}

aws {
  addressing_style = "Virtual"
  retries          = "4" # HCL converts "4" to a number
  backoff_seconds  = 7.0
}

local {
  project = 42           # and numbers to strings
}
