# Unknown settings: a typo, a setting of another section, and nonsense.
sdk {
  loging_level = "debug" # ERROR: Unknown setting
}

aws {
  retrys  = 3         # ERROR: Unknown setting
  project = "demo"    # ERROR: Unknown setting
  colour  = "blue"    # ERROR: Unknown setting
  retries = 4
}
