// Package workersai generates images with Cloudflare Workers AI text-to-image
// models over its REST API.
//
// Every error Generate returns is an *imagegen.Error whose Kind says whether a
// retry can help. The API token never appears in an error: it only travels in
// the Authorization header, and remote text is scrubbed of it as well.
package workersai

import (
	"bytes"
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

// DefaultBaseURL is the Cloudflare API; AI Gateway users set their gateway's
// workers-ai URL instead.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

// DefaultMaxResponseBytes caps how much of an answer is read. The largest
// model output (a 2048x2048 PNG) is well under it; anything bigger is a fault,
// and reading it unbounded could exhaust memory.
const DefaultMaxResponseBytes = 32 << 20

// Config says which account to bill and how to reach the API.
type Config struct {
	AccountID string
	APIToken  string
	// BaseURL is the API prefix; default DefaultBaseURL. Requests go to
	// {BaseURL}/accounts/{AccountID}/ai/run/{model}, except that an AI Gateway
	// base (a path ending in /workers-ai, e.g.
	// https://gateway.ai.cloudflare.com/v1/{account}/{gateway}/workers-ai)
	// takes the model directly: {BaseURL}/{model}, as the gateway documents.
	BaseURL string
	// HTTPClient, if nil, is a dedicated client with bounded dial, TLS and
	// header timeouts. The overall deadline per call comes from the context.
	HTTPClient *http.Client
}

// Client calls Workers AI. It is safe for concurrent use.
type Client struct {
	token    string
	endpoint string // URL prefix the provider model id is appended to
	http     *http.Client
	maxBody  int64
}

// New checks the configuration and returns a client. Errors name the missing
// or malformed setting and never include the token.
func New(cfg Config) (*Client, error) {
	account := strings.TrimSpace(cfg.AccountID)
	if account == "" {
		return nil, errors.New("workersai: account ID is required")
	}
	if strings.ContainsAny(account, "/?#") {
		return nil, errors.New("workersai: account ID must not contain '/', '?' or '#'")
	}
	token, err := imagegen.CheckSecret("API token", cfg.APIToken)
	if err != nil {
		return nil, fmt.Errorf("workersai: %w", err)
	}
	base, u, err := imagegen.ParseAPIBase(cfg.BaseURL, DefaultBaseURL)
	if err != nil {
		return nil, fmt.Errorf("workersai: %w", err)
	}
	endpoint := base + "/accounts/" + url.PathEscape(account) + "/ai/run/"
	if strings.HasSuffix(u.Path, "/workers-ai") {
		endpoint = base + "/"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	return &Client{token: token, endpoint: endpoint, http: hc, maxBody: DefaultMaxResponseBytes}, nil
}

// defaultHTTPClient bounds each phase that the context deadline alone would
// let drag on: connecting, the TLS handshake and waiting for headers (sized to
// the slowest model). Redirects are not followed: a POST must not be replayed
// elsewhere, and a redirecting endpoint is a misconfiguration worth seeing.
func defaultHTTPClient() *http.Client {
	var slowest time.Duration
	for _, m := range imagegen.Models() {
		if m.Provider == "workersai" {
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

// Generate runs one text-to-image request. The context's deadline bounds the
// whole call, body included; without one, the model's Timeout applies. A
// request naming no model gets imagegen.DefaultModel, as everywhere else.
func (c *Client) Generate(ctx context.Context, req imagegen.Request) (imagegen.Image, error) {
	req = req.WithDefaults()
	if err := req.Validate(); err != nil {
		return imagegen.Image{}, err
	}
	m, ok := imagegen.LookupModel(req.Model)
	if !ok {
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindUnknownModel,
			Message: fmt.Sprintf("unknown model %q: use one of %s", req.Model, strings.Join(imagegen.ModelNames(), ", "))}
	}
	wire, ok := WireFor(m.ProviderModel)
	if m.Provider != "workersai" || !ok {
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindUnknownModel,
			Message: fmt.Sprintf("model %s (%s) is not served by the Workers AI client", m.Name, m.ProviderModel)}
	}
	contentType, payload, err := wire.encode(m, req)
	if err != nil {
		return imagegen.Image{}, err
	}

	if _, has := ctx.Deadline(); !has && m.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.Timeout)
		defer cancel()
	}

	img, err := c.post(ctx, m, contentType, payload)
	if err != nil {
		return imagegen.Image{}, c.finish(m, err)
	}
	return img, nil
}

// post sends the request and decodes the answer.
func (c *Client) post(ctx context.Context, m imagegen.Model, contentType string, payload []byte) (imagegen.Image, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+m.ProviderModel, bytes.NewReader(payload))
	if err != nil {
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindMisconfigured, Message: "cannot build the request URL", Err: err}
	}
	hreq.Header.Set("Authorization", "Bearer "+c.token)
	hreq.Header.Set("Content-Type", contentType)
	hreq.Header.Set("User-Agent", "imagegen-workersai")

	resp, err := c.http.Do(hreq)
	if err != nil {
		return imagegen.Image{}, imagegen.TransportError(ctx, "Workers AI", "the request failed", err, c.token)
	}
	defer resp.Body.Close()

	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return imagegen.Image{}, imagegen.TransportError(ctx, "Workers AI", fmt.Sprintf("reading the answer failed after %d bytes (HTTP %d)", len(data), resp.StatusCode), err, c.token)
	}
	if int64(len(data)) > c.maxBody {
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindBadResponse, Status: resp.StatusCode,
			Message: fmt.Sprintf("Workers AI returned an unusable answer: larger than the %d-byte limit", c.maxBody)}
	}
	answerType := resp.Header.Get("Content-Type")
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(answerType)), "image/") {
		// Remote text ends up in error messages: scrub the token before the
		// decoder clips it, so that no fragment of it can survive.
		data = bytes.ReplaceAll(data, []byte(c.token), []byte("[redacted]"))
	}
	return decodeResponse(resp.StatusCode, answerType, data)
}

// finish names the model in the message and removes the token from any text
// that came from elsewhere (a gateway could echo request headers).
func (c *Client) finish(m imagegen.Model, err error) error {
	var e *imagegen.Error
	if !errors.As(err, &e) {
		return &imagegen.Error{Kind: imagegen.KindUpstream, Message: m.Name + ": " + c.redact(err.Error()), Err: err}
	}
	e.Message = c.redact(m.Name + ": " + e.Message)
	return e
}

func (c *Client) redact(s string) string {
	return strings.ReplaceAll(s, c.token, "[redacted]")
}
