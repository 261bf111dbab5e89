package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/devserver"
	"github.com/imagegen/imagegen/gallery"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/mcpserver"
	"github.com/imagegen/imagegen/metrics"
	"github.com/imagegen/imagegen/objectstore"
	"github.com/imagegen/imagegen/preview"
	"github.com/imagegen/imagegen/workflows"
)

// Version is reported to MCP clients.
const Version = "0.1.0"

// App is a running service: whichever of the embedded Temporal, worker and
// HTTP server its mode needs. Close stops it gracefully.
type App struct {
	cfg Config
	log *slog.Logger

	dev      *devserver.Server
	temporal client.Client
	images   imageStore
	metrics  *metrics.Metrics
	opsOnly  bool // worker: HTTP serves health and metrics only
	checks   []check
	workers  []worker.Worker
	http     *http.Server
	mcpHTTP  *mcpserver.HTTP
	served   chan error

	// Addr is the address the HTTP server is bound to (host:port).
	Addr string
	// MCPURL is the Streamable HTTP endpoint; SSEURL the legacy SSE one.
	MCPURL, SSEURL string
	// UIURL is the Temporal Web UI ("" when unknown or disabled).
	UIURL string
	// TemporalAddress is the frontend the service talks to.
	TemporalAddress string
	// ProviderName is the image provider in use.
	ProviderName string

	closeOnce sync.Once
	closeErr  error
}

// Dev starts everything in one process: an embedded Temporal server (SQLite
// in cfg.DataDir) with its Web UI, a worker, the MCP HTTP server and the
// local image store. It returns once all of it is ready.
func Dev(ctx context.Context, cfg Config, log *slog.Logger) (_ *App, err error) {
	cfg = cfg.Defaults()
	a := &App{cfg: cfg, log: log, metrics: metrics.New()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.prepare(true); err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dataDir, err)
	}
	a.dev, err = devserver.Start(ctx, devserver.Options{
		DataDir:          filepath.Join(dataDir, "temporal"),
		Port:             cfg.TemporalPort,
		UIPort:           cfg.UIPort,
		Namespace:        cfg.TemporalNamespace,
		Retention:        cfg.Retention,
		SearchAttributes: workflows.SearchAttributes(),
		Logger:           log.With("component", "temporal"),
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded Temporal: %w", err)
	}
	a.TemporalAddress = a.dev.FrontendAddress()
	a.UIURL = a.dev.UIAddress()
	if err := a.dial(ctx, a.TemporalAddress); err != nil {
		return nil, err
	}
	if err := a.startWorker(ctx, dataDir); err != nil {
		return nil, err
	}
	if err := a.startHTTP(dataDir); err != nil {
		return nil, err
	}
	return a, nil
}

// Serve starts the MCP HTTP server against an external Temporal.
func Serve(ctx context.Context, cfg Config, log *slog.Logger) (_ *App, err error) {
	cfg = cfg.Defaults()
	a := &App{cfg: cfg, log: log, UIURL: cfg.TemporalUIURL, metrics: metrics.New()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.prepare(true); err != nil {
		return nil, err
	}
	if err := a.dial(ctx, cfg.TemporalAddress); err != nil {
		return nil, err
	}
	dataDir, _ := filepath.Abs(cfg.DataDir)
	if err := a.startHTTP(dataDir); err != nil {
		return nil, err
	}
	return a, nil
}

// Worker starts a worker against an external Temporal. Its HTTP listener
// serves only /healthz, /readyz and /metrics.
func Worker(ctx context.Context, cfg Config, log *slog.Logger) (_ *App, err error) {
	cfg = cfg.Defaults()
	a := &App{cfg: cfg, log: log, metrics: metrics.New(), opsOnly: true}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.prepare(true); err != nil {
		return nil, err
	}
	if err := a.dial(ctx, cfg.TemporalAddress); err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if err := a.startWorker(ctx, dataDir); err != nil {
		return nil, err
	}
	a.http.Handler = a.opsMux()
	return a, nil
}

// Stdio serves MCP over in/out against an external Temporal until ctx ends.
func Stdio(ctx context.Context, cfg Config, log *slog.Logger, in io.Reader, out io.Writer) error {
	cfg = cfg.Defaults()
	a := &App{cfg: cfg, log: log, UIURL: cfg.TemporalUIURL, metrics: metrics.New()}
	defer a.Close()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := a.dial(ctx, cfg.TemporalAddress); err != nil {
		return err
	}
	// Thumbnails in results need the store; a local one only where it exists
	// (a desktop client starts us in a directory of its choosing).
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "images")); cfg.UsesR2() || err == nil {
		if _, err := a.imageStore(ctx, cfg.DataDir); err != nil {
			return err
		}
	}
	return a.mcpServer().ServeStdio(ctx, in, out)
}

// prepare validates the configuration and, for modes with HTTP, binds the
// listener first so that a port in use fails before anything else starts.
func (a *App) prepare(withHTTP bool) error {
	if err := a.cfg.Validate(); err != nil {
		return err
	}
	if !withHTTP {
		return nil
	}
	// A worker serves only health and metrics, which need no token.
	if !a.opsOnly {
		if err := mcpserver.CheckListenAddr(a.cfg.Addr, a.cfg.AuthToken); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another imagegen running? set IMAGEGEN_ADDR or --addr)", a.cfg.Addr, errors.Unwrap(err))
	}
	a.Addr = ln.Addr().String()
	a.MCPURL = "http://" + a.Addr + "/mcp"
	a.SSEURL = "http://" + a.Addr + "/sse"
	a.http = &http.Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	a.served = make(chan error, 1)
	go func() { a.served <- a.http.Serve(ln) }()
	return nil
}

// dial connects to Temporal, failing fast with the address tried.
func (a *App) dial(ctx context.Context, addr string) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.DialContext(dctx, client.Options{
		HostPort:       addr,
		Namespace:      a.cfg.TemporalNamespace,
		Logger:         sdklog.NewStructuredLogger(quiet(a.log.With("component", "temporal-sdk"))),
		MetricsHandler: a.metrics.TemporalHandler(),
	})
	if err != nil {
		return fmt.Errorf("cannot reach Temporal at %s (TEMPORAL_ADDRESS): %w", addr, err)
	}
	a.temporal = c
	a.checks = append(a.checks, temporalCheck(c))
	if a.dev == nil {
		if err := ensureSearchAttributes(dctx, c, a.cfg.TemporalNamespace); err != nil {
			return err
		}
	}
	return nil
}

// startWorker builds the provider and store and runs two workers: one on the
// shared queue (workflows, generation) and one on this worker's own staging
// queue (uploads of images staged here).
func (a *App) startWorker(ctx context.Context, dataDir string) error {
	store, err := a.imageStore(ctx, dataDir)
	if err != nil {
		return err
	}
	a.checks = append(a.checks, storageCheck(store))
	acts := &activities.Activities{Images: store, Logger: a.log, Observer: a.metrics}
	switch a.cfg.Provider {
	case ProviderWorkersAI:
		p, err := a.realProviders()
		if err != nil {
			return err
		}
		acts.Provider, acts.ProviderName = p, ProviderWorkersAI
	default:
		acts.Provider, acts.ProviderName, acts.Placeholder = preview.New(), ProviderPreview, true
		a.log.Warn("!!! PREVIEW PROVIDER: no Cloudflare credentials, images are offline placeholders, NOT AI-generated. " +
			"Set CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN for real images.")
		if a.cfg.OpenAIAPIKey != "" {
			// Results carry one placeholder label per worker, so a real
			// OpenAI image must not come out of a preview worker.
			a.log.Warn("OPENAI_API_KEY is set but unused: the preview provider renders every model, openai-image included, as a placeholder")
		}
	}
	acts.Provider = withCallTimeout(acts.Provider, a.cfg.ProviderTimeout)
	a.ProviderName = acts.ProviderName
	acts.Staging, err = activities.OpenStaging(filepath.Join(dataDir, "staging"), "imagegen-store")
	if err != nil {
		return err
	}
	if n := acts.Staging.Sweep(48 * time.Hour); n > 0 {
		a.log.Info("removed stale staged images", "count", n)
	}
	for _, queue := range []string{workflows.TaskQueue, acts.Staging.Queue()} {
		w := worker.New(a.temporal, queue, worker.Options{WorkerStopTimeout: 15 * time.Second})
		if queue == workflows.TaskQueue {
			workflows.Register(w)
		}
		w.RegisterActivity(acts)
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker on %s: %w", queue, err)
		}
		a.workers = append(a.workers, w)
	}
	return nil
}

// imageStore is what the app needs of a store beyond the activities' view.
type imageStore interface {
	activities.Store
	mcpserver.ImageReader
	Check(ctx context.Context) error
}

// imageStore builds the configured store once: the worker writes to it, the
// MCP server reads thumbnails from it.
func (a *App) imageStore(ctx context.Context, dataDir string) (imageStore, error) {
	if a.images != nil {
		return a.images, nil
	}
	s, err := a.store(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	a.images = s
	return s, nil
}

func (a *App) store(ctx context.Context, dataDir string) (imageStore, error) {
	if a.cfg.UsesR2() {
		s, err := objectstore.NewS3(ctx, objectstore.S3Config{
			Bucket: a.cfg.R2Bucket, AccessKeyID: a.cfg.R2AccessKeyID, SecretAccessKey: a.cfg.R2SecretAccessKey,
			Endpoint: a.cfg.R2Endpoint, PublicBaseURL: a.cfg.R2PublicURL, UsePathStyle: a.cfg.R2PathStyle,
			// The Store activity's retry policy owns retries and backoff.
			MaxAttempts: 1,
		})
		if err != nil {
			return nil, fmt.Errorf("R2 storage: %w", err)
		}
		return s, nil
	}
	base := a.cfg.PublicURL
	if base == "" {
		base = a.cfg.publicURL(a.cfg.Addr)
		if a.Addr != "" {
			base = a.cfg.publicURL(a.Addr)
		}
	}
	s, err := objectstore.NewLocal(filepath.Join(dataDir, "images"), base)
	if err != nil {
		return nil, fmt.Errorf("local image store: %w", err)
	}
	return s, nil
}

func (a *App) jobsClient() *jobs.Client {
	return jobs.New(a.temporal, jobs.Options{Namespace: a.cfg.TemporalNamespace, UIBaseURL: a.UIURL, Logger: a.log})
}

func (a *App) mcpServer() *mcpserver.Server {
	return mcpserver.New(mcpserver.Options{
		Jobs: a.jobsClient(), Logger: a.log, Version: Version, MaxWait: a.cfg.MaxWait,
		Placeholder: a.cfg.Provider == ProviderPreview, Observer: a.metrics, Images: a.images,
	})
}

// startHTTP mounts the MCP endpoints (and local images) on the bound listener.
func (a *App) startHTTP(dataDir string) error {
	opts := mcpserver.HTTPOptions{AuthToken: a.cfg.AuthToken}
	hadStore := a.images != nil // dev: the worker built it and checks it
	store, err := a.imageStore(context.Background(), dataDir)
	if err != nil {
		return err
	}
	if !hadStore {
		a.checks = append(a.checks, storageCheck(store))
	}
	if local, ok := store.(*objectstore.Local); ok {
		opts.Images = local.Handler()
	}
	opts.Extra = map[string]http.Handler{
		"GET /readyz":  readyHandler(a.log, a.checks),
		"GET /metrics": a.metrics.Handler(),
	}
	// The gallery for people at "/" (exact match, so it shadows no other
	// route); it asks for the same token as the API through its login page.
	gal := gallery.New(gallery.Options{Jobs: a.jobsClient(), AuthToken: a.cfg.AuthToken, Logger: a.log.With("component", "gallery")})
	for _, pattern := range gallery.Patterns() {
		opts.Extra[pattern] = gal
	}
	a.mcpHTTP = a.mcpServer().NewHTTP(opts)
	a.http.Handler = a.mcpHTTP
	return nil
}

// opsMux serves the unauthenticated operational routes of a worker.
func (a *App) opsMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.Handle("GET /readyz", readyHandler(a.log, a.checks))
	mux.Handle("GET /metrics", a.metrics.Handler())
	return mux
}

// Metrics returns the service's metrics (tests gather them).
func (a *App) Metrics() *metrics.Metrics { return a.metrics }

// Close stops the service gracefully: HTTP first (no new jobs), then the
// workers (in-flight activities get WorkerStopTimeout to finish, otherwise
// Temporal retries them elsewhere), then Temporal. Bounded in time.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var errs []error
		if a.http != nil {
			if a.mcpHTTP != nil {
				a.mcpHTTP.Shutdown(ctx)
			}
			if err := a.http.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
				a.http.Close()
			}
		}
		for _, w := range a.workers {
			w.Stop()
		}
		if a.temporal != nil {
			a.temporal.Close()
		}
		if a.dev != nil {
			if err := a.dev.Stop(); err != nil {
				errs = append(errs, err)
			}
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}

// Served reports the HTTP server's exit (nil channel for workers).
func (a *App) Served() <-chan error { return a.served }

// Temporal returns the connected Temporal client (tests, operator commands).
func (a *App) Temporal() client.Client { return a.temporal }

// Jobs connects to Temporal for operator commands and returns the job
// client and a function that closes the connection.
func Jobs(ctx context.Context, cfg Config, log *slog.Logger) (*jobs.Client, func(), error) {
	cfg = cfg.Defaults()
	a := &App{cfg: cfg, log: log, UIURL: cfg.TemporalUIURL, metrics: metrics.New()}
	if err := a.dial(ctx, cfg.TemporalAddress); err != nil {
		return nil, nil, err
	}
	return a.jobsClient(), func() { a.temporal.Close() }, nil
}
