// Package devserver runs a real Temporal server in-process, on SQLite, with
// the Temporal Web UI beside it. `imagegen dev` uses it so a single command
// gives a working stack, and tests use it so they need no external server.
//
// It follows the approach of the Temporal CLI's `server start-dev`, plus the
// settings measured on this project's machines: WAL journaling, fast queue
// polling, a raised visibility rate limit, 30-day retention, search
// attributes registered before the first workflow, and ports reused across
// restarts of the same data directory.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporal"
)

const (
	loopback         = "127.0.0.1"
	defaultNamespace = "default"
	// defaultRetention keeps finished jobs visible for a month; the server's
	// helpers default to 24 h, which loses yesterday's jobs.
	defaultRetention = 30 * 24 * time.Hour
	// minRetention is the server's floor for local namespaces.
	minRetention = time.Hour
	dbFileName   = "temporal.db"
	// readyTimeout bounds Start when the caller's context has no deadline.
	readyTimeout = 2 * time.Minute
	// stopTimeout bounds Stop: the server normally stops in well under a
	// second, but a wedged shutdown must not hang `imagegen dev` on Ctrl-C.
	stopTimeout = 20 * time.Second
)

// Options configure Start. The zero value is a usable in-memory server on a
// free loopback port with the UI on another free port.
type Options struct {
	// DataDir holds the SQLite database (DataDir/temporal.db), the ports
	// remembered for the next start (DataDir/ports.json) and the frontend
	// secret (DataDir/frontend.secret). It is created if missing, mode 0700.
	// Empty means an in-memory database that vanishes on Stop, and a secret
	// known only to this process (Secret).
	DataDir string
	// Host is the IP address the frontend and the UI listen on; default
	// 127.0.0.1 ("localhost" is accepted). The internal services always
	// listen on loopback.
	Host string
	// Port is the frontend gRPC port. 0 reuses the port remembered in DataDir
	// when it is still free, else picks a free one. An explicit port must be
	// free.
	Port int
	// UIPort is the Web UI port: negative disables the UI, 0 reuses the
	// remembered port or picks a free one, positive must be free.
	UIPort int
	// Namespace is created (or reused) at start; default "default".
	Namespace string
	// Retention is the namespace's retention of closed workflows; default 30
	// days, minimum 1 hour. It is applied to an existing namespace too.
	Retention time.Duration
	// SearchAttributes are custom search attributes registered before Start
	// returns, so the first workflow can upsert them. Existing ones are kept;
	// one that exists with a different type is an error.
	SearchAttributes map[string]enumspb.IndexedValueType
	// UIAllowedHosts are host names (or IPs) besides the loopback ones under
	// which the Web UI may be reached, e.g. the machine's name when the UI
	// listens beyond loopback. Requests naming any other host are refused
	// (DNS rebinding).
	UIAllowedHosts []string
	// Logger receives the server's own warnings and errors (it is far too
	// chatty below warn). Nil discards them.
	Logger *slog.Logger
}

// Server is a running Temporal dev server. Stop it when done.
type Server struct {
	temporal     temporal.Server
	ui           *uiserver.Server
	uiDone       chan struct{}
	uiGuard      *http.Server
	uiGuardDone  chan struct{}
	uiMark       string
	uiBackend    string // the ui-server's own loopback address
	logLevel     *slog.LevelVar
	frontendAddr string
	uiAddr       string
	namespace    string
	secret       string
	ports        ports

	stopOnce sync.Once
	stopErr  error
}

// Start runs a Temporal server and, unless disabled, the Web UI. It returns
// once the frontend accepts calls and the namespace (with its retention) and
// the search attributes are in place, so a worker and client can be used
// right away. ctx bounds the start only, not the server's lifetime.
func Start(ctx context.Context, opts Options) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readyTimeout)
		defer cancel()
	}
	if opts.DataDir != "" {
		// Every prompt lives in here: 0700, and tightened if it exists.
		if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("devserver: create data dir: %w", err)
		}
		if err := os.Chmod(opts.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("devserver: data dir: %w", err)
		}
	}
	secret, err := loadOrCreateSecret(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}

	// Probe listeners stay open until just before each server binds, so no
	// one else takes the ports in between.
	var pp portPicker
	defer pp.release()
	remembered := loadPorts(opts.DataDir)
	p, err := choosePorts(&pp, opts, remembered)
	if err != nil {
		return nil, fmt.Errorf("devserver: choose ports: %w", err)
	}

	sqlCfg, err := prepareSQLite(opts)
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}

	dial := dialHost(opts.Host)
	frontendAddr := net.JoinHostPort(dial, strconv.Itoa(p.Frontend))
	logLevel := new(slog.LevelVar)
	logLevel.Set(slog.LevelWarn)
	logger := newServerLogger(opts.Logger, logLevel)

	pp.releaseExcept(p.UI)
	ts, err := newTemporalServer(opts, p, sqlCfg, secret, logger)
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	if err := ts.Start(); err != nil {
		_ = ts.Stop()
		return nil, fmt.Errorf("devserver: start temporal server: %w", err)
	}
	s := &Server{
		temporal:     ts,
		logLevel:     logLevel,
		frontendAddr: frontendAddr,
		namespace:    opts.Namespace,
		secret:       secret,
		ports:        p,
	}

	if p.UI > 0 {
		pp.release()
		if err := s.startUI(opts, p.UI); err != nil {
			_ = s.Stop()
			return nil, fmt.Errorf("devserver: %w", err)
		}
	}
	if err := s.waitReady(ctx, opts); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("devserver: %w", err)
	}
	if s.uiAddr != "" {
		if err := waitListening(ctx, net.JoinHostPort(dial, strconv.Itoa(p.UI))); err != nil {
			_ = s.Stop()
			return nil, fmt.Errorf("devserver: web ui: %w", err)
		}
	}
	if opts.DataDir != "" {
		saved := p
		if saved.UI == 0 {
			// A headless run keeps the UI port of the last run with a UI.
			saved.UI = remembered.UI
		}
		if err := savePorts(opts.DataDir, saved); err != nil {
			// Not fatal: the next start just picks new ports.
			if opts.Logger != nil {
				opts.Logger.Warn("devserver: could not remember ports", "error", err)
			}
		}
	}
	return s, nil
}

// FrontendAddress is the host:port to pass to client.Dial.
func (s *Server) FrontendAddress() string { return s.frontendAddr }

// UIAddress is the Web UI's base URL (http://host:port), or "" when the UI
// is disabled.
func (s *Server) UIAddress() string { return s.uiAddr }

// Namespace is the namespace created at start.
func (s *Server) Namespace() string { return s.namespace }

// Secret is what every frontend call must carry as "authorization: Bearer
// <secret>". ClientOptions sets it up for the SDK.
func (s *Server) Secret() string { return s.secret }

// ClientOptions returns SDK client options that reach this server: its
// address, namespace and the secret (over plaintext loopback, so TLS is
// explicitly off: the SDK would otherwise turn it on for an API key).
func (s *Server) ClientOptions() client.Options {
	return ClientOptions(s.frontendAddr, s.namespace, s.secret)
}

// ClientOptions returns SDK client options for a dev server at addr whose
// secret is known (ReadSecret reads it from the server's data dir).
func ClientOptions(addr, namespace, secret string) client.Options {
	return client.Options{
		HostPort:          addr,
		Namespace:         namespace,
		Credentials:       client.NewAPIKeyStaticCredentials(secret),
		ConnectionOptions: client.ConnectionOptions{TLSDisabled: true},
	}
}

// Stop shuts the UI and the server down, waiting at most stopTimeout. It is
// safe to call more than once; later calls return the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		// The server routinely warns while shutting down; those are noise.
		s.logLevel.Set(slog.LevelError)
		deadline := time.NewTimer(stopTimeout)
		defer deadline.Stop()

		errs := s.stopUI(deadline.C)
		done := make(chan error, 1)
		go func() { done <- s.temporal.Stop() }()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("stop temporal server: %w", err))
			}
		case <-deadline.C:
			errs = append(errs, fmt.Errorf("temporal server still running after %s", stopTimeout))
		}
		if len(errs) > 0 {
			s.stopErr = fmt.Errorf("devserver: %w", errors.Join(errs...))
		}
	})
	return s.stopErr
}

// withDefaults validates o and fills in the documented defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Host == "" || o.Host == "localhost" {
		o.Host = loopback
	}
	if net.ParseIP(o.Host) == nil {
		return o, fmt.Errorf("devserver: host %q is not an IP address", o.Host)
	}
	if o.Port < 0 || o.Port > 65535 {
		return o, fmt.Errorf("devserver: port %d out of range", o.Port)
	}
	if o.UIPort > 65535 {
		return o, fmt.Errorf("devserver: ui port %d out of range", o.UIPort)
	}
	if o.Namespace == "" {
		o.Namespace = defaultNamespace
	}
	if o.Retention == 0 {
		o.Retention = defaultRetention
	}
	if o.Retention < minRetention {
		return o, fmt.Errorf("devserver: retention %s is below the server minimum of %s", o.Retention, minRetention)
	}
	for name, typ := range o.SearchAttributes {
		if name == "" {
			return o, errors.New("devserver: search attribute with empty name")
		}
		if _, known := enumspb.IndexedValueType_name[int32(typ)]; !known || typ == enumspb.INDEXED_VALUE_TYPE_UNSPECIFIED {
			return o, fmt.Errorf("devserver: search attribute %q has invalid type %v", name, typ)
		}
	}
	if o.DataDir != "" {
		abs, err := filepath.Abs(o.DataDir)
		if err != nil {
			return o, fmt.Errorf("devserver: data dir: %w", err)
		}
		o.DataDir = abs
	}
	return o, nil
}

// dialHost is the address clients use to reach a listener bound to host:
// loopback when host is the wildcard address.
func dialHost(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return loopback
	}
	return host
}

// waitListening polls until a TCP connection to addr succeeds.
func waitListening(ctx context.Context, addr string) error {
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not listening: %w", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
