package mcpserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/imagegen/imagegen/internal/authlimit"
)

// HTTPOptions configures the HTTP face of the server.
type HTTPOptions struct {
	// AuthToken, when set, is required as "Authorization: Bearer …" on the MCP
	// endpoints. See CheckListenAddr for when it may be empty.
	AuthToken string
	// AuthLimiter rate-limits wrong tokens per client address (nil: no limit).
	AuthLimiter *authlimit.Limiter
	// MaxBodyBytes caps request bodies on the MCP endpoints (default 1 MiB).
	MaxBodyBytes int64
	// AllowedOrigins are extra browser origins allowed to call the MCP
	// endpoints; loopback origins and the server's own are always allowed.
	AllowedOrigins []string
	// Limits bound concurrent SSE sessions and in-flight calls.
	Limits Limits
}

// Limits bound the MCP routes' concurrent work; the excess is answered 429
// at once. Zero means the Default… constant.
type Limits struct {
	// SSESessionsPerClient and SSESessions cap open /sse streams per client
	// address and in total.
	SSESessionsPerClient, SSESessions int
	// CallsPerSession and Calls cap in-flight calls per SSE session and
	// across /message and /mcp.
	CallsPerSession, Calls int
}

// HTTP serves MCP over Streamable HTTP (/mcp) and SSE (/sse + /message), and
// nothing else: the composition root mounts its Routes on the process's one
// mux, beside the routes of the other parts (health, gallery, images).
type HTTP struct {
	routes     map[string]http.Handler
	mux        *http.ServeMux // the routes alone, for ServeHTTP
	streamable *server.StreamableHTTPServer
	sse        *server.SSEServer
}

// NewHTTP builds the HTTP handler.
func (s *Server) NewHTTP(opts HTTPOptions) *HTTP {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	h := &HTTP{}
	h.streamable = server.NewStreamableHTTPServer(s.mcp,
		server.WithEndpointPath("/mcp"),
		// Stateless: no session to create first, so a bare tools/call works
		// (as in the original system's curl examples), and nothing to leak.
		server.WithStateLess(true),
		server.WithHeartbeatInterval(25*time.Second),
		server.WithStreamableHTTPLogger(s.log),
	)
	h.sse = server.NewSSEServer(s.mcp,
		server.WithSSEEndpoint("/sse"),
		server.WithMessageEndpoint("/message"),
		server.WithKeepAlive(true),
		server.WithKeepAliveInterval(25*time.Second),
	)
	protect := func(next http.Handler) http.Handler {
		next = http.MaxBytesHandler(next, opts.MaxBodyBytes)
		next = requireOrigin(opts.AllowedOrigins, next)
		return requireBearer(opts.AuthToken, opts.AuthLimiter, next)
	}
	lim := newLimits(opts.Limits)
	s.limits.Store(lim)
	h.routes = map[string]http.Handler{
		"/mcp":     protect(lim.inflight(false, s.TaskDispatch(h.streamable))),
		"/sse":     protect(lim.sse(h.sse.SSEHandler())),
		"/message": protect(lim.inflight(true, h.sse.MessageHandler())),
	}
	h.mux = http.NewServeMux()
	for pattern, handler := range h.routes {
		h.mux.Handle(pattern, handler)
	}
	return h
}

// Routes returns the MCP routes, pattern to handler, each behind the bearer
// token, the origin check and the body limit.
func (h *HTTP) Routes() map[string]http.Handler { return h.routes }

// ServeHTTP serves the MCP routes alone (tests; the service mounts Routes).
func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Shutdown closes MCP sessions so that open SSE streams end and an
// http.Server can finish shutting down.
func (h *HTTP) Shutdown(ctx context.Context) error {
	h.sse.CloseSessions()
	h.streamable.CloseSessions(ctx)
	return nil
}

// requireBearer checks the bearer token in constant time (comparing digests,
// so not even the token's length leaks through timing).
func requireBearer(token string, limiter *authlimit.Limiter, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if limiter.Blocked(w, r) {
			return
		}
		// The scheme is case-insensitive (RFC 6750 section 2.1, RFC 9110
		// section 11.1).
		scheme, got, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		ok = ok && strings.EqualFold(scheme, "Bearer")
		gotSum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 || !ok {
			limiter.Failed(r)
			w.Header().Set("WWW-Authenticate", `Bearer realm="imagegen"`)
			writeHTTPError(w, http.StatusUnauthorized, "missing or invalid bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireOrigin refuses browser requests from foreign origins, the defence
// the MCP spec asks for against DNS rebinding. Requests without an Origin
// header (every non-browser client) pass.
func requireOrigin(extra []string, next http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, o := range extra {
		allowed[strings.TrimRight(strings.ToLower(o), "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || originAllowed(origin, r.Host, allowed) {
			next.ServeHTTP(w, r)
			return
		}
		writeHTTPError(w, http.StatusForbidden, "origin not allowed")
	})
}

func originAllowed(origin, host string, allowed map[string]bool) bool {
	if allowed[strings.ToLower(origin)] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	return isLoopbackHost(u.Hostname())
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func writeHTTPError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// MinPublicTokenLength is the shortest token accepted on a non-loopback
// address, where anyone on the network can try guesses.
const MinPublicTokenLength = 32

// CheckListenAddr refuses to serve without a token on anything but a
// loopback address: an open image generator on a network spends money.
func CheckListenAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	loopback := host != "" && isLoopbackHost(host)
	if token != "" {
		if !loopback && len(token) < MinPublicTokenLength {
			return fmt.Errorf("refusing to listen on %s with a %d-character IMAGEGEN_AUTH_TOKEN: beyond loopback it must be at least %d characters (e.g. openssl rand -hex 32)", addr, len(token), MinPublicTokenLength)
		}
		return nil
	}
	if !loopback {
		return errors.New("refusing to listen on " + addr + " without IMAGEGEN_AUTH_TOKEN: set a token, or listen on 127.0.0.1")
	}
	return nil
}
