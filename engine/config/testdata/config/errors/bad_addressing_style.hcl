aws {
  endpoint         = "http://localhost:30002"
  addressing_style = "domain" # ERROR: Invalid value for setting
}
