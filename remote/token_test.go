package remote

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// rotatingToken gives "tok-N", N counting Invalidate calls.
type rotatingToken struct {
	n           int
	invalidated []string
}

func (r *rotatingToken) Token(context.Context) (string, error) {
	return "tok-" + string(rune('0'+r.n)), nil
}

func (r *rotatingToken) Invalidate(tok string) {
	r.invalidated = append(r.invalidated, tok)
	r.n++
}

// TestCredentialsUnary checks the interceptor with a fake invoker: which
// headers a call carries, and when it is tried again.
func TestCredentialsUnary(t *testing.T) {
	unauthorized := status.Error(codes.PermissionDenied, "Request unauthorized.")
	tests := []struct {
		name        string
		answers     []error // the fake server's answers, in order
		proxy       bool
		wantCalls   int
		wantErr     codes.Code
		wantAuth    []string // authorization header of each call
		wantInval   int      // Invalidate calls on the token
		wantProxyIn int      // Invalidate calls on the proxy token
	}{
		{name: "accepted", answers: []error{nil}, wantCalls: 1, wantAuth: []string{"Bearer tok-0"}},
		{name: "refused then accepted", answers: []error{unauthorized, nil}, wantCalls: 2, wantAuth: []string{"Bearer tok-0", "Bearer tok-1"}, wantInval: 1},
		{name: "refused twice", answers: []error{unauthorized, unauthorized}, wantCalls: 2, wantErr: codes.PermissionDenied, wantAuth: []string{"Bearer tok-0", "Bearer tok-1"}, wantInval: 1},
		{name: "other permission denied is not retried", answers: []error{status.Error(codes.PermissionDenied, "Namespace is not active.")}, wantCalls: 1, wantErr: codes.PermissionDenied, wantAuth: []string{"Bearer tok-0"}},
		{name: "unavailable is not retried here", answers: []error{status.Error(codes.Unavailable, "down")}, wantCalls: 1, wantErr: codes.Unavailable, wantAuth: []string{"Bearer tok-0"}},
		{name: "unauthenticated renews both", answers: []error{status.Error(codes.Unauthenticated, "proxy says no"), nil}, proxy: true, wantCalls: 2, wantAuth: []string{"Bearer tok-0", "Bearer tok-1"}, wantInval: 1, wantProxyIn: 1},
		{name: "temporal's refusal keeps the proxy token", answers: []error{unauthorized, nil}, proxy: true, wantCalls: 2, wantAuth: []string{"Bearer tok-0", "Bearer tok-1"}, wantInval: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, ptok := &rotatingToken{}, &rotatingToken{}
			cr := credentials{token: tok}
			if tc.proxy {
				cr.proxy = ptok
			}
			var auth, proxyAuth []string
			calls := 0
			invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				md, _ := metadata.FromOutgoingContext(ctx)
				auth = append(auth, md.Get("authorization")...)
				proxyAuth = append(proxyAuth, md.Get("proxy-authorization")...)
				calls++
				return tc.answers[calls-1]
			}
			ctx := metadata.AppendToOutgoingContext(context.Background(), "client-name", "goflyte")
			err := cr.unary(ctx, "/temporal.api.workflowservice.v1.WorkflowService/DescribeNamespace", nil, nil, nil, invoker)
			if status.Code(err) != tc.wantErr {
				t.Errorf("error %v, want code %v", err, tc.wantErr)
			}
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if len(auth) != len(tc.wantAuth) {
				t.Fatalf("authorization headers %q, want %q", auth, tc.wantAuth)
			}
			for i := range auth {
				if auth[i] != tc.wantAuth[i] {
					t.Errorf("call %d: authorization %q, want %q", i, auth[i], tc.wantAuth[i])
				}
			}
			if tc.proxy && len(proxyAuth) != calls {
				t.Errorf("proxy-authorization on %d of %d calls", len(proxyAuth), calls)
			}
			if !tc.proxy && len(proxyAuth) != 0 {
				t.Errorf("proxy-authorization sent without a proxy token: %q", proxyAuth)
			}
			if len(tok.invalidated) != tc.wantInval || len(ptok.invalidated) != tc.wantProxyIn {
				t.Errorf("invalidated %d tokens and %d proxy tokens, want %d and %d", len(tok.invalidated), len(ptok.invalidated), tc.wantInval, tc.wantProxyIn)
			}
			// The caller's own metadata travels on.
			if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get("authorization")) != 0 {
				t.Error("the caller's context was changed")
			}
		})
	}
}

// TestDescribeToken: what a refusal says about a token, from its claims;
// never the token, its signature or its subject.
func TestDescribeToken(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	jwt := func(claims string) string {
		return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".c2lnbmF0dXJl"
	}
	tests := []struct {
		name, token string
		want        []string
	}{
		{"opaque", "0123456789abcdef", []string{"opaque token, not a JWT"}},
		{"not JSON", "a.b.c", []string{"opaque token"}},
		{"valid", jwt(`{"sub":"alice","exp":1796202000,"aud":["ci","temporal"],"permissions":["default:admin"]}`),
			[]string{"expires at 2026-12-02T09:00:00Z", `audience ["ci","temporal"]`, `permissions ["default:admin"]`}},
		{"expired", jwt(`{"sub":"alice","exp":1796194800,"aud":"temporal"}`),
			[]string{"expired at 2026-12-02T07:00:00Z (1h0m0s ago)", `audience "temporal"`, "permissions none"}},
		{"no exp", jwt(`{"sub":"alice","permissions":[]}`), []string{"no exp", "audience none", "permissions none"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := describeToken(tc.token, now)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("describeToken = %q, want %q in it", got, w)
				}
			}
			if strings.Contains(got, "alice") || strings.Contains(got, "c2lnbmF0dXJl") || (len(tc.token) > 20 && strings.Contains(got, tc.token)) {
				t.Errorf("describeToken shows the subject or the token: %q", got)
			}
		})
	}
}

// TestRefusalHint: a refusal names the setting to change. An
// Unauthenticated answer comes from a proxy in front of Temporal, so
// without a proxy token it names proxy_command, not the token.
func TestRefusalHint(t *testing.T) {
	unauthorized := status.Error(codes.PermissionDenied, "Request unauthorized.")
	unauthenticated := status.Error(codes.Unauthenticated, "the identity-aware proxy wants proxy-authorization")
	tok := &rotatingToken{}
	tests := []struct {
		name        string
		o           Options
		err         error
		wantSetting string
		want, not   string
	}{
		{"temporal refuses the token", Options{Token: tok}, unauthorized, "credentials", "the server refused the token", "proxy"},
		{"temporal wants a token", Options{}, unauthorized, "credentials", "none is configured", "proxy"},
		{"the proxy refuses its token", Options{Token: tok, ProxyToken: tok}, unauthenticated, "credentials.proxy_command", "prints a token the proxy accepts", ""},
		{"the proxy wants a token, with a service token", Options{Token: tok}, unauthenticated, "credentials.proxy_command", "wants a token of its own and none is configured", "the server refused the token"},
		{"the proxy wants a token, without one", Options{}, unauthenticated, "credentials.proxy_command", "set credentials.proxy_command", "credentials.issuer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setting, hint := refusalHint(tc.o, tc.err, "")
			if setting != tc.wantSetting || !strings.Contains(hint, tc.want) || (tc.not != "" && strings.Contains(hint, tc.not)) {
				t.Errorf("refusalHint = %q, %q; want %q, with %q and without %q", setting, hint, tc.wantSetting, tc.want, tc.not)
			}
		})
	}
}
