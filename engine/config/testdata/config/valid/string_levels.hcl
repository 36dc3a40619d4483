sdk {
  logging_level = "WARNING"
}

platform {
  url = "flyte.example.com:443"
}
