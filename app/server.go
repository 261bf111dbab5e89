package app

import (
	"context"
	"errors"
	"fmt"
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
}

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
// that would otherwise hold the shutdown up).
func (s *Server) Mount(routes map[string]http.Handler, onShutdown ...func(context.Context) error) {
	for pattern, h := range routes {
		s.mux.Handle(pattern, h)
	}
	s.shutdown = append(s.shutdown, onShutdown...)
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
	s.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
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
