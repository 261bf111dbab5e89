// Package authlimit rate-limits failed authentication per client address:
// wrong bearer tokens on the MCP routes and wrong tokens on the gallery's
// login. Each address may fail Burst times at once, then once per Every;
// beyond that it is answered 429 with Retry-After before its credentials
// are even compared. Failures are logged as summaries, not one line each.
package authlimit

import (
	"context"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults: 10 failures at once, then one every 6 s (10 a minute).
const (
	DefaultBurst = 10
	DefaultEvery = 6 * time.Second
	// maxClients bounds the table; full limiters (clients in good standing)
	// are dropped first when it is reached.
	maxClients = 10000
)

// Limiter counts failures per client address. The zero value is not usable;
// call New. A nil *Limiter allows everything.
type Limiter struct {
	every time.Duration
	burst int
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*client
}

type client struct {
	lim        *rate.Limiter
	failures   int // since the last summary line
	blocked    int // refusals since the last summary line
	lastLogged time.Time
}

// New returns a limiter; every <= 0 or burst <= 0 take the defaults.
func New(every time.Duration, burst int, log *slog.Logger) *Limiter {
	if every <= 0 {
		every = DefaultEvery
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Limiter{every: every, burst: burst, log: log, now: time.Now, clients: map[string]*client{}}
}

// Addr is the client address requests are counted under: the connection's
// IP (a proxy's X-Forwarded-For is not trusted; behind a proxy every client
// shares its address, which still caps guessing).
func Addr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Blocked reports whether addr has used up its failures, and if so writes a
// 429 with Retry-After. Call it before checking credentials.
func (l *Limiter) Blocked(w http.ResponseWriter, r *http.Request) bool {
	if l == nil {
		return false
	}
	addr := Addr(r)
	now := l.now()
	l.mu.Lock()
	c := l.clients[addr]
	var wait time.Duration
	if c != nil && c.lim.TokensAt(now) < 1 {
		res := c.lim.ReserveN(now, 1)
		wait = res.DelayFrom(now)
		res.CancelAt(now)
		c.blocked++
		l.summarize(addr, c, now)
	}
	l.mu.Unlock()
	if wait <= 0 {
		return false
	}
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	http.Error(w, "too many failed authentication attempts from your address: retry after "+strconv.Itoa(secs)+" s", http.StatusTooManyRequests)
	return true
}

// Failed records one failed attempt of r's client.
func (l *Limiter) Failed(r *http.Request) {
	if l == nil {
		return
	}
	addr := Addr(r)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[addr]
	if c == nil {
		if len(l.clients) >= maxClients {
			l.sweep(now)
		}
		c = &client{lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.clients[addr] = c
	}
	c.lim.AllowN(now, 1)
	c.failures++
	l.summarize(addr, c, now)
}

// summarize logs at most one line per client per minute, with the counts
// since the previous line.
func (l *Limiter) summarize(addr string, c *client, now time.Time) {
	if !c.lastLogged.IsZero() && now.Sub(c.lastLogged) < time.Minute {
		return
	}
	l.log.LogAttrs(context.Background(), slog.LevelWarn, "failed authentication",
		slog.String("remote", addr), slog.Int("failures", c.failures), slog.Int("refused_rate_limited", c.blocked))
	c.failures, c.blocked, c.lastLogged = 0, 0, now
}

// sweep drops clients whose limiter has refilled (they are in good standing);
// if none has, it drops them all rather than grow without bound.
func (l *Limiter) sweep(now time.Time) {
	for addr, c := range l.clients {
		if c.lim.TokensAt(now) >= float64(l.burst) {
			delete(l.clients, addr)
		}
	}
	if len(l.clients) >= maxClients {
		clear(l.clients)
	}
}
