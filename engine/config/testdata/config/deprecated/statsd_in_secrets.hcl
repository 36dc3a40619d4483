# Flytekit's StatsD settings, written where Flytekit reads them: in the
# secrets section. goflyte reads them as statsd settings and warns.
secrets {
  default_dir  = "/etc/secrets"
  host         = "statsd.example.com" # WARNING: Deprecated setting in the secrets block
  port         = 9125                 # WARNING: Deprecated setting in the secrets block
  disable_tags = true                 # WARNING: Deprecated setting in the secrets block
  disabled     = true                 # WARNING: Deprecated setting in the secrets block
}

statsd {
  disabled = false # wins over secrets.disabled, wherever the blocks are
}
