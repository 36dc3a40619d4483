# Every setting, set to a value other than its default.
# TestConfigValidFullSetsEveryKey checks that this file sets every key, so keep it
# in step with the settings table.
sdk {
  workflow_packages = ["workflows", "/srv/workflows"]
  local_sandbox     = "sandbox"
  logging_level     = "debug"
  log_format        = "json"
  plugin_dirs       = ["plugins", "~/plugins"]
  plugin_tls        = true
}

local {
  cache_enabled   = false
  cache_overwrite = true
  cache_dir       = "cache"
  raw_output_data_prefix = "s3://bucket/goflyte"
  project         = "flytesnacks"
  domain          = "development"
}

secrets {
  env_prefix               = "_FSEC_"
  default_dir              = "secrets"
  file_prefix              = "secret-"
  keychain_service         = "goflyte-test"
  keychain_timeout_seconds = 10
  fallback                 = "file"
  fallback_dir             = "keyring"
  fallback_passphrase_env  = "MY_KEYRING_PASSPHRASE"
  pass_dir                 = "~/.password-store-goflyte"
}

platform {
  url                  = "dns:///flyte.example.com:443"
  insecure             = true
  insecure_skip_verify = true
  console_endpoint     = "https://flyte.example.com/console"
  ca_cert_file_path    = "certs/ca.pem"
  http_proxy_url       = "http://proxy.example.com:3128"
  namespace            = "flyte-prod"
  task_queue           = "goflyte-prod"
  compression          = "gzip"
}

credentials {
  command                = ["gcloud", "auth", "print-access-token"]
  proxy_command          = ["iap-token"]
  client_id              = "goflyte"
  client_secret          = "file-client-secret"
  client_secret_location = "client_secret.txt"
  client_secret_env_var  = "MY_CLIENT_SECRET"
  scopes                 = ["all", "offline"]
  auth_mode              = "ClientSecret"
  audience               = "flyte"
  issuer                 = "https://login.example.com/"
}

aws {
  endpoint          = "http://localhost:30002"
  access_key_id     = "minio"
  secret_access_key = "miniostorage"
  addressing_style  = "path"
  enable_debug      = true
  retries           = 0
  backoff_seconds   = 10
}

azure {
  storage_account_name = "account"
  storage_account_key  = "account-key"
  tenant_id            = "tenant"
  client_id            = "client"
  client_secret        = "azure-client-secret"
}

gcp {
  gsutil_parallelism = true
}

statsd {
  host         = "statsd.example.com"
  port         = 9125
  disabled     = true
  disable_tags = true
  prefix       = "flyte.local"
}
