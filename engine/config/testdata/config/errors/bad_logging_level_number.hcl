# 15 is not one of Flytekit's levels 10, 20, 30 and 40.
sdk {
  logging_level = 15 # ERROR: Invalid value for setting
}
