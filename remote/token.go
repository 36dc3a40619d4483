package remote

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TokenSource gives bearer tokens for calls to the service.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
	// Invalidate drops a token the service refused, so the next Token call gets a new one.
	Invalidate(token string)
}

// StaticToken is a TokenSource that always gives the same token; Invalidate
// does nothing. For tests and for tokens minted elsewhere.
type StaticToken string

// Token returns the token.
func (s StaticToken) Token(context.Context) (string, error) { return string(s), nil }

// Invalidate does nothing: there is no other token to get.
func (StaticToken) Invalidate(string) {}

// Metadata keys the credentials travel in.
const (
	authorizationHeader      = "authorization"
	proxyAuthorizationHeader = "proxy-authorization"
)

// credentials adds the bearer tokens of a connection to each call, and
// remembers the last token the service refused (for [DialError]'s
// message: never printed, only described).
type credentials struct {
	token, proxy TokenSource

	mu      sync.Mutex
	refused string // the token of the last refused call, "" after a success
}

func (c *credentials) noteRefused(tok string) {
	c.mu.Lock()
	c.refused = tok
	c.mu.Unlock()
}

// lastRefused returns the token of the last refused call, if the last
// call was refused.
func (c *credentials) lastRefused() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused
}

// prefetch gets the tokens before the connection is made, bounded by the
// caller's context only (an interactive login may take minutes, more than
// a dial timeout), so that a failure to get one is told apart from a
// failure to reach the service.
func (c *credentials) prefetch(ctx context.Context) *DialError {
	if c == nil {
		return nil
	}
	if c.proxy != nil {
		if _, err := c.proxy.Token(ctx); err != nil {
			return &DialError{Setting: "credentials.proxy_command", Hint: "it must print the proxy's token on stdout", Err: fmt.Errorf("get a proxy token: %w", err)}
		}
	}
	if c.token != nil {
		if _, err := c.token.Token(ctx); err != nil {
			return &DialError{Setting: "credentials", Hint: "goflyte could not get a token; goflyte doctor shows the credentials in use, goflyte login gets a token interactively", Err: fmt.Errorf("get a token: %w", err)}
		}
	}
	return nil
}

// refused reports whether a call was refused for its credentials, and
// whether the refusal may have come from a proxy: Temporal answers a
// missing or bad token with PermissionDenied "Request unauthorized.";
// Unauthenticated comes from other services and authenticating proxies.
func refused(err error) (refused, byProxy bool) {
	s, ok := status.FromError(err)
	if !ok {
		return false, false
	}
	switch {
	case s.Code() == codes.Unauthenticated:
		return true, true
	case s.Code() == codes.PermissionDenied && s.Message() == "Request unauthorized.":
		return true, false
	}
	return false, false
}

// withTokens returns ctx with the authorization headers set, and the
// tokens it used.
func (c *credentials) withTokens(ctx context.Context) (context.Context, string, string, error) {
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	var tok, ptok string
	var err error
	if c.token != nil {
		if tok, err = c.token.Token(ctx); err != nil {
			return ctx, "", "", fmt.Errorf("get a token for platform (credentials): %w", err)
		}
		md.Set(authorizationHeader, "Bearer "+tok)
	}
	if c.proxy != nil {
		if ptok, err = c.proxy.Token(ctx); err != nil {
			return ctx, "", "", fmt.Errorf("get a proxy token (credentials.proxy_command): %w", err)
		}
		md.Set(proxyAuthorizationHeader, "Bearer "+ptok)
	}
	return metadata.NewOutgoingContext(ctx, md), tok, ptok, nil
}

// unary sends the tokens with every call; a call refused for its
// credentials is tried once more after the tokens were invalidated.
func (c *credentials) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	cctx, tok, ptok, err := c.withTokens(ctx)
	if err != nil {
		return err
	}
	err = invoker(cctx, method, req, reply, cc, opts...)
	again, byProxy := refused(err)
	if !again {
		c.noteRefused("")
		return err
	}
	c.noteRefused(tok)
	if c.token == nil && (c.proxy == nil || !byProxy) {
		return err
	}
	if c.token != nil {
		c.token.Invalidate(tok)
	}
	if c.proxy != nil && byProxy {
		c.proxy.Invalidate(ptok)
	}
	cctx, tok, _, terr := c.withTokens(ctx)
	if terr != nil {
		return terr
	}
	err = invoker(cctx, method, req, reply, cc, opts...)
	if again, _ := refused(err); again {
		c.noteRefused(tok)
	} else {
		c.noteRefused("")
	}
	return err
}

// stream sends the tokens when a stream opens (Temporal's API has no
// streams today; this keeps a future one authorized).
func (c *credentials) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cctx, _, _, err := c.withTokens(ctx)
	if err != nil {
		return nil, err
	}
	return streamer(cctx, desc, cc, method, opts...)
}

// describeToken says what a refused token claims, for the message that
// explains the refusal: its expiry, audience and permissions when it is a
// JWT (read, not verified). Never the token itself, nor its subject.
func describeToken(tok string, now time.Time) string {
	parts := strings.Split(tok, ".")
	var claims struct {
		Exp         json.Number `json:"exp"`
		Aud         any         `json:"aud"`
		Permissions any         `json:"permissions"`
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(partOr(parts, 1), "="))
	if len(parts) != 3 || err != nil || json.Unmarshal(b, &claims) != nil {
		return "an opaque token, not a JWT: Temporal's claim mapper reads only JWTs"
	}
	var out []string
	if n, err := claims.Exp.Int64(); err == nil && n > 0 {
		exp := time.Unix(n, 0).UTC()
		if left := exp.Sub(now).Round(time.Second); left <= 0 {
			out = append(out, fmt.Sprintf("it expired at %s (%s ago)", exp.Format(time.RFC3339), -left))
		} else {
			out = append(out, fmt.Sprintf("it expires at %s", exp.Format(time.RFC3339)))
		}
	} else {
		out = append(out, "it has no exp")
	}
	out = append(out, "audience "+claimText(claims.Aud), "permissions "+claimText(claims.Permissions))
	return "a JWT: " + strings.Join(out, ", ")
}

func partOr(parts []string, i int) string {
	if i < len(parts) {
		return parts[i]
	}
	return ""
}

// claimText renders a string or list claim, "none" when absent.
func claimText(v any) string {
	switch x := v.(type) {
	case nil:
		return "none"
	case string:
		return fmt.Sprintf("%q", x)
	case []any:
		if len(x) == 0 {
			return "none"
		}
		b, _ := json.Marshal(x)
		return string(b)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
