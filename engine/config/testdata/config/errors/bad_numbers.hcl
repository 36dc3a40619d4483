# Retries and backoff are whole numbers, at least 0.
aws {
  retries         = -1   # ERROR: Invalid value for setting
  backoff_seconds = 2.5  # ERROR: Invalid value for setting
}
