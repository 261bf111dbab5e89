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
	"net/http"
	"net/url"
	"strings"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit"
)

// Provider is the models table's Provider value for the rows this client serves.
const Provider = "workersai"

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
	endpoint string // URL prefix the provider model id is appended to
	kit      providerkit.Client
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
	token, err := providerkit.CheckSecret("API token", cfg.APIToken)
	if err != nil {
		return nil, fmt.Errorf("workersai: %w", err)
	}
	base, u, err := providerkit.ParseAPIBase(cfg.BaseURL, DefaultBaseURL)
	if err != nil {
		return nil, fmt.Errorf("workersai: %w", err)
	}
	endpoint := base + "/accounts/" + url.PathEscape(account) + "/ai/run/"
	if strings.HasSuffix(u.Path, "/workers-ai") {
		endpoint = base + "/"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = providerkit.NewHTTPClient(Provider)
	}
	return &Client{endpoint: endpoint, kit: providerkit.Client{
		HTTP: hc, Secret: token, UserAgent: "imagegen-workersai", MaxBody: DefaultMaxResponseBytes, Service: service(),
	}}, nil
}

// Generate runs one request: text-to-image, or image-to-image and editing
// from the input images (in the order of req.Inputs) for models that take them. The context's deadline bounds the
// whole call, body included; without one, the model's Timeout applies. A
// request naming no model gets imagegen.DefaultModel, as everywhere else.
func (c *Client) Generate(ctx context.Context, req imagegen.Request, inputs imagegen.Inputs) (imagegen.Image, error) {
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
	if m.Provider != Provider || !ok {
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindUnknownModel,
			Message: fmt.Sprintf("model %s (%s) is not served by the Workers AI client", m.Name, m.ProviderModel)}
	}
	contentType, payload, err := wire.encode(m, req, inputs)
	if err != nil {
		return imagegen.Image{}, err
	}
	ctx, cancel := providerkit.WithModelTimeout(ctx, m)
	defer cancel()
	img, err := c.post(ctx, m, contentType, payload)
	if err != nil {
		return imagegen.Image{}, c.kit.Finish(m.Name, err)
	}
	return img, nil
}

// post sends the request and decodes the answer.
func (c *Client) post(ctx context.Context, m imagegen.Model, contentType string, payload []byte) (imagegen.Image, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+m.ProviderModel, bytes.NewReader(payload))
	if err != nil {
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindMisconfigured, Message: "cannot build the request URL", Err: err}
	}
	hreq.Header.Set("Content-Type", contentType)
	ans, err := c.kit.Do(ctx, hreq)
	if err != nil {
		return imagegen.Image{}, err
	}
	return decodeResponse(ans.Status, ans.ContentType, ans.Body)
}
