# logging_level takes a name or one of Flytekit's numeric levels.
sdk {
  logging_level = "degub" # ERROR: Invalid value for setting
}
