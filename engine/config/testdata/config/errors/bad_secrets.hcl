secrets {
  keychain_service         = "goflyte/dev"           # ERROR: Invalid value for setting
  keychain_timeout_seconds = -3                      # ERROR: Invalid value for setting
  fallback                 = "kwallet"               # ERROR: Invalid value for setting
  fallback_passphrase_env  = "MY PASSPHRASE"         # ERROR: Invalid value for setting
  fallback_dir             = ["a", "b"]              # ERROR: Invalid value for setting
}
