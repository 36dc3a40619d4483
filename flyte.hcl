# flyte.hcl: goflyte's engine configuration.
#
# goflyte uses the first of: the file given with --config, the file named by
# FLYTE_CONFIG, flyte.hcl in the current directory, and goflyte/flyte.hcl in
# your user config directory (~/.config/goflyte/flyte.hcl on Linux).
# Every setting is optional: delete what you don't need and the default applies.
# Lines starting with # are comments; the commented-out settings below show
# each default.
#
# Any setting can also come from the environment as FLYTE_<SECTION>_<KEY>,
# which wins over this file, for example:
#
#   FLYTE_SDK_LOGGING_LEVEL=debug goflyte run ...
#   FLYTE_LOCAL_CACHE_ENABLED=false goflyte run ...
#
# Run `goflyte config show` to see every effective value and where it came from.
#
# Relative paths in this file are relative to this file's directory;
# "~/" means your home directory.

# sdk: where workflows and plugins live, and how chatty goflyte is.
sdk {
  # Directories that hold workflow files. Default: none.
  workflow_packages = ["examples/workflows"]

  # Directories searched, in order, for plugin binaries (goflyte-plugin-<name>).
  # Default: "plugins" next to the goflyte binary, then goflyte/plugins in your
  # user config directory (e.g. ~/.config/goflyte/plugins).
  # `make plugins` builds the example plugins into bin/plugins.
  plugin_dirs = ["bin/plugins"]

  # Talk to plugins over mutual TLS 1.3, with certificates made for each
  # launch (about 0.4 ms each; see make bench). Default: false.
  # plugin_tls = true

  # debug, info, warn or error (Flytekit's 10, 20, 30 and 40 work too). Default: "warn".
  logging_level = "warn"

  # goflyte's own log on stderr: "text" (hclog's human format) or "json"
  # (one JSON object per line, for log collectors). Default: "text".
  log_format = "text"

  # Run records, task working directories and local data.
  # Default: <user cache dir>/goflyte/sandbox, e.g. ~/.cache/goflyte/sandbox.
  # local_sandbox = ".goflyte/sandbox"
}

# local: how workflows run on this machine.
local {
  # Reuse results of cacheable tasks whose inputs have not changed. Default: true.
  cache_enabled = true

  # Re-run cacheable tasks and replace their cached results. Default: false.
  # Handy for one run: FLYTE_LOCAL_CACHE_OVERWRITE=true goflyte run ...
  # cache_overwrite = false

  # Where cached results live. Default: "cache" in sdk.local_sandbox.
  # cache_dir = "~/.cache/goflyte/cache"

  # Where runs keep the files and directories tasks return: each run gets
  # <prefix>/<run name>. A local directory, or a bucket (s3://bucket/prefix,
  # gs://..., azblob://container/prefix) reached with the aws, gcp and azure
  # settings below. Default: "data" in each run's sandbox directory.
  # Override per run with --raw-output-data-prefix.
  # raw_output_data_prefix = "s3://my-bucket/goflyte"

  # Project and domain of local executions; no ":" or "/". Default: "local" for both.
  project = "local"
  domain  = "local"
}

# secrets: where tasks' secrets are looked up, in this order; the first hit
# wins, and only "not found" moves on (a broken backend stops the lookup):
#   1. the environment: env_prefix + GROUP_KEY, e.g. FLYTE_SECRETS_GITHUB_TOKEN;
#   2. in local runs, the same without the prefix: GITHUB_TOKEN;
#   3. a file per secret: default_dir/group/[version/]file_prefix + key;
#   4. the OS keychain (service keychain_service, account "group/key"), set with
#      `goflyte secrets set GROUP KEY`; or, where there is no keychain
#      (headless Linux, SSH, containers), the configured fallback.
# Settings here are overridden by FLYTE_SECRETS_<SETTING>, so no secret can be
# named after one (e.g. group "keychain", key "service").
# secrets {
#   env_prefix  = "FLYTE_SECRETS_"  # default
#   default_dir = "/etc/secrets"    # default
#   file_prefix = ""                # default; prepended to file names in default_dir
#
#   keychain_service         = "goflyte"  # default; no ":" or "/"
#   keychain_timeout_seconds = 3          # default; a missing or hung D-Bus fails after this
#
#   # What replaces the OS keychain when it is unreachable (no D-Bus session
#   # bus, no Secret Service). goflyte says once which one it uses and why.
#   #   ""        no fallback: lookups that reach the keychain fail, saying why
#   #   "file"    encrypted files in fallback_dir; the passphrase comes from the
#   #             variable fallback_passphrase_env names, or is asked on the terminal
#   #   "pass"    the pass password store in pass_dir (after pass init)
#   #   "keyctl"  the Linux kernel keyring: no passphrase, but lost at reboot
#   #   "auto"    pass if it is set up, else file
#   fallback                = ""                            # default
#   fallback_dir            = ""                            # default: <user config dir>/goflyte/keyring
#   fallback_passphrase_env = "GOFLYTE_KEYRING_PASSPHRASE"  # default
#   pass_dir                = ""                            # default: $PASSWORD_STORE_DIR or ~/.password-store
# }

# platform: the Temporal service that runs workflows on many machines
# (goflyte worker, run --remote). Not needed to run locally. `goflyte doctor`
# checks it when url is set. Each key has a FLYTE_PLATFORM_<KEY> variable.
# platform {
#   url                  = "localhost:30080"  # default; the Temporal frontend, host:port;
#                                             # a leading "dns:///" is removed
#   insecure             = false              # default: TLS; true for plaintext (a dev server)
#   insecure_skip_verify = false              # default; true accepts any certificate
#   console_endpoint     = ""                 # default; URL of the web console (Temporal's UI)
#   ca_cert_file_path    = ""                 # default; PEM file of extra trusted CAs
#   http_proxy_url       = ""                 # default; "http://[user:pass@]host:port": gRPC
#                                             # tunnels through it with HTTP CONNECT
#   namespace            = "default"          # default; the Temporal namespace (FLYTE_PLATFORM_NAMESPACE)
#   task_queue           = "goflyte"          # default; task queue prefix, one queue per
#                                             # plugin: "<task_queue>.<plugin>" (FLYTE_PLATFORM_TASK_QUEUE)
#   compression          = "none"             # default; or "gzip" for a slow link: compresses
#                                             # every gRPC call at a CPU cost in client and
#                                             # server (FLYTE_PLATFORM_COMPRESSION)
# }

# credentials: how goflyte authenticates to the remote engine (Temporal);
# see "Authentication" in the README. Tokens are cached in the OS keychain
# (service "<keychain_service>-tokens"), never where tasks' secrets are.
# credentials {
#   auth_mode              = "standard"  # default (PKCE in a browser); or basic, client_credentials,
#                                        # ClientSecret (client credentials), DeviceFlow,
#                                        # ExternalCommand, external_process (the command below)
#   issuer                 = ""          # default; goflyte's own: the OIDC issuer URL whose
#                                        # discovery document gives the endpoints
#   client_id              = ""          # default
#   client_secret          = ""          # default; better: client_secret_location or
#                                        # FLYTE_CREDENTIALS_CLIENT_SECRET, never commit a secret
#   client_secret_location = ""          # default; a file holding the client secret
#   client_secret_env_var  = ""          # default; an environment variable holding it
#   scopes                 = []          # default
#   audience               = ""          # default
#   command                = []          # default; prints a token, e.g. ["gcloud", "auth", "print-access-token"]
#   proxy_command          = []          # default; prints a token for an authenticating proxy
# }

# aws: S3 or S3-compatible storage (MinIO, for example).
# aws {
#   endpoint          = ""     # default; e.g. "http://localhost:30002" for a sandbox MinIO
#   access_key_id     = ""     # default
#   secret_access_key = ""     # default; prefer FLYTE_AWS_SECRET_ACCESS_KEY
#   addressing_style  = ""     # default; or "path", "virtual", "auto"
#   enable_debug      = false  # default
#   retries           = 3      # default; whole number, at least 0
#   backoff_seconds   = 5      # default; whole seconds between retries
# }

# azure: Azure Blob Storage.
# azure {
#   storage_account_name = ""  # default
#   storage_account_key  = ""  # default; prefer FLYTE_AZURE_STORAGE_ACCOUNT_KEY
#   tenant_id            = ""  # default
#   client_id            = ""  # default
#   client_secret        = ""  # default; prefer FLYTE_AZURE_CLIENT_SECRET
# }

# gcp: Google Cloud Storage.
# gcp {
#   gsutil_parallelism = false  # default; true runs gsutil with -m
# }

# statsd: send metrics to a StatsD server over UDP as they happen. Tasks'
# counters, gauges and timers (sdk.Params(ctx).Stats()) and the engine's own
# per-task metrics (engine.task.duration, .retries, .cache_hits, .cache_misses,
# .failures) are always kept in the run record (goflyte runs show RUN); they
# are also sent when a host is set and disabled is false. Sending never slows
# or fails a task. Flytekit reads host, port, disabled and disable_tags from
# its secrets section (and FLYTE_SECRETS_HOST, ...): goflyte accepts those too,
# with a warning, when this block and FLYTE_STATSD_* do not set them.
# statsd {
#   host         = ""         # default: none, nothing is sent; e.g. "localhost"
#   port         = 8125       # default; UDP
#   disabled     = false      # default; true keeps metrics local even with a host
#   disable_tags = false      # default; true sends names without their tags
#   prefix       = "goflyte"  # default; starts every name sent, e.g. goflyte.rows
# }
