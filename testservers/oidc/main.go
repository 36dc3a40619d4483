// Command oidc-testserver is an OpenID Connect provider for goflyte's tests,
// built on zitadel/oidc's OP library. It binds 127.0.0.1 only, keeps
// everything in memory, and prints one ready line when it serves:
//
//	oidc-testserver ready issuer=http://127.0.0.1:PORT/ addr=127.0.0.1:PORT
//
// It serves discovery, JWKS, client credentials, the device code flow
// (RFC 8628, poll interval 1 s by default), authorization code with PKCE
// (S256) through a login page that an HTTP client or a browser can submit,
// and refresh tokens. Access tokens are JWTs signed with RS256 and a kid,
// with a string sub and a "permissions" claim, the shape Temporal's default
// JWT claim mapper accepts. An "audience" parameter sent to the authorize,
// device or token endpoint is added to the token's aud.
//
// Clients are registered by flags:
//
//	-client ID:SECRET   a confidential client (client_secret_basic or _post)
//	-public-client ID   a public client (no secret; PKCE, device flow)
//
// Both may use every grant. Loopback redirect URIs (http://127.0.0.1 and
// http://localhost, any port and path /callback) are accepted for them.
// The one user is -user / -password.
//
// It is a test server: secrets are compared in plain text and nothing is
// persisted.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

type listFlag []string

func (f *listFlag) String() string     { return strings.Join(*f, ",") }
func (f *listFlag) Set(s string) error { *f = append(*f, s); return nil }

func main() {
	var (
		port          = flag.Int("port", 0, "port on 127.0.0.1 (0: any free port)")
		issuer        = flag.String("issuer", "", "public issuer URL, when a proxy is in front (default: http://127.0.0.1:PORT/)")
		tokenLifetime = flag.Duration("token-lifetime", 5*time.Minute, "lifetime of access tokens")
		pollInterval  = flag.Duration("poll-interval", time.Second, "device flow poll interval")
		slowDown      = flag.Int("slow-down", 0, "answer the first N device token polls of each device code with slow_down")
		permissions   = flag.String("permissions", "default:admin", "comma-separated values of the permissions claim")
		user          = flag.String("user", "alice", "the user's name on the login page")
		password      = flag.String("password", "wonderland", "the user's password")
		clients       listFlag
		publicClients listFlag
	)
	flag.Var(&clients, "client", "ID:SECRET of a confidential client (repeatable)")
	flag.Var(&publicClients, "public-client", "ID of a public client (repeatable)")
	flag.Parse()

	s, err := newStorage(*tokenLifetime, *pollInterval, *slowDown, splitList(*permissions), *user, *password)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range clients {
		id, secret, ok := strings.Cut(c, ":")
		if !ok || id == "" || secret == "" {
			log.Fatalf("-client %q: want ID:SECRET", c)
		}
		s.clients[id] = &client{id: id, secret: secret}
	}
	for _, id := range publicClients {
		s.clients[id] = &client{id: id}
	}

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	if *issuer == "" {
		*issuer = fmt.Sprintf("http://%s/", ln.Addr())
	}
	handler, err := newHandler(*issuer, s, *pollInterval)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	fmt.Printf("oidc-testserver ready issuer=%s addr=%s\n", *issuer, ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// newHandler serves the OP with the login and device pages beside it.
func newHandler(issuer string, s *storage, pollInterval time.Duration) (http.Handler, error) {
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:             sha256.Sum256([]byte("goflyte oidc-testserver")),
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedUILocales:    []language.Tag{language.English},
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime:     5 * time.Minute,
			PollInterval: pollInterval,
			UserFormPath: "/device",
			UserCode:     op.UserCodeBase20,
		},
	}, s, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		return nil, err
	}
	callback := op.AuthCallbackURL(provider)
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) { s.login(w, r, callback) })
	mux.HandleFunc("/device", s.device)
	mux.Handle("/", provider)
	return withAudience(mux), nil
}

type audienceKey struct{}

// withAudience puts the request's "audience" parameter, if any, in its
// context, where the storage finds it.
func withAudience(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err == nil {
			if aud := r.Form.Get("audience"); aud != "" {
				r = r.WithContext(context.WithValue(r.Context(), audienceKey{}, aud))
			}
		}
		next.ServeHTTP(w, r)
	})
}

func audienceFrom(ctx context.Context, clientID string) []string {
	aud := []string{clientID}
	if a, _ := ctx.Value(audienceKey{}).(string); a != "" && a != clientID {
		aud = append(aud, a)
	}
	return aud
}

// client is a registered client; no secret means a public client.
type client struct{ id, secret string }

func (c *client) GetID() string { return c.id }
func (c *client) RedirectURIs() []string {
	return []string{"http://127.0.0.1/callback", "http://localhost/callback"}
}
func (c *client) PostLogoutRedirectURIs() []string { return nil }
func (c *client) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeNative
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.secret == "" {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials, oidc.GrantTypeDeviceCode}
}
func (c *client) LoginURL(id string) string            { return "/login?authRequestID=" + id }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration       { return time.Hour }
func (c *client) DevMode() bool                        { return false }
func (c *client) IsScopeAllowed(string) bool           { return true }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// authRequest is an authorization request, from /authorize to the code.
type authRequest struct {
	id, clientID, redirectURI, state, nonce string
	scopes, audience                        []string
	responseType                            oidc.ResponseType
	responseMode                            oidc.ResponseMode
	challenge                               *oidc.CodeChallenge
	subject                                 string
	authTime                                time.Time
	done                                    bool
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return a.audience }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

// refreshToken is a refresh token's grant; it implements op.RefreshTokenRequest.
type refreshToken struct {
	token, clientID, subject string
	scopes, audience         []string
	authTime                 time.Time
}

func (r *refreshToken) GetAMR() []string                 { return []string{"pwd"} }
func (r *refreshToken) GetAudience() []string            { return r.audience }
func (r *refreshToken) GetAuthTime() time.Time           { return r.authTime }
func (r *refreshToken) GetClientID() string              { return r.clientID }
func (r *refreshToken) GetScopes() []string              { return r.scopes }
func (r *refreshToken) GetSubject() string               { return r.subject }
func (r *refreshToken) SetCurrentScopes(scopes []string) { r.scopes = scopes }

type deviceEntry struct {
	state    *op.DeviceAuthorizationState
	lastPoll time.Time
	polls    int
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ *signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

// storage is the OP's in-memory storage.
type storage struct {
	lifetime, pollInterval time.Duration
	slowDown               int
	permissions            []string
	user, password         string
	key                    *signingKey

	mu        sync.Mutex
	clients   map[string]*client
	requests  map[string]*authRequest
	codes     map[string]string // code -> request id
	refresh   map[string]*refreshToken
	devices   map[string]*deviceEntry // device code -> entry
	userCodes map[string]string       // user code -> device code
}

func newStorage(lifetime, pollInterval time.Duration, slowDown int, permissions []string, user, password string) (*storage, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &storage{
		lifetime: lifetime, pollInterval: pollInterval, slowDown: slowDown,
		permissions: permissions, user: user, password: password,
		key:       &signingKey{id: randomID(), key: key},
		clients:   map[string]*client{},
		requests:  map[string]*authRequest{},
		codes:     map[string]string{},
		refresh:   map[string]*refreshToken{},
		devices:   map[string]*deviceEntry{},
		userCodes: map[string]string{},
	}, nil
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired()
	}
	a := &authRequest{
		id: randomID(), clientID: req.ClientID, redirectURI: req.RedirectURI, state: req.State,
		nonce: req.Nonce, scopes: req.Scopes, audience: audienceFrom(ctx, req.ClientID),
		responseType: req.ResponseType, responseMode: req.ResponseMode, subject: userID,
	}
	if req.CodeChallenge != "" {
		a.challenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}
	}
	s.requests[a.id] = a
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.requests[id]; ok {
		return a, nil
	}
	return nil, errors.New("request not found")
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("code invalid or expired")
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return randomID(), time.Now().Add(s.lifetime), nil
}

func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := &refreshToken{token: randomID(), subject: req.GetSubject(), scopes: req.GetScopes(), audience: req.GetAudience(), authTime: time.Now()}
	switch r := req.(type) {
	case *authRequest:
		rt.clientID, rt.authTime = r.clientID, r.authTime
	case *op.DeviceAuthorizationState:
		rt.clientID = r.ClientID
	case *refreshToken:
		rt.clientID, rt.authTime = r.clientID, r.authTime
	}
	if current != "" {
		if _, ok := s.refresh[current]; !ok {
			return "", "", time.Time{}, errors.New("invalid refresh token")
		}
		delete(s.refresh, current) // rotation: a refresh token is used once
	}
	s.refresh[rt.token] = rt
	return randomID(), rt.token, time.Now().Add(s.lifetime), nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok {
		return nil, errors.New("invalid refresh_token")
	}
	c := *rt
	return &c, nil
}

func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) GetRefreshTokenInfo(_ context.Context, _ string, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.token, nil
}

func (s *storage) RevokeToken(_ context.Context, token, _, _ string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refresh, token)
	return nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}
func (s *storage) KeySet(context.Context) ([]op.Key, error) { return []op.Key{publicKey{s.key}}, nil }

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[id]; ok {
		return c, nil
	}
	return nil, errors.New("client not found")
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[id]; ok && c.secret != "" && c.secret == secret {
		return nil
	}
	return errors.New("invalid client id or secret")
}

func (s *storage) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	if err := s.AuthorizeClientIDSecret(ctx, id, secret); err != nil {
		return nil, err
	}
	return s.GetClientByClientID(ctx, id)
}

func (s *storage) ClientCredentialsTokenRequest(ctx context.Context, id string, scopes []string) (op.TokenRequest, error) {
	return &oidc.JWTTokenRequest{Subject: id, Audience: audienceFrom(ctx, id), Scopes: scopes}, nil
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	info.Subject = req.GetSubject()
	info.PreferredUsername = req.GetSubject()
	return nil
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, _, subject, _ string) error {
	info.Subject = subject
	return nil
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, r *oidc.IntrospectionResponse, _, subject, clientID string) error {
	r.Subject, r.ClientID = subject, clientID
	return nil
}

// GetPrivateClaimsFromScopes adds the permissions claim to every JWT
// access token.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return map[string]any{"permissions": s.permissions}, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile clients are not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile grants are not supported")
}

func (s *storage) Health(context.Context) error { return nil }

func (s *storage) StoreDeviceAuthorization(ctx context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[clientID]; !ok {
		return errors.New("client not found")
	}
	if _, ok := s.userCodes[userCode]; ok {
		return op.ErrDuplicateUserCode
	}
	s.devices[deviceCode] = &deviceEntry{state: &op.DeviceAuthorizationState{
		ClientID: clientID, Scopes: scopes, Expires: expires, Audience: audienceFrom(ctx, clientID),
	}}
	s.userCodes[userCode] = deviceCode
	return nil
}

// GetDeviceAuthorizatonState answers a poll. A poll sooner than the
// interval after the last one, and the first -slow-down polls, get
// slow_down (the OP maps context.DeadlineExceeded to it).
func (s *storage) GetDeviceAuthorizatonState(_ context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.devices[deviceCode]
	if !ok || e.state.ClientID != clientID {
		return nil, errors.New("device code not found for client")
	}
	now := time.Now()
	tooSoon := !e.lastPoll.IsZero() && now.Sub(e.lastPoll) < s.pollInterval-50*time.Millisecond
	e.lastPoll = now
	e.polls++
	if e.polls <= s.slowDown || tooSoon {
		log.Printf("device poll %d: slow_down", e.polls)
		return nil, fmt.Errorf("polled too soon: %w", context.DeadlineExceeded)
	}
	c := *e.state
	return &c, nil
}

func (s *storage) completeDevice(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.devices[s.userCodes[strings.ToUpper(strings.TrimSpace(userCode))]]
	if !ok {
		return errors.New("unknown user code")
	}
	e.state.Subject, e.state.Done, e.state.AMR, e.state.AuthTime = s.user, true, []string{"pwd"}, time.Now()
	return nil
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in</title></head><body>
<h1>Sign in</h1>
{{if .Error}}<p id="error">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
{{if .UserCode}}<label>Code <input id="user_code" name="user_code" value="{{.UserCodeValue}}"></label>{{end}}
<label>User <input id="username" name="username" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password"></label>
<button id="submit" type="submit">Sign in</button>
</form></body></html>`))

type pageData struct {
	Action, Error, UserCodeValue string
	UserCode                     bool
	Hidden                       map[string]string
}

// login is the page an authorization request is sent to: a form with
// the user's name and password, which on success sends the browser back
// to the OP's callback, which redirects to the client with a code.
func (s *storage) login(w http.ResponseWriter, r *http.Request, callback func(context.Context, string) string) {
	id := r.FormValue("authRequestID")
	page := pageData{Action: "/login", Hidden: map[string]string{"authRequestID": id}}
	if r.Method == http.MethodPost {
		if r.FormValue("username") == s.user && r.FormValue("password") == s.password {
			s.mu.Lock()
			a, ok := s.requests[id]
			if ok {
				a.subject, a.authTime, a.done = s.user, time.Now(), true
			}
			s.mu.Unlock()
			if !ok {
				http.Error(w, "unknown authorization request", http.StatusBadRequest)
				return
			}
			http.Redirect(w, r, callback(r.Context(), id), http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		page.Error = "wrong user name or password"
	}
	_ = loginPage.Execute(w, page)
}

// device is the verification page of the device flow: the user code and
// the user's name and password.
func (s *storage) device(w http.ResponseWriter, r *http.Request) {
	page := pageData{Action: "/device", UserCode: true, UserCodeValue: r.FormValue("user_code")}
	if r.Method == http.MethodPost {
		if r.FormValue("username") != s.user || r.FormValue("password") != s.password {
			w.WriteHeader(http.StatusUnauthorized)
			page.Error = "wrong user name or password"
		} else if err := s.completeDevice(r.FormValue("user_code")); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			page.Error = err.Error()
		} else {
			fmt.Fprintln(w, "Device signed in. You can close this page.")
			return
		}
	}
	_ = loginPage.Execute(w, page)
}
