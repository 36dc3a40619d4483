# A file that does not parse reports only the syntax error.
local {
  project = # ERROR: Invalid expression
}
