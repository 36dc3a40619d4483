# A misspelt section name gets a suggestion; an unrelated one lists the sections.
sdkk { # ERROR: Unsupported configuration block
  logging_level = "debug"
}

plugins { # ERROR: Unsupported configuration block
  dirs = ["bin/plugins"]
}

local {
  project = "demo"
}
