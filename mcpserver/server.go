// Package mcpserver exposes image generation to AI assistants over MCP: the
// tool table, its handlers, and the HTTP and stdio transports. It knows jobs,
// not Temporal, and nothing of any provider.
package mcpserver

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/jobs"
)

// JobService is what the tools need from the job layer (jobs.Client in
// production).
type JobService interface {
	StartWith(ctx context.Context, req imagegen.Request, opts jobs.StartOptions) (jobs.Job, bool, error)
	Get(ctx context.Context, id string) (jobs.Job, error)
	Wait(ctx context.Context, id string, timeout time.Duration) (jobs.Job, bool, error)
	// Watch is Wait that calls onProgress each time the job moves on.
	Watch(ctx context.Context, id string, timeout time.Duration, onProgress func(jobs.Progress)) (jobs.Job, bool, error)
	List(ctx context.Context, opts jobs.ListOptions) ([]jobs.Job, error)
	Cancel(ctx context.Context, id string) (jobs.Job, error)
	Retry(ctx context.Context, id, reason string) (jobs.Job, error)
}

// MaxWait caps every blocking tool call: MCP clients commonly give up on a
// tool call after about 60 s.
const MaxWait = 60 * time.Second

// Options configures the MCP server.
type Options struct {
	Jobs    JobService
	Logger  *slog.Logger
	Version string
	// MaxWait overrides MaxWait (tests use a short one); 0 = MaxWait.
	MaxWait time.Duration
	// Placeholder says the service runs the offline preview provider, so tool
	// descriptions and results can say images are placeholders.
	Placeholder bool
	// Observer, if set, records tool calls and waiters (metrics.Metrics).
	Observer Observer
	// ImageReader, if set, reads thumbnails and images for tool results and
	// resources; without it results carry links only.
	ImageReader ImageReader
	// ImageOrigins are the origins image URLs point at (the server's own for
	// local images, the R2 public base or presign host otherwise): the MCP
	// Apps viewer's Content-Security-Policy allows images from exactly these.
	// An entry that is not an origin is logged and left out.
	ImageOrigins []string
	// History, if set, is the store of image records (package history):
	// list_generations reads it, and get_job_status falls back to it for
	// jobs past Temporal's retention. Nil lists from visibility alone.
	History history.Store
	// InputStore, if set, keeps the inline (data: URL) input images of
	// edits; without it they are refused with advice.
	InputStore InputStore
	// Budget, if set, reads the day's budget for get_budget (jobs.Client);
	// nil: get_budget says no budget is set.
	Budget BudgetReader
}

// Observer is told about tool calls and blocked waiters.
type Observer interface {
	ToolCall(tool, outcome string, d time.Duration)
	WaiterAdd(delta int)
}

// Server is the MCP server with its tools registered.
type Server struct {
	mcp     *server.MCPServer
	jobs    JobService
	log     *slog.Logger
	maxWait time.Duration
	opts    Options
	// limits are the HTTP face's call bounds (set by NewHTTP), which the
	// session hooks consult.
	limits atomic.Pointer[limits]
	// imageOrigins is Options.ImageOrigins, checked and sorted.
	imageOrigins []string
	// retention caches the namespace retention, the tasks' ttl (tasks.go).
	retention retentionCache
}

// New builds the MCP server and registers every tool of the table.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxWait <= 0 || opts.MaxWait > MaxWait {
		opts.MaxWait = MaxWait
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := &Server{jobs: opts.Jobs, log: opts.Logger, maxWait: opts.MaxWait, opts: opts}
	for _, o := range opts.ImageOrigins {
		if _, err := viewerOrigins([]string{o}); err != nil {
			s.log.Error("image viewer: image origin left out of its Content-Security-Policy", "error", err)
			continue
		}
		s.imageOrigins = append(s.imageOrigins, o)
	}
	s.imageOrigins, _ = viewerOrigins(s.imageOrigins)
	s.mcp = server.NewMCPServer("imagegen", opts.Version,
		server.WithToolCapabilities(false),
		server.WithRecovery(),
		server.WithStrictInputSchemaDefault(),
		server.WithInstructions(instructions),
		server.WithToolHandlerMiddleware(s.observeTools),
		server.WithResourceCapabilities(false, false),
		server.WithHooks(s.hooks()),
	)
	for _, t := range s.tools() {
		s.mcp.AddTool(t.Tool, t.Handler)
	}
	s.registerResources()
	s.registerViewer()
	return s
}

// MCP returns the underlying mcp-go server (for transports and tests).
func (s *Server) MCP() *server.MCPServer { return s.mcp }

const instructions = `Generate images from text prompts. Easiest: call generate_image_and_wait with a prompt; it returns the image URL (FLUX Schnell takes about 10 s). ` +
	`For long jobs call generate_image, then wait_for_completion with the job_id (repeat it if it says the job is still running). ` +
	`Browse past images with list_generations; see all jobs with list_jobs. ` +
	`Images may cost money: get_budget shows what today's budget has left before you start costly jobs.`

// observeTools records every tool call's outcome and duration, and logs
// infrastructure failures with the tool's name.
func (s *Server) observeTools(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		ctx, cancel := bindSlot(ctx)
		defer cancel()
		res, err := next(ctx, req)
		if s.opts.Observer != nil {
			outcome := "ok"
			switch {
			case err != nil:
				outcome = "protocol_error"
			case res != nil && res.IsError:
				outcome = "tool_error"
			}
			s.opts.Observer.ToolCall(req.Params.Name, outcome, time.Since(start))
		}
		return res, err
	}
}

func (s *Server) waiterAdd(delta int) {
	if s.opts.Observer != nil {
		s.opts.Observer.WaiterAdd(delta)
	}
}
