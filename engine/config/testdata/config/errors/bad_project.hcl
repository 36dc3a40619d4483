# Project and domain must be non-empty names without ":" or "/".
local {
  project = ""         # ERROR: Invalid value for setting
  domain  = "dev/test" # ERROR: Invalid value for setting
}
