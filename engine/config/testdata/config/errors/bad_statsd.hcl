statsd {
  host   = ["a"]         # ERROR: Invalid value for setting
  port   = "udp"         # ERROR: Invalid value for setting
  prefix = "my app:"     # ERROR: Invalid value for setting
  tags   = true          # ERROR: Unknown setting
}

secrets {
  prefix = "goflyte" # ERROR: Unknown setting
}
