# The configuration file holds plain values: no variables or functions.
local {
  project = var.project  # ERROR: Variables not allowed
  domain  = lower("DEV") # ERROR: Function calls not allowed
}
