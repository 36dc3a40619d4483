// Command goflyte-plugin-sign is an example goflyte plugin that uses a
// secret: it signs messages with HMAC-SHA256 under a key that the engine
// resolves from the secrets chain (env, files, OS keychain) and sends to
// the task. The key never leaves the task: only signatures do.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"github.com/goflyte/goflyte/sdk"
)

// signingKey is the secret the hmac task always needs. A workflow may
// declare more secrets for a task with secret blocks.
var signingKey = sdk.SecretRequest{Group: "signing", Key: "key"}

type hmacIn struct {
	Message string `json:"message" desc:"The message to sign."`
	// Group and Key optionally name another secret to sign with; the
	// workflow must declare it for the task in a secret block.
	Group string `json:"group,omitempty" desc:"The group of the key to sign with (default: signing)."`
	Key   string `json:"key,omitempty" desc:"The name of the key to sign with (default: key)."`
}

type hmacOut struct {
	Signature string `json:"signature" desc:"HMAC-SHA256 of the message, hex."`
	KeyID     string `json:"key_id" desc:"Which key signed: group/key."`
}

func sign(ctx context.Context, in hmacIn) (hmacOut, error) {
	group, key := signingKey.Group, signingKey.Key
	if in.Key != "" {
		group, key = in.Group, in.Key
	}
	secret, err := sdk.Params(ctx).Secrets().GetBytes(group, key)
	if err != nil {
		return hmacOut{}, err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(in.Message))
	sdk.Logger(ctx).Info("signed a message", "bytes", len(in.Message), "key", group+"/"+key)
	return hmacOut{Signature: hex.EncodeToString(mac.Sum(nil)), KeyID: group + "/" + key}, nil
}

type verifyIn struct {
	Message   string `json:"message" desc:"The message that was signed."`
	Signature string `json:"signature" desc:"The signature to check, hex."`
}

type verifyOut struct {
	Valid bool `json:"valid" desc:"Whether the signature is the message's HMAC under the signing key."`
}

func verify(ctx context.Context, in verifyIn) (verifyOut, error) {
	secret, err := sdk.Params(ctx).Secrets().GetBytes(signingKey.Group, signingKey.Key)
	if err != nil {
		return verifyOut{}, err
	}
	got, err := hex.DecodeString(in.Signature)
	if err != nil {
		return verifyOut{}, sdk.AttrError("signature", "Invalid signature", "The signature must be hex: "+err.Error()+".")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(in.Message))
	return verifyOut{Valid: hmac.Equal(got, mac.Sum(nil))}, nil
}

func main() {
	sdk.ServeWithOptions(sdk.Options{Name: "sign", Version: "1.0.0"}, map[string]sdk.Task{
		"hmac": sdk.Func(sign).
			WithDoc("Signs a message with HMAC-SHA256 under the secret signing/key (or the key named by group and key).").
			WithSecrets(signingKey),
		"verify": sdk.Func(verify).
			WithDoc("Checks an HMAC-SHA256 signature under the secret signing/key.").
			WithSecrets(signingKey),
	})
}
