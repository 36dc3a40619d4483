# Each section may appear only once.
local {
  project = "first"
}

sdk {
  logging_level = "info"
}

local { # ERROR: Duplicate configuration block
  domain = "second"
}
