// Package imagefetch brings the input images of edit jobs in: an HTTP
// fetcher that cannot be pointed at the service's own network (SSRF), the
// parser of inline data: URLs, and the normalisation every input goes
// through before a provider sees it (type sniffed, size checked before
// decoding, resized, re-encoded).
//
// The fetcher is hand-written on the standard library: the one maintained
// Go SSRF guard of note (code.dny.dev/ssrf) was last changed in 2023 and
// pulls in a 2022 golang.org/x/exp, and the check itself is a net.Dialer
// Control function plus a table of prefixes (policy.go).
package imagefetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/imagegen/imagegen"
)

const (
	// DefaultMaxBytes caps a fetched image's body: 20 MiB holds a 48 MP
	// phone JPEG; the provider gets a resized copy anyway.
	DefaultMaxBytes = 20 << 20
	// DefaultTimeout bounds a whole fetch: connecting, redirects, headers and
	// body together.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxRedirects is how many redirects a fetch follows.
	DefaultMaxRedirects = 3
	// MaxURLLength is the longest URL accepted.
	MaxURLLength = 8192
)

// Options configure a Fetcher. The zero value is the production default:
// public addresses only, DefaultMaxBytes, DefaultTimeout,
// DefaultMaxRedirects.
type Options struct {
	// Policy says which addresses may be dialed (Policy.Allow is
	// IMAGEGEN_FETCH_ALLOW).
	Policy       Policy
	MaxBytes     int64
	Timeout      time.Duration
	MaxRedirects int
	// RootCAs, if set, replaces the system roots (tests with an httptest
	// TLS server).
	RootCAs *x509.CertPool
	// Logger receives one warning per refused destination (host and kind
	// of address, never the query string). Nil: discarded.
	Logger *slog.Logger
}

// Fetcher downloads input images over http(s). It implements
// activities.Fetcher and is safe for concurrent use.
//
// Every connection it opens is checked by Policy on the address actually
// dialed (net.Dialer.Control, after name resolution), so names resolving to
// internal addresses, DNS rebinding and redirects to internal hosts are all
// refused the same way. It ignores HTTP_PROXY and friends: a proxy would dial
// on its behalf, out of reach of the check.
type Fetcher struct {
	opts   Options
	log    *slog.Logger
	dialer *net.Dialer
	client *http.Client
}

// New returns a Fetcher with o's settings (zero fields take the defaults).
func New(o Options) *Fetcher {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	f := &Fetcher{opts: o, log: o.Logger}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	f.dialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: f.control}
	tr := &http.Transport{
		Proxy:                  nil, // never from the environment: see Fetcher
		DialContext:            f.dial,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           16,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	if o.RootCAs != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: o.RootCAs}
	}
	f.client = &http.Client{Transport: tr, CheckRedirect: f.checkRedirect}
	return f
}

// control runs on every connection attempt with the resolved address about
// to be dialed.
func (f *Fetcher) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return refusal("a non-TCP destination")
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refusal("an unparsable address")
	}
	return f.opts.Policy.Check(ap.Addr())
}

// dialRefused is a dial that Policy refused: host is the name dialed.
type dialRefused struct {
	host string
	what string
}

func (e *dialRefused) Error() string { return e.host + " is " + e.what }

func (f *Fetcher) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := f.dialer.DialContext(ctx, network, addr)
	var r *refused
	if err != nil && errors.As(err, &r) {
		host, _, _ := net.SplitHostPort(addr)
		f.log.Warn("input image fetch refused", "host", host, "destination", r.what)
		return nil, &dialRefused{host: host, what: r.what}
	}
	return conn, err
}

// redirectRefused is a redirect CheckRedirect refused; message is complete.
type redirectRefused struct{ message string }

func (e *redirectRefused) Error() string { return e.message }

func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	from := via[len(via)-1].URL.Hostname()
	if len(via) > f.opts.MaxRedirects {
		return &redirectRefused{fmt.Sprintf("input image URL on %s redirected more than %d times", via[0].URL.Hostname(), f.opts.MaxRedirects)}
	}
	if msg := badURL(req.URL); msg != "" {
		return &redirectRefused{fmt.Sprintf("input image URL on %s redirected to a URL that %s", from, msg)}
	}
	return nil
}

// badURL says what is wrong with u as a fetch target ("" = nothing).
func badURL(u *url.URL) string {
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		if u.Scheme == "" {
			return "is not absolute (use http:// or https://)"
		}
		return fmt.Sprintf("has the scheme %q: only http and https can be fetched", printable(u.Scheme, 16))
	case u.User != nil:
		return "carries a user name or password: only URLs without credentials can be fetched"
	case u.Hostname() == "":
		return "has no host"
	}
	return ""
}

// Fetch downloads the image at rawURL and returns its bytes and the type
// sniffed from them (image/png, image/jpeg or image/webp). Errors are
// *imagegen.Error: KindInvalidInput for what retrying cannot fix (scheme,
// credentials, a refused destination, too many redirects, 4xx, too large,
// not an image), KindUpstream (5xx, 408, 429, connection trouble) or
// KindTimeout (the whole fetch took longer than Options.Timeout, or than
// ctx allowed) otherwise; only a canceled ctx gives a plain error wrapping
// context.Canceled. Messages name the URL's host, never its path or query.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) ([]byte, string, error) {
	if len(rawURL) > MaxURLLength {
		return nil, "", invalid(fmt.Sprintf("input image URL is %d characters long, more than the %d accepted", len(rawURL), MaxURLLength), nil)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", invalid("input image URL does not parse as a URL", nil)
	}
	if msg := badURL(u); msg != "" {
		return nil, "", invalid("input image URL "+msg, nil)
	}
	host := u.Hostname()
	fctx, cancel := context.WithTimeoutCause(ctx, f.opts.Timeout, errDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(fctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", invalid("input image URL is not a valid request URL", nil)
	}
	req.Header.Set("Accept", "image/png, image/jpeg, image/webp, */*;q=0.1")
	req.Header.Set("User-Agent", "imagegen-imagefetch/1")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, "", f.failure(ctx, fctx, host, err)
	}
	defer resp.Body.Close()
	from := "input image from " + host
	if final := resp.Request.URL.Hostname(); final != host {
		from += " (redirected to " + final + ")"
	}
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return nil, "", &imagegen.Error{Kind: imagegen.KindUpstream, Status: code,
			Message: fmt.Sprintf("%s could not be fetched: the server answered HTTP %d", from, code)}
	default:
		return nil, "", &imagegen.Error{Kind: imagegen.KindInvalidInput, Status: code,
			Message: fmt.Sprintf("%s could not be fetched: the server answered HTTP %d %s, not 200 OK; check the URL", from, code, http.StatusText(code))}
	}
	if resp.ContentLength > f.opts.MaxBytes {
		return nil, "", invalid(fmt.Sprintf("%s is %d bytes, more than the limit of %s", from, resp.ContentLength, sizeText(f.opts.MaxBytes)), nil)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, f.opts.MaxBytes+1))
	if err != nil {
		return nil, "", f.failure(ctx, fctx, host, err)
	}
	if int64(len(data)) > f.opts.MaxBytes {
		return nil, "", invalid(fmt.Sprintf("%s is larger than the limit of %s", from, sizeText(f.opts.MaxBytes)), nil)
	}
	kind := imagegen.SniffImageType(data)
	if kind == "" {
		// Named from the bytes too: the header is never trusted.
		seen := strings.SplitN(http.DetectContentType(data), ";", 2)[0]
		if len(data) == 0 {
			seen = "an empty body"
		}
		return nil, "", invalid(fmt.Sprintf("%s is not a PNG, JPEG or WebP image (the body looks like %s)", from, seen), nil)
	}
	return data, kind, nil
}

var errDeadline = errors.New("input image fetch deadline")

// failure classifies a transport error. parent is the caller's context,
// fctx the one bounded by Options.Timeout.
func (f *Fetcher) failure(parent, fctx context.Context, host string, err error) error {
	// url.Error repeats the full URL, query included: keep only its cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var dr *dialRefused
	var rr *redirectRefused
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &dr):
		verb := "is"
		if _, notLiteral := netip.ParseAddr(dr.host); notLiteral != nil {
			verb = "resolves to"
		}
		what := fmt.Sprintf("input image URL host %s %s %s", dr.host, verb, dr.what)
		if dr.host != host {
			what = fmt.Sprintf("input image URL on %s redirected to %s, which %s %s", host, dr.host, verb, dr.what)
		}
		return invalid(what+": only images on public hosts can be fetched", nil)
	case errors.As(err, &rr):
		return invalid(rr.message, nil)
	case errors.Is(parent.Err(), context.Canceled):
		// Not a failure to classify: the caller gave up.
		return fmt.Errorf("fetch input image from %s: %w", host, context.Cause(parent))
	case parent.Err() != nil: // the caller's deadline came first
		return &imagegen.Error{Kind: imagegen.KindTimeout, Err: err,
			Message: fmt.Sprintf("input image from %s did not arrive in time", host)}
	case errors.Is(context.Cause(fctx), errDeadline):
		return &imagegen.Error{Kind: imagegen.KindTimeout, Err: err,
			Message: fmt.Sprintf("input image from %s did not arrive within %s", host, f.opts.Timeout)}
	case errors.As(err, &dns) && dns.IsNotFound:
		return invalid(fmt.Sprintf("input image URL host %s does not exist (no DNS record)", dns.Name), err)
	case errors.As(err, &cert), errors.As(err, &unknownAuthority), errors.As(err, &hostname):
		return invalid(fmt.Sprintf("input image URL host %s has no valid TLS certificate", host), err)
	}
	return &imagegen.Error{Kind: imagegen.KindUpstream, Err: err,
		Message: fmt.Sprintf("input image from %s could not be fetched: the connection failed", host)}
}

func invalid(msg string, err error) *imagegen.Error {
	return &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: msg, Err: err}
}

// sizeText prints a byte limit the way operators set it.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// printable keeps at most n runes of s, control characters dropped.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if n == 0 {
			b.WriteString("…")
			break
		}
		if r >= ' ' && r != 0x7f {
			b.WriteRune(r)
			n--
		}
	}
	return b.String()
}
