workflow "w" {
  task "a" {
    uses = "fake.secrets"
    secret {
      group = "github"
      key   = "../token" # ERROR: Invalid secret name
    }
    secret { # ERROR: Missing required argument
      group = "github"
    }
    secret {
      group = "a/b" # ERROR: Invalid secret name
      key   = "k"
    }
    secret {
      key   = "k"
      value = "hunter2" # ERROR: Unsupported argument
    }
    secret {
      key = "" # ERROR: Invalid secret name
    }
  }
}
