package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Middleware wraps a handler; see ServerOptions.Middleware.
type Middleware func(http.Handler) http.Handler

// ServerOptions configure the HTTP server component.
type ServerOptions struct {
	// Addr is the listen address (host:port; port 0 picks a free one).
	Addr string
	// Middleware wraps the whole mux, every route included; the first one
	// listed is the outermost. This is where a check that applies to every
	// route (host allowlist, request logging) goes.
	Middleware []Middleware
	Logger     *slog.Logger
	// BodyReadTimeout bounds how long a request's body may take to arrive,
	// from the start of its handler (default DefaultBodyReadTimeout), on
	// every route: a client trickling a body cannot hold a handler.
	BodyReadTimeout time.Duration
	// WriteTimeout bounds how long the response of a route mounted with
	// Mount may take (default DefaultWriteTimeout). Routes mounted with
	// MountStreams (SSE, Streamable HTTP, blocking tool calls) have none.
	WriteTimeout time.Duration
}

// Defaults of ServerOptions' bounds. Headers must arrive within
// headerTimeout and an idle keep-alive connection closes after idleTimeout.
const (
	DefaultBodyReadTimeout = 20 * time.Second
	DefaultWriteTimeout    = 2 * time.Minute
	headerTimeout          = 10 * time.Second
	idleTimeout            = 2 * time.Minute
)

// Server is the process's HTTP server: one listener and one mux, on which
// each part mounts its own routes (ops, MCP, gallery, images) before Run.
// Mounting a pattern twice panics, so no route can be served twice.
type Server struct {
	opts     ServerOptions
	mux      *http.ServeMux
	ln       net.Listener
	http     *http.Server
	served   chan error
	shutdown []func(context.Context) error

	closeOnce sync.Once
	closeErr  error
}

// NewServer returns a server with an empty mux; nothing is bound yet.
func NewServer(opts ServerOptions) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BodyReadTimeout <= 0 {
		opts.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	return &Server{opts: opts, mux: http.NewServeMux()}
}

// Listen binds the address, so that a port in use fails before anything
// else starts. Run calls it if it has not been called.
func (s *Server) Listen() error {
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another imagegen running? set IMAGEGEN_ADDR or --addr)", s.opts.Addr, errors.Unwrap(err))
	}
	s.ln = ln
	return nil
}

// Addr is the bound host:port ("" before Listen).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL is the server's base URL, http://host:port ("" before Listen).
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.Addr()
}

// Mount adds routes (pattern to handler, net/http ServeMux patterns) and
// functions that Close calls before the server shuts down (to end streams
// that would otherwise hold the shutdown up). Their bodies must arrive
// within BodyReadTimeout and their responses be written within
// WriteTimeout.
func (s *Server) Mount(routes map[string]http.Handler, onShutdown ...func(context.Context) error) {
	s.mount(routes, true, onShutdown)
}

// MountStreams is Mount for routes whose responses last (SSE, Streamable
// HTTP streams, tool calls that block up to a minute): their bodies are
// bounded in time, their responses are not (they end with their stream,
// the client or Close).
func (s *Server) MountStreams(routes map[string]http.Handler, onShutdown ...func(context.Context) error) {
	s.mount(routes, false, onShutdown)
}

func (s *Server) mount(routes map[string]http.Handler, boundWrite bool, onShutdown []func(context.Context) error) {
	for pattern, h := range routes {
		s.mux.Handle(pattern, s.bounded(h, boundWrite))
	}
	s.shutdown = append(s.shutdown, onShutdown...)
}

// bounded sets per-request deadlines through http.ResponseController, rather
// than http.Server's ReadTimeout and WriteTimeout, which apply to every
// route alike and would cut streams. The read deadline is set only for a
// request with a body, and cleared once the body has arrived: after it,
// net/http keeps reading the connection in the background (to notice the
// client leaving), and a deadline expiring there would cancel the request's
// context in the middle of a long tool call. (net/http 1.26 clears it too
// when it starts that read; clearing here does not depend on it.)
func (s *Server) bounded(h http.Handler, boundWrite bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if boundWrite {
			if err := rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
				s.opts.Logger.Warn("http: set write deadline", "error", err)
			}
		}
		if r.Body != nil && r.Body != http.NoBody {
			if err := rc.SetReadDeadline(time.Now().Add(s.opts.BodyReadTimeout)); err == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			} else if !errors.Is(err, http.ErrNotSupported) {
				s.opts.Logger.Warn("http: set read deadline", "error", err)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody clears the connection's read deadline once the body has been
// read to its end.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	cleared bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.cleared {
		b.cleared = true
		b.rc.SetReadDeadline(time.Time{}) // best effort: the body is in
	}
	return n, err
}

// Run starts serving in the background and returns at once; Served reports
// when serving stops for another reason than Close.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	var h http.Handler = s.mux
	for i := len(s.opts.Middleware) - 1; i >= 0; i-- {
		h = s.opts.Middleware[i](h)
	}
	s.http = &http.Server{Handler: h, ReadHeaderTimeout: headerTimeout, IdleTimeout: idleTimeout}
	s.served = make(chan error, 1)
	go func() { s.served <- s.http.Serve(s.ln) }()
	return nil
}

// Served reports the end of serving (after Run).
func (s *Server) Served() <-chan error { return s.served }

// Close ends open streams, then shuts the server down gracefully, bounded
// in time. Safe to call more than once, and before Run.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var errs []error
		for _, f := range s.shutdown {
			if err := f(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		switch {
		case s.http != nil:
			if err := s.http.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
				s.http.Close()
			}
		case s.ln != nil:
			s.ln.Close()
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
