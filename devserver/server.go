package devserver

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	clusterName = "active"
	storeName   = "sqlite-default"
)

// prepareSQLite builds the persistence config, creates the schema when the
// database file is new, and inserts the namespace (with its retention and
// custom search attributes) when it does not exist yet. An existing
// namespace is brought up to date through the API once the server runs.
func prepareSQLite(opts Options) (*config.SQL, error) {
	cfg := &config.SQL{PluginName: sqliteplugin.PluginName, ConnectAttributes: map[string]string{}}
	if opts.DataDir == "" {
		// The plugin creates the schema itself for in-memory databases. The
		// name is random because the plugin shares connections process-wide
		// by DSN: two test servers must not see each other's data.
		cfg.ConnectAttributes["mode"] = "memory"
		cfg.ConnectAttributes["cache"] = "shared"
		cfg.DatabaseName = "imagegen-dev-" + strconv.FormatUint(rand.Uint64(), 36)
	} else {
		cfg.ConnectAttributes["mode"] = "rwc"
		// Plain keys become `_pragma=key=value` in the DSN, which the driver
		// runs on connect (a "_" prefix, as temporaltest uses, is silently
		// ignored). WAL with synchronous=normal is ~3x faster than the
		// default rollback journal and still safe against process crashes.
		cfg.ConnectAttributes["journal_mode"] = "wal"
		cfg.ConnectAttributes["synchronous"] = "normal"
		cfg.DatabaseName = filepath.Join(opts.DataDir, dbFileName)
		if !fileExists(cfg.DatabaseName) {
			// Created 0600 first: SQLite gives its -wal and -shm files the
			// database's mode, and the database holds every prompt.
			f, err := os.OpenFile(cfg.DatabaseName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return nil, fmt.Errorf("create sqlite file: %w", err)
			}
			_ = f.Close()
			if err := sqliteschema.SetupSchema(cfg); err != nil {
				// Leave no half-initialised file behind: the next start
				// would take it for a complete database and skip the schema.
				for _, suffix := range []string{"", "-wal", "-shm"} {
					_ = os.Remove(cfg.DatabaseName + suffix)
				}
				return nil, fmt.Errorf("create sqlite schema in %s: %w", cfg.DatabaseName, err)
			}
		}
	}

	if opts.DataDir != "" {
		// Databases of earlier versions were created 0644.
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Chmod(cfg.DatabaseName+suffix, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("sqlite file mode: %w", err)
			}
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("namespace %q: %w", opts.Namespace, err)
	}
	ns.Detail.Config.Retention = durationpb.New(opts.Retention)
	if err := sqliteschema.CreateNamespaces(cfg, ns); err != nil {
		return nil, fmt.Errorf("create namespace %q: %w", opts.Namespace, err)
	}
	return cfg, nil
}

// newTemporalServer assembles the server: all five services (the internal
// frontend included) in this process,
// static membership (no gossip ring to join), one history shard (SQLite is
// the ceiling anyway), and the dev dynamic config.
func newTemporalServer(opts Options, p ports, sqlCfg *config.SQL, secret string, logger log.Logger) (temporal.Server, error) {
	frontendAddr := net.JoinHostPort(dialHost(opts.Host), strconv.Itoa(p.Frontend))
	internal := func(port int) string { return net.JoinHostPort(loopback, strconv.Itoa(port)) }
	conf, err := serverConfig(opts, p, sqlCfg)
	if err != nil {
		return nil, err
	}
	claimMapper := newSecretClaimMapper(secret)

	ts, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(append([]string{string(primitives.InternalFrontendService)}, temporal.DefaultServices...)),
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService:         static.SingleLocalHost(frontendAddr),
			primitives.InternalFrontendService: static.SingleLocalHost(internal(p.InternalFrontend)),
			primitives.HistoryService:          static.SingleLocalHost(internal(p.History)),
			primitives.MatchingService:         static.SingleLocalHost(internal(p.Matching)),
			primitives.WorkerService:           static.SingleLocalHost(internal(p.Worker)),
		}),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorization.NewDefaultAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(devDynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	if ts == nil {
		return nil, errors.New("create temporal server: nil server")
	}
	return ts, nil
}

// serverConfig is the static configuration: the frontend on opts.Host
// (gRPC only, its HTTP API off), every internal service on loopback behind
// mutual TLS, SQLite persistence.
func serverConfig(opts Options, p ports, sqlCfg *config.SQL) (*config.Config, error) {
	frontendAddr := net.JoinHostPort(dialHost(opts.Host), strconv.Itoa(p.Frontend))
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = loopback
	conf.Persistence.DefaultStore = storeName
	conf.Persistence.VisibilityStore = storeName
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{storeName: {SQL: sqlCfg}}
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontendAddr,
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	// The frontend's HTTP API (HTTPPort) stays off: nothing here uses it,
	// and it would be one more door for cross-site requests.
	conf.Services = map[string]config.Service{
		string(primitives.FrontendService):         {RPC: config.RPC{GRPCPort: p.Frontend, BindOnIP: opts.Host}},
		string(primitives.InternalFrontendService): {RPC: config.RPC{GRPCPort: p.InternalFrontend, BindOnIP: loopback}},
		string(primitives.HistoryService):          {RPC: config.RPC{GRPCPort: p.History, BindOnIP: loopback}},
		string(primitives.MatchingService):         {RPC: config.RPC{GRPCPort: p.Matching, BindOnIP: loopback}},
		string(primitives.WorkerService):           {RPC: config.RPC{GRPCPort: p.Worker, BindOnIP: loopback}},
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// The server's own system workers leave PublicClient empty and so dial
	// the internal frontend, which trusts its mTLS callers; the public
	// frontend requires the secret from everyone.
	internode, err := internodeTLS()
	if err != nil {
		return nil, err
	}
	conf.Global.TLS.Internode = internode
	return &conf, nil
}

// devDynamicConfig holds the settings measured to matter on a single-node
// SQLite server (see the project's facts page).
func devDynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// Search attributes registered at start are usable by the very next
		// workflow; without it the first upsert fails its workflow task and
		// is retried ~10 s later.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		dynamicconfig.ForceNexusEndpointRefreshOnRead.Key():         true,
		// The refreshes above read the DB more often; keep the CLI's ratio.
		dynamicconfig.FrontendPersistenceMaxQPS.Key(): 10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():  45000,
		// The default 20 polls/s per shard adds 30-40 ms to every workflow
		// task dispatch; 1000 brings a job to ~35 ms p50.
		dynamicconfig.TransferProcessorMaxPollRPS.Key():   1000,
		dynamicconfig.VisibilityProcessorMaxPollRPS.Key(): 1000,
		// List/Count default to 10/s per namespace and the SDK retries
		// silently, stalling callers 350-480 ms.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 1000,
		// A dev server never holds 128k workflows in memory; this caps RSS.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8096,
		// Server v1.32.1 can drop the close-event notification of a blocked
		// history long poll (a one-slot channel that discards when full);
		// the waiter then wakes only when the poll expires (20 s by default).
		// 5 s bounds such a stall at the cost of one cheap re-poll per
		// waiter every 5 s. Measured: ~1-2 % of waits hit it.
		dynamicconfig.HistoryLongPollExpirationInterval.Key(): 5 * time.Second,
	}
}
