package providerkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/imagegen/imagegen"
)

// NewHTTPClient is the default HTTP client of a provider (named as in the
// models table's Provider column). It bounds each phase that the context
// deadline alone would let drag on: connecting, the TLS handshake and
// waiting for headers, sized to the provider's slowest model (at least a
// minute). Redirects are not followed: a POST must not be replayed
// elsewhere, an image URL must not lead off the API's host, and a
// redirecting endpoint is a misconfiguration worth seeing.
func NewHTTPClient(provider string) *http.Client {
	slowest := time.Minute
	for _, m := range imagegen.Models() {
		if m.Provider == provider {
			slowest = max(slowest, m.Timeout)
		}
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: slowest + 10*time.Second,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   16,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// WithModelTimeout bounds a call by the model's Timeout when the caller set
// no deadline; a caller's deadline is kept as it is.
func WithModelTimeout(ctx context.Context, m imagegen.Model) (context.Context, context.CancelFunc) {
	if _, has := ctx.Deadline(); has || m.Timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, m.Timeout)
}

// Client is the HTTP side of one provider client: how it sends, which
// secret authorizes it (and must never show in an error), how much of an
// answer it reads and how messages name the service. It is safe for
// concurrent use.
type Client struct {
	HTTP      *http.Client
	Secret    string // sent as the bearer token
	UserAgent string
	MaxBody   int64 // answers longer than this are refused
	Service   Service
}

// Answer is one complete HTTP answer, its body scrubbed of the secret
// unless it is image bytes.
type Answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// Do sends req with the secret as bearer token and reads the whole answer,
// up to MaxBody. Every error is an *imagegen.Error: a failed exchange is
// classified by TransportError, an oversize answer is a bad response. Any
// status is an Answer: what it means is the provider's to decode.
func (c *Client) Do(ctx context.Context, req *http.Request) (Answer, error) {
	req.Header.Set("Authorization", "Bearer "+c.Secret)
	req.Header.Set("User-Agent", c.UserAgent)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Answer{}, TransportError(ctx, c.Service.Name, "the request failed", err, c.Secret)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.MaxBody+1))
	if err != nil {
		return Answer{}, TransportError(ctx, c.Service.Name,
			fmt.Sprintf("reading the answer failed after %d bytes (HTTP %d)", len(data), resp.StatusCode), err, c.Secret)
	}
	if int64(len(data)) > c.MaxBody {
		return Answer{}, c.Service.BadResponse(resp.StatusCode, "larger than the %d-byte limit", c.MaxBody)
	}
	contentType := resp.Header.Get("Content-Type")
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "image/") {
		// Remote text ends up in error messages: scrub the secret before a
		// decoder clips it, so that no fragment of it can survive.
		data = []byte(c.redact(string(data)))
	}
	return Answer{Status: resp.StatusCode, ContentType: contentType, Body: data}, nil
}

// Finish names what was called (the model, e.g. "sdxl-base", or
// "openai-image (gpt-image-2)") at the start of a failed call's message and
// removes the secret from it, since remote text ends up there (a gateway
// could echo request headers). An error that is not an *imagegen.Error
// becomes an upstream fault.
func (c *Client) Finish(subject string, err error) error {
	var e *imagegen.Error
	if !errors.As(err, &e) {
		return &imagegen.Error{Kind: imagegen.KindUpstream, Message: c.redact(subject + ": " + err.Error()), Err: err}
	}
	e.Message = c.redact(subject + ": " + e.Message)
	return e
}

func (c *Client) redact(s string) string { return redact(s, c.Secret) }

// minEcho is the shortest run of a secret's characters that redact hides
// (the whole secret when it is shorter): long enough that ordinary words do
// not trip it, short enough that a truncated echo ("Bearer abcd1234…") goes.
const minEcho = 8

// redact hides the secret in s: every run of at least minEcho consecutive
// characters of it, in any letter case, so upper-cased, truncated and partial
// echoes go too. An empty secret hides nothing.
func redact(s, secret string) string {
	if secret == "" || s == "" {
		return s
	}
	min := minEcho
	if len(secret) < min {
		min = len(secret)
	}
	ls, lsec := asciiLower(s), asciiLower(secret)
	var b strings.Builder
	last := 0
	for i := 0; i+min <= len(ls); {
		best := 0
		for j := 0; j+min <= len(lsec); j++ {
			k := 0
			for i+k < len(ls) && j+k < len(lsec) && ls[i+k] == lsec[j+k] {
				k++
			}
			best = max(best, k)
		}
		if best >= min {
			b.WriteString(s[last:i])
			b.WriteString("[redacted]")
			i += best
			last = i
			continue
		}
		i++
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// asciiLower lowers ASCII letters only, so byte offsets stay aligned with s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// TransportError classifies a failed HTTP exchange with a provider (service
// names it in messages, e.g. "Workers AI"). When ctx ended, the error wraps
// ctx.Err() so callers can tell their own cancellation or deadline from a
// provider fault; anything else is a transient upstream fault. secret is
// scrubbed from the message and the wrapped error's text, and the *url.Error
// around a transport fault is peeled off because it repeats the endpoint
// (which can hold an account id).
func TransportError(ctx context.Context, service, what string, err error, secret string) *imagegen.Error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return &imagegen.Error{Kind: imagegen.KindTimeout, Message: "no complete answer from " + service + " before the deadline", Err: ctxErr}
		}
		return &imagegen.Error{Kind: imagegen.KindUpstream, Message: "the call was cancelled", Err: ctxErr}
	}
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	return &imagegen.Error{Kind: imagegen.KindUpstream, Message: what + ": " + redact(cause.Error(), secret),
		Err: redactedError{err: err, text: redact(err.Error(), secret)}}
}

// redactedError keeps the chain of an error (errors.Is and As still work)
// while its text is scrubbed of a secret.
type redactedError struct {
	err  error
	text string
}

func (r redactedError) Error() string { return r.text }
func (r redactedError) Unwrap() error { return r.err }

// KindForStatus classifies an HTTP API's failure by status alone, the
// fallback when the answer carried no error code a provider client knows. An
// unknown 4xx is a non-retryable input error (the same request would be
// refused again); redirects are not followed for a POST, so a base URL that
// redirects is set up wrong.
func KindForStatus(status int) imagegen.ErrorKind {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return imagegen.KindUnauthorized
	case status == http.StatusNotFound:
		return imagegen.KindUnknownModel
	case status == http.StatusRequestTimeout:
		return imagegen.KindTimeout
	case status == http.StatusTooManyRequests:
		return imagegen.KindCapacity
	case status >= 500:
		return imagegen.KindUpstream
	case status >= 400:
		return imagegen.KindInvalidInput
	case status >= 300:
		return imagegen.KindMisconfigured
	default:
		return imagegen.KindUpstream
	}
}
