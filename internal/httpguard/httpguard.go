// Package httpguard holds the HTTP checks every listener of imagegen puts in
// front of its routes: a Host allowlist against DNS rebinding and an Origin
// check against cross-site requests.
//
// DNS rebinding: a page on evil.example makes its own name resolve to
// 127.0.0.1, so the victim's browser sends it requests for loopback services
// as if same-origin, with "Host: evil.example". A loopback service that
// accepts only loopback names (and names its operator configured) in Host
// cannot be reached that way.
package httpguard

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Guard is a Host allowlist. Loopback names (localhost, 127.0.0.0/8, ::1)
// are always allowed; Hosts adds names (or IPs) the service is reached under
// from elsewhere, e.g. the host of IMAGEGEN_PUBLIC_URL. Ports are ignored: a
// rebinding attacker controls the name, not the port.
type Guard struct {
	Hosts []string
	// Strict checks Host on every connection; otherwise only on loopback
	// ones (where rebinding strikes), so a service behind a load balancer
	// keeps answering health checks addressed to its IP.
	Strict bool
}

// New returns a Guard allowing the given extra host names. Entries may be
// bare names, host:port pairs or URLs; empty entries are skipped.
func New(hosts ...string) Guard {
	var g Guard
	for _, h := range hosts {
		if h = hostOnly(h); h != "" {
			g.Hosts = append(g.Hosts, h)
		}
	}
	return g
}

// NewStrict is New with Strict set when any host is given: an operator who
// lists the names of a service means those and no others.
func NewStrict(hosts ...string) Guard {
	g := New(hosts...)
	g.Strict = len(g.Hosts) > 0
	return g
}

// HostAllowed reports whether a request's Host header names this service.
func (g Guard) HostAllowed(host string) bool {
	h := hostOnly(host)
	if h == "" {
		return false
	}
	if IsLoopback(h) {
		return true
	}
	for _, a := range g.Hosts {
		if strings.EqualFold(a, h) {
			return true
		}
	}
	return false
}

// Host refuses requests whose Host header is not allowed, when they arrive
// on a loopback connection (where rebinding strikes) or when the guard is
// strict. A service bound to a public address with a non-strict guard
// accepts any Host there, as mcp-go's own check does.
func (g Guard) Host(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.enforced(r) && !g.HostAllowed(r.Host) {
			http.Error(w, "Forbidden: invalid Host header "+quote(r.Host)+
				" (reach this service as localhost or 127.0.0.1, or add the name to the allowed hosts)", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g Guard) enforced(r *http.Request) bool {
	if g.Strict {
		return true
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || local == nil {
		// Not from a real listener (httptest handlers called directly):
		// check anyway.
		return true
	}
	return IsLoopback(hostOnly(local.String()))
}

// OriginAllowed reports whether a browser Origin belongs to this service:
// absent (a non-browser client), the request's own host, or an allowed one.
// "null" and unparsable origins are foreign.
func (g Guard) OriginAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		// Browsers send Sec-Fetch-Site even where they omit Origin.
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return g.HostAllowed(u.Host)
}

// SameOrigin refuses state-changing requests (anything but GET, HEAD and
// OPTIONS) from a foreign origin: cross-site form posts and fetches, which a
// CSRF cookie alone does not stop once the name is rebound.
func (g Guard) SameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !g.OriginAllowed(r) {
				http.Error(w, "Forbidden: cross-origin request refused", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// IsLoopback reports whether a bare host is a loopback name or address.
func IsLoopback(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// hostOnly strips a scheme, a port and IPv6 brackets: "http://[::1]:80/x"
// and "[::1]:80" become "::1".
func hostOnly(s string) string {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return ""
		}
		return u.Hostname()
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		return strings.Trim(h, "[]")
	}
	return strings.Trim(s, "[]")
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	return "\"" + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return '?'
		}
		return r
	}, s) + "\""
}
