package remote

import (
	"context"
	"fmt"

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

// credentials adds the bearer tokens of a connection to each call.
type credentials struct {
	token, proxy TokenSource
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
func (c credentials) withTokens(ctx context.Context) (context.Context, string, string, error) {
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
func (c credentials) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	cctx, tok, ptok, err := c.withTokens(ctx)
	if err != nil {
		return err
	}
	err = invoker(cctx, method, req, reply, cc, opts...)
	again, byProxy := refused(err)
	if !again || c.token == nil && (c.proxy == nil || !byProxy) {
		return err
	}
	if c.token != nil {
		c.token.Invalidate(tok)
	}
	if c.proxy != nil && byProxy {
		c.proxy.Invalidate(ptok)
	}
	cctx, _, _, terr := c.withTokens(ctx)
	if terr != nil {
		return terr
	}
	return invoker(cctx, method, req, reply, cc, opts...)
}

// stream sends the tokens when a stream opens (Temporal's API has no
// streams today; this keeps a future one authorized).
func (c credentials) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cctx, _, _, err := c.withTokens(ctx)
	if err != nil {
		return nil, err
	}
	return streamer(cctx, desc, cc, method, opts...)
}
