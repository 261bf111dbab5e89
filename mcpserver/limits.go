package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/mark3labs/mcp-go/server"
)

// Default bounds on the MCP routes' concurrent work (issue 13, finding 5).
// Each is an HTTPOptions field; these are what zero means.
const (
	// DefaultSSESessionsPerClient caps open /sse streams per client address.
	DefaultSSESessionsPerClient = 16
	// DefaultSSESessions caps open /sse streams in total.
	DefaultSSESessions = 256
	// DefaultCallsPerSession caps in-flight /message requests per SSE session.
	DefaultCallsPerSession = 8
	// DefaultCalls caps in-flight requests across /message and /mcp.
	DefaultCalls = 512
)

// limits counts open SSE streams and in-flight calls, refusing the excess at
// once (429) instead of queueing it.
type limits struct {
	perClient, sessions, perSession, calls int

	mu        sync.Mutex
	byClient  map[string]int
	open      int
	inFlight  int
	bySession map[string]map[*callSlot]struct{}
}

func newLimits(o Limits) *limits {
	def := func(v, d int) int {
		if v <= 0 {
			return d
		}
		return v
	}
	return &limits{
		perClient:  def(o.SSESessionsPerClient, DefaultSSESessionsPerClient),
		sessions:   def(o.SSESessions, DefaultSSESessions),
		perSession: def(o.CallsPerSession, DefaultCallsPerSession),
		calls:      def(o.Calls, DefaultCalls),
		byClient:   map[string]int{},
		bySession:  map[string]map[*callSlot]struct{}{},
	}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// sse bounds the open SSE streams per client address and in total.
func (l *limits) sse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := clientAddr(r)
		l.mu.Lock()
		var refusal string
		switch {
		case l.byClient[addr] >= l.perClient:
			refusal = fmt.Sprintf("too many SSE sessions from this client: at most %d open at once (IMAGEGEN_MAX_SSE_SESSIONS_PER_CLIENT)", l.perClient)
		case l.open >= l.sessions:
			refusal = fmt.Sprintf("too many SSE sessions: the server keeps at most %d open at once (IMAGEGEN_MAX_SSE_SESSIONS)", l.sessions)
		default:
			l.byClient[addr]++
			l.open++
		}
		l.mu.Unlock()
		if refusal != "" {
			w.Header().Set("Retry-After", "1")
			writeHTTPError(w, http.StatusTooManyRequests, refusal)
			return
		}
		defer func() {
			l.mu.Lock()
			if l.byClient[addr]--; l.byClient[addr] <= 0 {
				delete(l.byClient, addr)
			}
			l.open--
			l.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// callSlot is one in-flight call's place in the counts. mcp-go answers a
// /message POST with 202 and handles the message on its own goroutine, so
// the slot rides in the request's context and is released when that
// goroutine's context ends (see slotHooks), or at once when the message
// never reaches it.
type callSlot struct {
	l       *limits
	session string
	once    sync.Once

	mu     sync.Mutex
	cancel context.CancelFunc
	closed bool // the session's SSE stream ended
}

func (s *callSlot) release() {
	s.once.Do(func() {
		s.l.mu.Lock()
		defer s.l.mu.Unlock()
		s.l.inFlight--
		if s.session != "" {
			delete(s.l.bySession[s.session], s)
			if len(s.l.bySession[s.session]) == 0 {
				delete(s.l.bySession, s.session)
			}
		}
	})
}

// bind makes cancel end the call when its SSE stream closes (now, if it
// already has).
func (s *callSlot) bind(cancel context.CancelFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		cancel()
		return
	}
	s.cancel = cancel
}

func (s *callSlot) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
}

// acquire takes a slot, or says which limit refused it.
func (l *limits) acquire(session string) (*callSlot, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if session != "" && len(l.bySession[session]) >= l.perSession {
		return nil, fmt.Sprintf("too many calls in flight on this SSE session: at most %d at once (IMAGEGEN_MAX_CALLS_PER_SESSION); wait for a result", l.perSession)
	}
	if l.inFlight >= l.calls {
		return nil, fmt.Sprintf("server busy: at most %d MCP calls in flight at once (IMAGEGEN_MAX_CALLS); retry shortly", l.calls)
	}
	s := &callSlot{l: l, session: session}
	l.inFlight++
	if session != "" {
		if l.bySession[session] == nil {
			l.bySession[session] = map[*callSlot]struct{}{}
		}
		l.bySession[session][s] = struct{}{}
	}
	return s, ""
}

// closeSession cancels the calls still running for an SSE session whose
// stream ended: mcp-go runs them on a context detached from every request.
func (l *limits) closeSession(id string) {
	l.mu.Lock()
	slots := make([]*callSlot, 0, len(l.bySession[id]))
	for s := range l.bySession[id] {
		slots = append(slots, s)
	}
	l.mu.Unlock()
	for _, s := range slots {
		s.close()
	}
}

type slotKey struct{}

// jsonrpcHead is the part of a message mcp-go's HandleMessage looks at to
// decide whether the message is a request (which reaches the
// OnRequestInitialization hook) or not.
type jsonrpcHead struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	ID      any    `json:"id,omitempty"`
	Result  any    `json:"result,omitempty"`
}

// inflight bounds in-flight calls. async is true for /message, whose handler
// returns before the call is done.
func (l *limits) inflight(async bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		// The handler reads what was read, then the same error (a body over
		// the size limit), and answers as it would have.
		var rest io.Reader = bytes.NewReader(body)
		if err != nil {
			rest = io.MultiReader(rest, errReader{err})
		}
		r.Body = io.NopCloser(rest)
		var head jsonrpcHead
		isRequest := json.Unmarshal(body, &head) == nil && head.JSONRPC == "2.0" && head.ID != nil && head.Result == nil
		session := ""
		if async {
			session = r.URL.Query().Get("sessionId")
		}
		slot, refusal := l.acquire(session)
		if refusal != "" {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			json.NewEncoder(w).Encode(map[string]any{
				"jsonrpc": "2.0", "id": head.ID,
				"error": map[string]any{"code": -32000, "message": refusal},
			})
			return
		}
		if !async || !isRequest {
			defer slot.release()
			next.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), slotKey{}, slot)))
		if rec.status != http.StatusAccepted {
			slot.release() // refused before dispatch (unknown session, parse error)
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// addSlotHooks releases a /message call's slot when mcp-go's handling of it
// ends (its context is cancelled then), and cancels a session's calls when
// its SSE stream closes.
func (s *Server) addSlotHooks(h *server.Hooks) {
	h.AddOnRequestInitialization(func(ctx context.Context, _ any, _ any) error {
		if slot, ok := ctx.Value(slotKey{}).(*callSlot); ok {
			context.AfterFunc(ctx, slot.release)
		}
		return nil
	})
	h.AddOnUnregisterSession(func(_ context.Context, cs server.ClientSession) {
		if l := s.limits.Load(); l != nil {
			l.closeSession(cs.SessionID())
		}
	})
}

// bindSlot gives a tool call a context that ends when its SSE session does.
func bindSlot(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if slot, ok := ctx.Value(slotKey{}).(*callSlot); ok {
		slot.bind(cancel)
	}
	return ctx, cancel
}
