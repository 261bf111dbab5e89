// Package app is the composition root: it builds the parts of a process
// from typed options and wires them together. Each way imagegen runs is one
// composition of two components, a Worker and a Server (one HTTP listener
// and one mux), around a Temporal client:
//
//	dev     embedded Temporal (devserver) + Worker + Server(ops, MCP, gallery, images)
//	serve   Server(ops, MCP, gallery, images) against an external Temporal
//	worker  Worker + Server(ops) against an external Temporal
//	stdio   MCP over stdin/stdout against an external Temporal
//
// Configuration is parsed and validated in cmd/imagegen; end-to-end tests and
// the benchmark call the very same functions.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/devserver"
	"github.com/imagegen/imagegen/gallery"
	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/imagefetch"
	"github.com/imagegen/imagegen/internal/authlimit"
	"github.com/imagegen/imagegen/internal/httpguard"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/temporaladmin"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/mcpserver"
	"github.com/imagegen/imagegen/metrics"
	"github.com/imagegen/imagegen/objectstore"
	"github.com/imagegen/imagegen/openai"
	"github.com/imagegen/imagegen/ops"
	"github.com/imagegen/imagegen/preview"
	"github.com/imagegen/imagegen/providers"
	"github.com/imagegen/imagegen/workersai"
	"github.com/imagegen/imagegen/workflows"
)

// Version is reported to MCP clients.
const Version = "0.1.0"

// Provider names.
const (
	ProviderWorkersAI = "workersai"
	ProviderPreview   = "preview"
)

// Options are the validated settings of a process, grouped by the part
// they configure.
type Options struct {
	Logger *slog.Logger
	// DataDir holds the embedded Temporal's database (dev), staged images
	// and the local image store.
	DataDir  string
	HTTP     HTTPOptions
	Temporal TemporalOptions
	Dev      DevOptions
	Provider ProviderOptions
	Storage  StorageOptions
	// Worker tunes the Temporal workers (concurrency, rate limits).
	Worker worker.Options
	// Fetch configures the workers' fetcher of input images named by URL
	// (IMAGEGEN_FETCH_ALLOW); the zero value fetches from public addresses
	// only. Its Logger is the app's.
	Fetch imagefetch.Options
	// MaxWait caps blocking tool calls; 0 = mcpserver's default (60 s).
	MaxWait time.Duration
	// Budget bounds what the jobs this process starts may cost.
	Budget BudgetOptions
}

// BudgetOptions are the spending bounds (IMAGEGEN_DAILY_BUDGET_USD and its
// siblings); see jobs.Budget.
type BudgetOptions struct {
	Daily, PerJob imagegen.USD
	// OrphanGrace: 0 = workflows.DefaultOrphanGrace.
	OrphanGrace time.Duration
}

// HTTPOptions configure the HTTP face.
type HTTPOptions struct {
	Addr string
	// AuthToken is the bearer token of the MCP routes and the gallery.
	AuthToken string
	// PublicURL is the base of local image URLs; "" = http://<bound addr>.
	PublicURL string
	// Middleware wraps every route (see ServerOptions.Middleware).
	Middleware []Middleware
	// AllowedHosts are the host names (IMAGEGEN_ALLOWED_HOSTS) the HTTP
	// server answers to besides the loopback ones; set, every other Host is
	// refused on every connection. PublicURL's host is always allowed.
	AllowedHosts []string
	// MCPLimits bound SSE sessions and in-flight MCP calls
	// (IMAGEGEN_MAX_SSE_SESSIONS_PER_CLIENT and its siblings).
	MCPLimits mcpserver.Limits
}

// hostGuard is the Host allowlist of the HTTP server.
func hostGuard(o HTTPOptions) httpguard.Guard {
	g := httpguard.NewStrict(o.AllowedHosts...)
	if o.PublicURL != "" {
		g.Hosts = append(g.Hosts, httpguard.New(o.PublicURL).Hosts...)
	}
	return g
}

// TemporalOptions say how to reach Temporal.
type TemporalOptions struct {
	// Address is the external frontend (serve, worker, stdio, jobs); dev
	// uses its embedded server instead.
	Address   string
	Namespace string
	// UIURL is the Web UI's base URL for job links ("" = none; dev: its own).
	UIURL string
	// Credentials for the frontend (see temporalConnection); dev sets its
	// embedded server's secret here itself.
	APIKey        string // TEMPORAL_API_KEY
	TLSCert       string // TEMPORAL_TLS_CERT: mTLS client certificate file
	TLSKey        string // TEMPORAL_TLS_KEY
	TLSCA         string // TEMPORAL_TLS_CA: CA file for the server's certificate
	TLSServerName string // TEMPORAL_TLS_SERVER_NAME
	TLS           string // TEMPORAL_TLS: "true"/"false" forces TLS; "" = automatic
	// SecretDir is where an `imagegen dev` sharing this data dir keeps its
	// frontend secret; it is used on a loopback address when no
	// credentials are set.
	SecretDir string
	// UIAllowedHosts are extra host names the embedded Web UI answers to.
	UIAllowedHosts []string
}

// DevOptions configure the embedded Temporal of dev.
type DevOptions struct {
	Port      int           // 0 = remembered in the data dir, else a free port
	UIPort    int           // 0 = a free port, -1 = no UI
	Retention time.Duration // how long finished jobs are kept
}

// ProviderOptions choose and configure the image provider.
type ProviderOptions struct {
	Name      string // ProviderWorkersAI or ProviderPreview
	WorkersAI workersai.Config
	// OpenAI, when set, serves the models whose provider is openai.
	OpenAI *openai.Config
	// CallTimeout bounds one provider call; 0 = the model's own Timeout.
	CallTimeout time.Duration
	// PreviewDelay is how long each preview image takes (preview only).
	PreviewDelay time.Duration
}

// StorageOptions choose where images go.
type StorageOptions struct {
	// S3, when set, is the bucket (R2, MinIO); otherwise images go to
	// DataDir/images and are served under /images/.
	S3 *objectstore.S3Config
}

// App is a running composition. Close stops its parts in reverse order.
type App struct {
	// Server is the HTTP server; Worker is nil where no worker runs.
	Server *Server
	Worker *Worker

	// Addr is the HTTP server's bound host:port.
	Addr string
	// MCPURL is the Streamable HTTP endpoint, SSEURL the legacy SSE one
	// ("" where no MCP is served).
	MCPURL, SSEURL string
	// UIURL is the Temporal Web UI ("" when unknown or disabled).
	UIURL string
	// TemporalAddress is the frontend the process talks to.
	TemporalAddress string
	// ProviderName is the worker's image provider ("" without a worker).
	ProviderName string

	log       *slog.Logger
	temporal  client.Client
	devSecret string
	idSecret  func() ([]byte, error) // set by jobsClient
	metrics   *metrics.Metrics
	serves    []any
	closers   []func() error
	closed    bool
	closeErr  error
}

// Serves returns what the process serves, as log attributes for its ready
// line: only what this composition really runs.
func (a *App) Serves() []any { return a.serves }

// Metrics returns the process's metrics (tests gather them).
func (a *App) Metrics() *metrics.Metrics { return a.metrics }

// Temporal returns the connected Temporal client.
func (a *App) Temporal() client.Client { return a.temporal }

// TemporalAPIKey is the embedded Temporal's frontend secret in dev ("" in
// the other modes): what another process needs as TEMPORAL_API_KEY to reach
// it (or it reads it from the data dir).
func (a *App) TemporalAPIKey() string { return a.devSecret }

// Served reports the HTTP server's exit.
func (a *App) Served() <-chan error { return a.Server.Served() }

// Close stops the parts in reverse order of start: HTTP first (no new
// jobs), then the worker, the Temporal client and the embedded Temporal.
func (a *App) Close() error {
	if a.closed {
		return a.closeErr
	}
	a.closed = true
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	a.closeErr = errors.Join(errs...)
	return a.closeErr
}

func (a *App) onClose(f func() error) { a.closers = append(a.closers, f) }

func (a *App) serve(attrs ...any) { a.serves = append(a.serves, attrs...) }

func newApp(opts Options) *App {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &App{log: opts.Logger, metrics: metrics.New()}
}

// StartDev runs everything in one process: an embedded Temporal server
// (SQLite in DataDir) with its Web UI, a worker, and the HTTP server with
// MCP, gallery, images and ops. It returns once all of it is ready.
func StartDev(ctx context.Context, opts Options) (_ *App, err error) {
	a := newApp(opts)
	defer closeOnError(a, &err)
	if err := privateDataDir(opts.DataDir); err != nil {
		return nil, err
	}
	srv, err := a.listen(opts, true)
	if err != nil {
		return nil, err
	}
	dev, err := devserver.Start(ctx, devserver.Options{
		DataDir:        filepath.Join(opts.DataDir, DevTemporalDir),
		Port:           opts.Dev.Port,
		UIPort:         opts.Dev.UIPort,
		Namespace:      opts.Temporal.Namespace,
		Retention:      opts.Dev.Retention,
		UIAllowedHosts: opts.Temporal.UIAllowedHosts,
		Logger:         a.log.With("component", "temporal"),
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded Temporal: %w", err)
	}
	a.onClose(dev.Stop)
	a.UIURL = dev.UIAddress()
	a.devSecret = dev.Secret()
	// The embedded server, over plaintext loopback, with its own secret.
	devConn := opts.Temporal
	devConn.APIKey, devConn.TLS = dev.Secret(), "false"
	devConn.TLSCert, devConn.TLSKey, devConn.TLSCA = "", "", ""
	if err := a.dial(ctx, devConn, dev.FrontendAddress()); err != nil {
		return nil, err
	}
	if a.UIURL != "" {
		a.serve("temporal_ui", a.UIURL)
	}
	store, err := a.store(ctx, opts, srv)
	if err != nil {
		return nil, err
	}
	if err := a.runWorker(ctx, opts, store); err != nil {
		return nil, err
	}
	a.mountFront(opts, srv, store)
	return a, a.runServer(ctx, opts, srv, store)
}

// StartServe runs the HTTP server with MCP, gallery, images and ops against
// an external Temporal.
func StartServe(ctx context.Context, opts Options) (_ *App, err error) {
	a := newApp(opts)
	defer closeOnError(a, &err)
	if opts.Storage.S3 == nil {
		if err := privateDataDir(opts.DataDir); err != nil {
			return nil, err
		}
	}
	srv, err := a.listen(opts, true)
	if err != nil {
		return nil, err
	}
	a.UIURL = opts.Temporal.UIURL
	if err := a.dial(ctx, opts.Temporal, opts.Temporal.Address); err != nil {
		return nil, err
	}
	if a.UIURL != "" {
		a.serve("temporal_ui", a.UIURL)
	}
	store, err := a.store(ctx, opts, srv)
	if err != nil {
		return nil, err
	}
	a.mountFront(opts, srv, store)
	return a, a.runServer(ctx, opts, srv, store)
}

// StartWorker runs a worker against an external Temporal, with an HTTP
// server for the ops routes only (/healthz, /readyz, /metrics).
func StartWorker(ctx context.Context, opts Options) (_ *App, err error) {
	a := newApp(opts)
	defer closeOnError(a, &err)
	if err := privateDataDir(opts.DataDir); err != nil {
		return nil, err
	}
	srv, err := a.listen(opts, false)
	if err != nil {
		return nil, err
	}
	if err := a.dial(ctx, opts.Temporal, opts.Temporal.Address); err != nil {
		return nil, err
	}
	store, err := a.store(ctx, opts, srv)
	if err != nil {
		return nil, err
	}
	if err := a.runWorker(ctx, opts, store); err != nil {
		return nil, err
	}
	return a, a.runServer(ctx, opts, srv, store)
}

// Stdio serves MCP over in/out against an external Temporal until ctx ends.
func Stdio(ctx context.Context, opts Options, in io.Reader, out io.Writer) (err error) {
	a := newApp(opts)
	defer a.Close()
	a.UIURL = opts.Temporal.UIURL
	if err := a.dial(ctx, opts.Temporal, opts.Temporal.Address); err != nil {
		return err
	}
	// Thumbnails in results need the store; a local one only where it exists
	// (a desktop client starts us in a directory of its choosing).
	var images imageReader
	if _, err := os.Stat(filepath.Join(opts.DataDir, "images")); opts.Storage.S3 != nil || err == nil {
		s, err := a.store(ctx, opts, nil)
		if err != nil {
			return err
		}
		images = s
	}
	return a.mcpServer(opts, images).ServeStdio(ctx, in, out)
}

// ConnectJobs connects to Temporal for operator commands and returns the job
// client and a function that closes the connection.
func ConnectJobs(ctx context.Context, opts Options) (*jobs.Client, func(), error) {
	a := newApp(opts)
	a.UIURL = opts.Temporal.UIURL
	if err := a.dial(ctx, opts.Temporal, opts.Temporal.Address); err != nil {
		return nil, nil, err
	}
	return a.jobsClient(opts), func() { a.Close() }, nil
}

func closeOnError(a *App, err *error) {
	if *err != nil {
		a.Close()
	}
}

// listen creates the HTTP server and binds it first, so that a port in use
// (or a public address without a token, where MCP is served) fails before
// anything else starts.
func (a *App) listen(opts Options, servesMCP bool) (*Server, error) {
	if servesMCP {
		if err := mcpserver.CheckListenAddr(opts.HTTP.Addr, opts.HTTP.AuthToken); err != nil {
			return nil, err
		}
	}
	// The Host check comes first and covers every route (gallery, images,
	// readyz, metrics and MCP alike): a DNS-rebound page learns nothing,
	// not even whether a token is set.
	guard := hostGuard(opts.HTTP)
	mw := append([]Middleware{guard.Host}, opts.HTTP.Middleware...)
	srv := NewServer(ServerOptions{Addr: opts.HTTP.Addr, Middleware: mw, Logger: a.log})
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	a.Server = srv
	a.Addr = srv.Addr()
	a.onClose(srv.Close)
	return srv, nil
}

// dial connects to Temporal, failing fast with the address tried, and makes
// sure the namespace has the service's search attributes: this is their one
// registration, on an embedded server and an external one alike.
func (a *App) dial(ctx context.Context, opts TemporalOptions, addr string) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	co, err := temporalConnection(opts, addr)
	if err != nil {
		return err
	}
	co.HostPort = addr
	co.Namespace = opts.Namespace
	co.Logger = sdklog.NewStructuredLogger(logging.AtLeast(a.log.With("component", "temporal-sdk"), slog.LevelWarn))
	co.MetricsHandler = a.metrics.TemporalHandler()
	c, err := client.DialContext(dctx, co)
	if err != nil {
		return fmt.Errorf("cannot reach Temporal at %s (TEMPORAL_ADDRESS): %w", addr, err)
	}
	a.temporal = c
	a.TemporalAddress = addr
	a.onClose(func() error { c.Close(); return nil })
	a.serve("temporal", addr, "namespace", opts.Namespace)
	if err := temporaladmin.EnsureSearchAttributes(dctx, c.OperatorService(), opts.Namespace, workflows.SearchAttributes()); err != nil {
		return err
	}
	return nil
}

// imageStore is what the process needs of a store: the worker writes to it,
// the MCP server reads thumbnails from it, readiness checks it.
type imageStore interface {
	activities.Store
	mcpserver.ImageReader
	Check(ctx context.Context) error
}

// store builds the configured image store. Local image URLs point at the
// bound HTTP server unless a public URL is configured.
func (a *App) store(ctx context.Context, opts Options, srv *Server) (imageStore, error) {
	if opts.Storage.S3 != nil {
		s, err := objectstore.NewS3(ctx, *opts.Storage.S3)
		if err != nil {
			return nil, fmt.Errorf("R2 storage: %w", err)
		}
		return s, nil
	}
	base := strings.TrimRight(opts.HTTP.PublicURL, "/")
	if base == "" {
		addr := opts.HTTP.Addr
		if srv != nil {
			addr = srv.Addr()
		}
		base = "http://" + addr
	}
	s, err := objectstore.NewLocal(filepath.Join(opts.DataDir, "images"), base)
	if err != nil {
		return nil, fmt.Errorf("local image store: %w", err)
	}
	return s, nil
}

// newFetcher builds the input image fetcher every worker hands its
// activities.
func newFetcher(o imagefetch.Options, log *slog.Logger) *imagefetch.Fetcher {
	if o.Logger == nil {
		o.Logger = log
	}
	return imagefetch.New(o)
}

// runWorker builds the provider and starts the worker component.
func (a *App) runWorker(ctx context.Context, opts Options, store imageStore) error {
	p, name, placeholder, err := a.provider(opts.Provider)
	if err != nil {
		return err
	}
	w := NewWorker(WorkerOptions{
		Temporal: a.temporal, Provider: providers.WithCallTimeout(p, opts.Provider.CallTimeout),
		ProviderName: name, Placeholder: placeholder, Store: store,
		StagingDir: filepath.Join(opts.DataDir, "staging"), Tuning: opts.Worker,
		Observer: a.metrics, Logger: a.log, Fetcher: newFetcher(opts.Fetch, a.log),
	})
	a.onClose(w.Close)
	if err := w.Run(ctx); err != nil {
		return err
	}
	a.Worker, a.ProviderName = w, name
	a.serve("provider", name, "data_dir", opts.DataDir)
	return nil
}

// provider builds the configured image provider.
func (a *App) provider(opts ProviderOptions) (p activities.Provider, name string, placeholder bool, err error) {
	if opts.Name == ProviderWorkersAI {
		r, err := realProviders(opts, a.log)
		return r, ProviderWorkersAI, false, err
	}
	a.log.Warn("!!! PREVIEW PROVIDER: no Cloudflare credentials, images are offline placeholders, NOT AI-generated. " +
		"Set CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN for real images.")
	if opts.OpenAI != nil {
		// Results carry one placeholder label per worker, so a real
		// OpenAI image must not come out of a preview worker.
		a.log.Warn("OPENAI_API_KEY is set but unused: the preview provider renders every model, openai-image included, as a placeholder")
	}
	return preview.New(preview.Options{Delay: opts.PreviewDelay}), ProviderPreview, true, nil
}

// realProviders builds the Workers AI client and, when configured, the
// OpenAI-compatible client, behind a router that picks by each model's
// Provider in the models table. Models of a provider left unconfigured fail
// at once, without retries, naming the models that do run here.
func realProviders(opts ProviderOptions, log *slog.Logger) (*providers.Router, error) {
	wai, err := workersai.New(opts.WorkersAI)
	if err != nil {
		return nil, err
	}
	routes := map[string]providers.Provider{ProviderWorkersAI: wai}
	if opts.OpenAI != nil {
		oai, err := openai.New(*opts.OpenAI)
		if err != nil {
			return nil, err
		}
		routes[openai.Provider] = oai
		log.Info("OpenAI-compatible images API configured", "endpoint", oai.Endpoint(), "model_override", opts.OpenAI.Model)
	}
	return providers.NewRouter(routes), nil
}

func (a *App) jobsClient(opts Options) *jobs.Client {
	if a.idSecret == nil {
		// Read (or created in the data dir) on the first idempotency key.
		a.idSecret = sync.OnceValues(func() ([]byte, error) { return jobIDSecret(opts) })
	}
	return jobs.New(a.temporal, jobs.Options{Namespace: opts.Temporal.Namespace, UIBaseURL: a.UIURL, Logger: a.log, IDSecret: a.idSecret,
		Budget: jobs.Budget{
			Daily: opts.Budget.Daily, PerJob: opts.Budget.PerJob, OrphanGrace: opts.Budget.OrphanGrace,
			// Free only where this process's own worker renders previews:
			// a server cannot know its workers' provider, so it reserves
			// estimates (a preview job then settles to 0).
			Free: a.Worker != nil && a.ProviderName == ProviderPreview,
		}})
}

func (a *App) mcpServer(opts Options, images imageReader) *mcpserver.Server {
	// Both stores (objectstore.Local, objectstore.S3) keep the image
	// records the gallery lists; see package history.
	hist, _ := images.(history.Store)
	inputs, _ := images.(mcpserver.InputStore)
	jc := a.jobsClient(opts)
	return mcpserver.New(mcpserver.Options{
		Jobs: jc, Budget: jc, Logger: a.log, Version: Version, MaxWait: opts.MaxWait,
		Placeholder: opts.Provider.Name == ProviderPreview, Observer: a.metrics, ImageReader: images,
		ImageOrigins: a.imageOrigins(images), History: hist, InputStore: inputs,
	})
}

// imageReader is what the MCP server needs of the store: images to read,
// and their URLs, whose origin the MCP Apps viewer may load images from.
type imageReader interface {
	mcpserver.ImageReader
	URL(ctx context.Context, key string) (string, error)
}

// imageOrigins is where the store's image URLs point (this server for local
// images, the R2 public base or the presign host), for the MCP Apps viewer's
// Content-Security-Policy. It asks the store for a URL rather than guessing.
func (a *App) imageOrigins(images imageReader) []string {
	if images == nil {
		return nil
	}
	u, err := images.URL(context.Background(), "viewer/origin.png")
	if err == nil {
		var origin string
		if origin, err = mcpserver.ImageOrigin(u); err == nil {
			return []string{origin}
		}
	}
	a.log.Warn("image viewer: no image origin for its Content-Security-Policy", "error", err)
	return nil
}

// mountFront mounts what people and assistants use: the MCP routes, the
// gallery at "/" (exact match, so it shadows no other route; it asks for
// the same token as the API through its login page) and, for a local
// store, the images under /images/.
func (a *App) mountFront(opts Options, srv *Server, store imageStore) {
	// One failure budget per client address for both ways of guessing the
	// token: bearer headers and the gallery's login form.
	limiter := authlimit.New(0, 0, a.log.With("component", "auth"))
	mh := a.mcpServer(opts, store).NewHTTP(mcpserver.HTTPOptions{AuthToken: opts.HTTP.AuthToken, AuthLimiter: limiter, Limits: opts.HTTP.MCPLimits})
	srv.MountStreams(mh.Routes(), mh.Shutdown)
	hist, _ := store.(history.Store)
	gal := gallery.New(gallery.Options{Jobs: a.jobsClient(opts), History: hist, AuthToken: opts.HTTP.AuthToken, AuthLimiter: limiter, DataDir: opts.DataDir, Logger: a.log.With("component", "gallery")})
	routes := map[string]http.Handler{}
	for _, pattern := range gallery.Patterns() {
		routes[pattern] = gal
	}
	if local, ok := store.(*objectstore.Local); ok {
		routes["/images/"] = http.StripPrefix("/images/", local.Handler())
	}
	srv.Mount(routes)
	a.MCPURL, a.SSEURL = srv.URL()+"/mcp", srv.URL()+"/sse"
	a.serve("mcp", a.MCPURL, "sse", a.SSEURL, "gallery", srv.URL()+"/")
}

// runServer mounts the ops routes, which every process serves, and starts
// serving.
func (a *App) runServer(ctx context.Context, opts Options, srv *Server, store imageStore) error {
	srv.Mount(ops.Routes(ops.Options{
		Checks: []ops.Check{
			{Name: "temporal", Run: func(ctx context.Context) error {
				_, err := a.temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
				return err
			}},
			{Name: "storage", Run: store.Check},
		},
		Metrics: a.metrics.Handler(),
		Logger:  a.log,
	}))
	a.serve("ops", srv.URL())
	return srv.Run(ctx)
}

// HistoryStore opens the configured image store for operator commands that
// read or write image records (imagegen history rebuild).
func HistoryStore(ctx context.Context, opts Options) (history.Writer, error) {
	a := newApp(opts)
	s, err := a.store(ctx, opts, nil)
	if err != nil {
		return nil, err
	}
	w, ok := s.(history.Writer)
	if !ok {
		return nil, fmt.Errorf("image store %T cannot list records", s)
	}
	return w, nil
}
