# Sign a message with a secret key, then verify the signature. The key is
# the secret signing/key; see examples/sign/README.md for where to put it:
#
#   FLYTE_SECRETS_SIGNING_KEY=k3y goflyte run signed --input message=hello
workflow "signed" {
  description = "Sign a message with the secret signing/key and verify it."

  input "message" { type = string }

  task "sign" {
    uses   = "sign.hmac"
    inputs = { message = input.message }
  }
  task "check" {
    uses   = "sign.verify"
    inputs = { message = input.message, signature = task.sign.signature }
  }

  output "signature" { value = task.sign.signature }
  output "valid" { value = task.check.valid }
}
