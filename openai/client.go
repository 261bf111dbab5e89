// Package openai generates images with any server that speaks the OpenAI
// images API: POST {base}/images/generations with a bearer key and a JSON
// body, answered with base64 images. OpenAI itself, and compatible servers
// (LocalAI, LiteLLM and other gateways), serve the models table's rows whose
// Provider is "openai".
//
// Every error Generate returns is an *imagegen.Error whose Kind says whether
// a retry can help. The API key never appears in an error: it only travels in
// the Authorization header, and remote text is scrubbed of it as well.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit"
)

// Provider is the models table's Provider value for the rows this client serves.
const Provider = "openai"

// DefaultBaseURL is OpenAI's API root, as the OpenAI SDKs take it.
const DefaultBaseURL = "https://api.openai.com/v1"

// DefaultMaxResponseBytes caps how much of an answer (or of a downloaded
// image) is read. A 3840x2160 PNG in base64 fits; anything bigger is a fault,
// and reading it unbounded could exhaust memory.
const DefaultMaxResponseBytes = 64 << 20

// Config says how to reach the API.
type Config struct {
	APIKey string
	// BaseURL is the API root; default DefaultBaseURL. Requests go to
	// {BaseURL}/images/generations, the way the OpenAI SDKs read
	// OPENAI_BASE_URL ("https://api.openai.com/v1",
	// "http://localhost:8080/v1", a gateway's ".../openai"). A bare host
	// with no path gets "/v1" added: {BaseURL}/v1/images/generations.
	BaseURL string
	// Model, if set, is the model id sent for every row of this provider
	// instead of the row's ProviderModel: the id the server knows (another
	// OpenAI model, or a compatible server's own name).
	Model string
	// MaxResponseBytes caps answers and downloads; 0 means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// HTTPClient, if nil, is a dedicated client with bounded dial, TLS and
	// header timeouts that follows no redirects. The overall deadline per
	// call comes from the context.
	HTTPClient *http.Client
}

// Client calls an OpenAI-compatible images API. It is safe for concurrent use.
type Client struct {
	base     *url.URL // the API root, to tell same-origin image URLs from others
	endpoint string
	model    string
	kit      providerkit.Client
}

// New checks the configuration and returns a client. Errors name the missing
// or malformed setting and never include the key.
func New(cfg Config) (*Client, error) {
	key, err := providerkit.CheckSecret("API key", cfg.APIKey)
	if err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	base, u, err := providerkit.ParseAPIBase(cfg.BaseURL, DefaultBaseURL)
	if err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	if u.Path == "" {
		base += "/v1"
	}
	model := strings.TrimSpace(cfg.Model)
	if strings.ContainsAny(model, " \t\r\n") {
		return nil, fmt.Errorf("openai: model id %q contains whitespace", model)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = providerkit.NewHTTPClient(Provider)
	}
	maxBody := cfg.MaxResponseBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxResponseBytes
	}
	return &Client{base: u, endpoint: base + "/images/generations", model: model, kit: providerkit.Client{
		HTTP: hc, Secret: key, UserAgent: "imagegen-openai", MaxBody: maxBody, Service: service(),
	}}, nil
}

// Endpoint is the URL generations are posted to (for logs; it holds no secret).
func (c *Client) Endpoint() string { return c.endpoint }

// generationRequest is the whole body: servers differ in the optional fields
// they know, and some refuse unknown ones, so nothing else is ever sent.
type generationRequest struct {
	Model          string `json:"model"`
	Prompt         string `json:"prompt"`
	N              int    `json:"n"`
	Size           string `json:"size,omitempty"`
	ResponseFormat string `json:"response_format,omitempty"`
}

// asksForBase64 reports whether the body should carry response_format:
// OpenAI's GPT image models always answer base64 and refuse the field
// ("Unknown parameter: 'response_format'"), while DALL-E-style servers answer
// with a URL unless asked for b64_json.
func asksForBase64(model string) bool {
	return !strings.HasPrefix(model, "gpt-image") && !strings.HasPrefix(model, "chatgpt-image")
}

// Generate runs one text-to-image request. The context's deadline bounds the
// whole call, body and any image download included; without one, the model's
// Timeout applies.
func (c *Client) Generate(ctx context.Context, req imagegen.Request, inputs imagegen.Inputs) (imagegen.Image, error) {
	req = req.WithDefaults()
	if err := req.Validate(); err != nil {
		return imagegen.Image{}, err
	}
	m, ok := imagegen.LookupModel(req.Model)
	if !ok || m.Provider != Provider {
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindUnknownModel,
			Message: fmt.Sprintf("model %s is not served by the OpenAI images client", req.Model)}
	}
	body := generationRequest{Model: m.ProviderModel, Prompt: req.Prompt, N: 1}
	if c.model != "" {
		body.Model = c.model
	}
	if req.Width > 0 && req.Height > 0 {
		body.Size = fmt.Sprintf("%dx%d", req.Width, req.Height)
	}
	if asksForBase64(body.Model) {
		body.ResponseFormat = "b64_json"
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "request does not encode as JSON", Err: err}
	}

	ctx, cancel := providerkit.WithModelTimeout(ctx, m)
	defer cancel()
	img, err := c.generate(ctx, payload)
	if err != nil {
		return imagegen.Image{}, c.kit.Finish(fmt.Sprintf("%s (%s)", m.Name, body.Model), err)
	}
	return img, nil
}

func (c *Client) generate(ctx context.Context, payload []byte) (imagegen.Image, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(payload))
	if err != nil {
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindMisconfigured, Message: "cannot build the request URL", Err: err}
	}
	hreq.Header.Set("Content-Type", "application/json")
	res, err := c.kit.Do(ctx, hreq)
	if err != nil {
		return imagegen.Image{}, err
	}
	status := res.Status
	ans, err := decodeAnswer(res.Status, res.ContentType, res.Body)
	if err != nil {
		return imagegen.Image{}, err
	}
	if ans.url != "" {
		if ans.data, err = c.download(ctx, ans.url); err != nil {
			return imagegen.Image{}, err
		}
	}
	kind, err := providerkit.CheckImage(ans.data)
	if err != nil {
		return imagegen.Image{}, badResponse(status, "%v", err)
	}
	return imagegen.Image{Data: ans.data, ContentType: kind}, nil
}

// download fetches an image an answer named by URL. Only URLs on the API's
// own origin are followed: the answer is remote text, and fetching wherever
// it points would let a misbehaving server steer this worker at internal
// addresses (SSRF). Self-hosted servers that answer with URLs serve the files
// themselves; hosted APIs answer base64 when asked.
func (c *Client) download(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) {
		return nil, &imagegen.Error{Kind: imagegen.KindMisconfigured,
			Message: fmt.Sprintf("the server answered with an image URL outside its own origin (%s); only base64 answers "+
				"(response_format b64_json) or URLs on %s://%s are accepted: point OPENAI_BASE_URL at a server that answers base64",
				providerkit.RemoteText(originOf(raw), 80), c.base.Scheme, c.base.Host)}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, badResponse(0, "the image URL is unusable: %v", err)
	}
	res, err := c.kit.Do(ctx, hreq)
	if err != nil {
		return nil, err
	}
	if status := res.Status; status != http.StatusOK {
		e := badResponse(status, "downloading the image from the answer's URL failed (HTTP %d)", status)
		if status >= 500 {
			e.Kind = imagegen.KindUpstream
		}
		return nil, e
	}
	return res.Body, nil
}

// originOf names only the scheme and host of a URL for messages: its path
// and query may be long or carry tokens.
func originOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return raw
}
