credentials {
  client_id = "goflyte"
  auth_mode = "pkse" # ERROR: Invalid value for setting
}
