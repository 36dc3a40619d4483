// Command temporal-testserver runs a single-process Temporal server for
// goflyte's tests: frontend, history, matching and worker services in one
// process, SQLite in a temporary directory, listening on 127.0.0.1 only.
//
// It lives in a module of its own so that goflyte's main module never links
// the server (454 modules, a 15-minute cold build). The Makefile installs it
// into .tools, and engine/remote/remotetest starts it.
//
// Usage:
//
//	temporal-testserver [--port N] [--namespace NS]... [--tls-cert F --tls-key F]
//	                    [--jwks-url URL [--audience AUD]] [--dynamic KEY=JSON]...
//	                    [--db-dir DIR]
//
// Once the frontend answers its gRPC health check, it prints one line on
// stdout:
//
//	ready 127.0.0.1:PORT
//
// and nothing else on stdout; logs go to stderr. It stops on SIGINT or
// SIGTERM (or when stdin is closed with --exit-on-stdin-close), removing its
// temporary database.
//
// Tuning: one history shard with the transfer and timer queues polled at up
// to 1000/s and activity eager execution on, which brings a chained no-op
// activity from about 100 ms (the dev server's defaults) to about 14 ms.
// Workers should also set a short StickyScheduleToStartTimeout (1 s) so that
// a killed worker's workflow tasks move on quickly; that is a worker option,
// not a server one.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

const host = "127.0.0.1"

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	port           int
	namespaces     []string
	dbDir          string
	tlsCert        string
	tlsKey         string
	jwksURL        string
	audience       string
	jwksRefresh    time.Duration
	permissions    string
	dynamic        []string
	logLevel       string
	startTimeout   time.Duration
	exitOnStdinEOF bool
}

func main() {
	var o options
	var namespaces, dynamic listFlag
	fs := flag.NewFlagSet("temporal-testserver", flag.ExitOnError)
	fs.IntVar(&o.port, "port", 0, "frontend gRPC port on 127.0.0.1 (0: a free port)")
	fs.Var(&namespaces, "namespace", "namespace to register besides \"default\" (repeatable)")
	fs.StringVar(&o.dbDir, "db-dir", "", "directory for the SQLite database (default: a temporary directory removed at exit)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate file for the frontend (with --tls-key: TLS instead of plaintext)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key file for the frontend's certificate")
	fs.StringVar(&o.jwksURL, "jwks-url", "", "JWKS URL: enables the JWT claim mapper and the default authorizer")
	fs.StringVar(&o.audience, "audience", "", "with --jwks-url: refuse tokens whose aud claim does not hold this value")
	fs.DurationVar(&o.jwksRefresh, "jwks-refresh", 10*time.Second, "how often to fetch the JWKS again")
	fs.StringVar(&o.permissions, "permissions-claim", "permissions", "name of the JWT claim holding \"<namespace>:<role>\" permissions")
	fs.Var(&dynamic, "dynamic", "dynamic config value KEY=JSON, e.g. history.transferProcessorMaxPollRPS=1000 (repeatable)")
	fs.StringVar(&o.logLevel, "log-level", "warn", "server log level on stderr: debug, info, warn, error")
	fs.DurationVar(&o.startTimeout, "start-timeout", 60*time.Second, "give up if the frontend is not healthy within this time")
	fs.BoolVar(&o.exitOnStdinEOF, "exit-on-stdin-close", false, "stop when stdin is closed (so the server dies with the process that started it)")
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "temporal-testserver: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}
	o.namespaces = append([]string{"default"}, namespaces...)
	o.dynamic = dynamic
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "temporal-testserver: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	dyn, err := dynamicConfig(o.dynamic)
	if err != nil {
		return err
	}
	if o.port == 0 {
		if o.port, err = freePort(); err != nil {
			return err
		}
	}
	dbDir := o.dbDir
	if dbDir == "" {
		if dbDir, err = os.MkdirTemp("", "temporal-testserver-"); err != nil {
			return err
		}
		defer os.RemoveAll(dbDir)
	}
	logger := log.NewZapLogger(log.BuildZapLogger(log.Config{Level: o.logLevel, Format: "console"}))

	cfg, err := serverConfig(o, filepath.Join(dbDir, "temporal.db"))
	if err != nil {
		return err
	}
	sqlCfg := cfg.Persistence.DataStores[sqliteplugin.PluginName].SQL
	if _, err := os.Stat(sqlCfg.DatabaseName); errors.Is(err, os.ErrNotExist) {
		if err := sqlite.SetupSchema(sqlCfg); err != nil {
			return fmt.Errorf("set up the SQLite schema: %w", err)
		}
	}
	var nss []*sqlite.NamespaceConfig
	for _, name := range o.namespaces {
		ns, err := sqlite.NewNamespaceConfig(cfg.ClusterMetadata.CurrentClusterName, name, false, nil)
		if err != nil {
			return fmt.Errorf("namespace %q: %w", name, err)
		}
		nss = append(nss, ns)
	}
	if err := sqlite.CreateNamespaces(sqlCfg, nss...); err != nil {
		return fmt.Errorf("register namespaces: %w", err)
	}

	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return fmt.Errorf("authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return fmt.Errorf("claim mapper: %w", err)
	}
	services := temporal.DefaultServices
	if o.jwksURL != "" {
		// The system worker service calls the frontend without a token,
		// and its scanners stop the server when refused. Tests need no
		// system workflows: run without it.
		services = []string{"frontend", "history", "matching"}
	}
	serverOptions := []temporal.ServerOption{
		temporal.WithConfig(cfg),
		temporal.ForServices(services),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dyn),
	}
	if o.audience != "" {
		// As the server's own main does with global.authorization.audience:
		// a token whose aud does not hold it is refused.
		serverOptions = append(serverOptions, temporal.WithAudienceGetter(func(*config.Config) authorization.JWTAudienceMapper {
			return authorization.NewAudienceMapper(o.audience)
		}))
	}
	srv, err := temporal.NewServer(serverOptions...)
	if err != nil {
		return fmt.Errorf("create the server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start the server: %w", err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "temporal-testserver: stop: %v\n", err)
		}
	}()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	if o.exitOnStdinEOF {
		// Stdin closes when the process that started the server is gone,
		// and with it the pipes it read the server's output from: the
		// server's log lines while it stops would kill it with SIGPIPE
		// before it removed its database. Writes fail quietly instead.
		signal.Ignore(syscall.SIGPIPE)
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop <- syscall.SIGTERM
		}()
	}

	addr := net.JoinHostPort(host, strconv.Itoa(o.port))
	ctx, cancel := context.WithTimeout(context.Background(), o.startTimeout)
	defer cancel()
	if err := waitHealthy(ctx, addr, o.tlsCert != "", stop); err != nil {
		return err
	}
	fmt.Printf("ready %s\n", addr)
	<-stop
	return nil
}

// serverConfig is the static configuration of a one-process server with its
// SQLite database at dbFile: the same shape as the server's own temporaltest
// package (which keeps it internal), plus TLS and authorization.
func serverConfig(o options, dbFile string) (*config.Config, error) {
	port := func() (int, error) { return freePort() }
	service := func(grpcPort int) (config.Service, error) {
		membership, err := port()
		if err != nil {
			return config.Service{}, err
		}
		return config.Service{RPC: config.RPC{GRPCPort: grpcPort, MembershipPort: membership, BindOnIP: host}}, nil
	}
	services := map[string]config.Service{}
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		p := o.port
		if name != "frontend" {
			var err error
			if p, err = port(); err != nil {
				return nil, err
			}
		}
		s, err := service(p)
		if err != nil {
			return nil, err
		}
		services[name] = s
	}
	frontend := net.JoinHostPort(host, strconv.Itoa(o.port))
	cfg := &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: host},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores: map[string]config.DataStore{
				sqliteplugin.PluginName: {SQL: &config.SQL{
					PluginName:   sqliteplugin.PluginName,
					DatabaseName: dbFile,
					// WAL and no fsync: a test database that dies with the
					// process needs no durability, and fsync is most of the
					// cost of a history write.
					ConnectAttributes: map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "off"},
				}},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		PublicClient: config.PublicClient{HostPort: frontend},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
	}
	if o.tlsCert != "" {
		cfg.Global.TLS.Frontend.Server = config.ServerTLS{CertFile: o.tlsCert, KeyFile: o.tlsKey}
		// The system worker reaches the frontend through PublicClient: TLS,
		// without checking a certificate that was made for the tests.
		cfg.Global.TLS.SystemWorker.Client = config.ClientTLS{ForceTLS: true, DisableHostVerification: true}
	}
	if o.jwksURL != "" {
		cfg.Global.Authorization = config.Authorization{
			Authorizer:           "default",
			ClaimMapper:          "default",
			PermissionsClaimName: o.permissions,
			Audience:             o.audience,
			JWTKeyProvider: config.JWTKeyProvider{
				KeySourceURIs:   []string{o.jwksURL},
				RefreshInterval: o.jwksRefresh,
			},
		}
	}
	return cfg, nil
}

// dynamicConfig is the tuning for tests plus the --dynamic values, which
// win. Whole JSON numbers become ints, as the server's settings expect.
func dynamicConfig(values []string) (dynamicconfig.StaticClient, error) {
	dc := dynamicconfig.StaticClient{
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		// One shard's transfer queue at the default 20 polls/s costs about
		// 100 ms per chained activity; at 1000/s about 14 ms.
		dynamicconfig.TransferProcessorMaxPollRPS.Key(): 1000,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():    1000,
		// Eager activities: a workflow task that schedules an activity may
		// get it back in the same response.
		dynamicconfig.EnableActivityEagerExecution.Key(): true,
	}
	for _, kv := range values {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--dynamic %q: want KEY=JSON", kv)
		}
		var val any
		if err := json.Unmarshal([]byte(v), &val); err != nil {
			return nil, fmt.Errorf("--dynamic %s: value is not JSON: %w", k, err)
		}
		if f, ok := val.(float64); ok && f == float64(int(f)) {
			val = int(f)
		}
		dc[dynamicconfig.MakeKey(k)] = val
	}
	return dc, nil
}

// waitHealthy polls the frontend's gRPC health check until it serves.
func waitHealthy(ctx context.Context, addr string, useTLS bool, stop <-chan os.Signal) error {
	creds := insecure.NewCredentials()
	if useTLS {
		creds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}) // our own listener, checked only for liveness
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return fmt.Errorf("health check client: %w", err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{Service: "temporal.api.workflowservice.v1.WorkflowService"})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("status %v", resp.GetStatus())
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("frontend %s not healthy: %w", addr, last)
		case <-stop:
			return errors.New("stopped before the frontend was healthy")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
