package openai

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit/providerkittest"
)

func TestGenerateSendsExactlyTheDocumentedBody(t *testing.T) {
	tests := []struct {
		name     string
		model    string // Config.Model
		req      imagegen.Request
		wantBody map[string]any
	}{
		{"prompt only: no size, no response_format for a GPT image model", "",
			imagegen.Request{Prompt: "a red fox", Model: "openai-image"},
			map[string]any{"model": "gpt-image-2", "prompt": "a red fox", "n": json.Number("1")}},
		{"size as WxH", "",
			imagegen.Request{Prompt: "a red fox", Model: "openai-image", Width: 1536, Height: 1024},
			map[string]any{"model": "gpt-image-2", "prompt": "a red fox", "n": json.Number("1"), "size": "1536x1024"}},
		{"the configured model id replaces the row's", "gpt-image-2.6-flare",
			imagegen.Request{Prompt: "a red fox", Model: "openai-image"},
			map[string]any{"model": "gpt-image-2.6-flare", "prompt": "a red fox", "n": json.Number("1")}},
		{"other servers' models are asked for base64", "stablediffusion",
			imagegen.Request{Prompt: "a red fox", Model: "openai-image", Width: 512, Height: 512},
			map[string]any{"model": "stablediffusion", "prompt": "a red fox", "n": json.Number("1"), "size": "512x512", "response_format": "b64_json"}},
	}
	pngData := providerkittest.PNG(t, 32, 32)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := newTestClient(t, providerkittest.Reply(http.StatusOK, "application/json", b64Answer(pngData)),
				func(cfg *Config) { cfg.Model = tt.model })
			if _, err := c.Generate(context.Background(), tt.req, imagegen.Inputs{}); err != nil {
				t.Fatalf("Generate: %v", err)
			}
			rec.Last().Want(t, "/v1/images/generations", testKey, tt.wantBody)
		})
	}
}

func TestEndpointTakesTheBaseAsTheAPIRootAndAddsV1ToABareHost(t *testing.T) {
	tests := []struct{ suffix, wantPath string }{
		{"", "/v1/images/generations"},
		{"/", "/v1/images/generations"},
		{"/v1", "/v1/images/generations"},
		{"/v1/", "/v1/images/generations"},
		{"/api/v1", "/api/v1/images/generations"},
		{"/v1/acct/gw/openai", "/v1/acct/gw/openai/images/generations"},
	}
	pngData := providerkittest.PNG(t, 16, 16)
	for _, tt := range tests {
		t.Run("base"+tt.suffix, func(t *testing.T) {
			srv, rec := providerkittest.NewServer(t, providerkittest.Reply(http.StatusOK, "application/json", b64Answer(pngData)))
			c, err := New(Config{APIKey: testKey, BaseURL: srv.URL + tt.suffix})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if _, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"}, imagegen.Inputs{}); err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if got := rec.Last().Path; got != tt.wantPath {
				t.Errorf("path = %s, want %s", got, tt.wantPath)
			}
		})
	}
}

func TestGenerateDecodesBase64ImagesByTheirBytes(t *testing.T) {
	pngData, jpg := providerkittest.PNG(t, 48, 32), providerkittest.JPEG(t, 48, 32)
	raw := func(b []byte) []byte {
		out, _ := json.Marshal(map[string]any{"data": []map[string]string{{"b64_json": base64.RawStdEncoding.EncodeToString(b)}}})
		return out
	}
	dataURL := func(b []byte) []byte {
		out, _ := json.Marshal(map[string]any{"data": []map[string]string{{"b64_json": "data:image/png;base64," + base64.StdEncoding.EncodeToString(b)}}})
		return out
	}
	tests := []struct {
		name     string
		body     []byte
		wantType string
		want     []byte
	}{
		{"PNG", b64Answer(pngData), "image/png", pngData},
		{"JPEG", b64Answer(jpg), "image/jpeg", jpg},
		{"unpadded base64", raw(jpg), "image/jpeg", jpg},
		{"a data URL", dataURL(pngData), "image/png", pngData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestClient(t, providerkittest.Reply(http.StatusOK, "application/json", tt.body))
			img, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"}, imagegen.Inputs{})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if img.ContentType != tt.wantType || !bytes.Equal(img.Data, tt.want) {
				t.Errorf("got %s with %d bytes, want %s with %d bytes", img.ContentType, len(img.Data), tt.wantType, len(tt.want))
			}
		})
	}
}

func TestGenerateClassifiesEachKindOfFailure(t *testing.T) {
	pngData := providerkittest.PNG(t, 64, 64)
	tests := []struct {
		name        string
		status      int
		contentType string
		body        []byte
		want        imagegen.ErrorKind
		wantInMsg   []string
	}{
		{"400 invalid request", 400, "application/json", errorBody("invalid_request_error", "invalid_value", "Invalid size '100x100'."),
			imagegen.KindInvalidInput, []string{"rejected the request (HTTP 400)", "Invalid size '100x100'."}},
		{"400 content policy violation", 400, "application/json",
			errorBody("invalid_request_error", "content_policy_violation", "Your request was rejected as a result of our safety system."),
			imagegen.KindInvalidInput, []string{"refused by the provider's safety system", "our safety system"}},
		{"400 moderation blocked", 400, "application/json",
			errorBody("image_generation_user_error", "moderation_blocked", "Your request was rejected by the safety system."),
			imagegen.KindInvalidInput, []string{"safety system", "rejected by the safety system"}},
		{"400 billing hard limit", 400, "application/json",
			errorBody("billing_error", "billing_hard_limit_reached", "Billing hard limit has been reached."),
			imagegen.KindQuotaExceeded, []string{"quota or billing limit"}},
		{"401 bad key", 401, "application/json", errorBody("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
			imagegen.KindUnauthorized, []string{"OPENAI_API_KEY"}},
		{"403 forbidden", 403, "application/json", errorBody("invalid_request_error", "", "Project does not have access to model."),
			imagegen.KindUnauthorized, []string{"HTTP 403", "does not have access"}},
		{"404 model not found", 404, "application/json", errorBody("invalid_request_error", "model_not_found", "The model 'x' does not exist."),
			imagegen.KindUnknownModel, []string{"does not know this model"}},
		{"404 without an envelope", 404, "text/html", []byte("<html>not found</html>"),
			imagegen.KindUnknownModel, []string{"base URL"}},
		{"429 insufficient quota", 429, "application/json",
			errorBody("insufficient_quota", "insufficient_quota", "You exceeded your current quota, please check your plan and billing details."),
			imagegen.KindQuotaExceeded, []string{"quota or billing limit is used up", "exceeded your current quota"}},
		{"429 rate limit", 429, "application/json", errorBody("requests", "rate_limit_exceeded", "Rate limit reached for images per minute."),
			imagegen.KindCapacity, []string{"out of capacity (HTTP 429)", "Rate limit reached"}},
		{"500 server error", 500, "application/json", errorBody("server_error", "", "The server had an error."),
			imagegen.KindUpstream, []string{"HTTP 500"}},
		{"502 plain text from a gateway", 502, "text/plain", []byte("upstream connect error"),
			imagegen.KindUpstream, []string{"upstream connect error"}},
		{"302 redirect", 302, "text/html", nil, imagegen.KindMisconfigured, []string{"OPENAI_BASE_URL"}},
		{"200 that is not JSON", 200, "text/html", []byte("<html>login</html>"), imagegen.KindBadResponse, []string{"not JSON"}},
		{"200 without data", 200, "application/json", []byte(`{"created":1,"data":[]}`), imagegen.KindBadResponse, []string{"no data[0]"}},
		{"200 with data[0] empty", 200, "application/json", []byte(`{"data":[{}]}`), imagegen.KindBadResponse, []string{"neither b64_json nor url"}},
		{"200 with bad base64", 200, "application/json", []byte(`{"data":[{"b64_json":"%%%"}]}`), imagegen.KindBadResponse, []string{"not valid base64"}},
		{"200 with base64 text, not an image", 200, "application/json", b64Answer([]byte("hello, I am not a picture")),
			imagegen.KindBadResponse, []string{"not a PNG, JPEG or WebP"}},
		{"200 with a truncated PNG", 200, "application/json", b64Answer(pngData[:len(pngData)/2]),
			imagegen.KindBadResponse, []string{"truncated or corrupt"}},
		{"200 with a 16-bit 4096x4096 PNG header (128 MiB decoded)", 200, "application/json", b64Answer(hugePNGHeader()),
			imagegen.KindBadResponse, []string{"too large to decode", "80 MiB limit"}},
		{"200 with an error object and no data", 200, "application/json", errorBody("server_error", "", "try again"),
			imagegen.KindUpstream, []string{"try again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestClient(t, providerkittest.Reply(tt.status, tt.contentType, tt.body))
			_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"}, imagegen.Inputs{})
			e := requireKind(t, err, tt.want)
			if e.Kind.Retryable() != (tt.want == imagegen.KindCapacity || tt.want == imagegen.KindUpstream || tt.want == imagegen.KindBadResponse) {
				t.Errorf("kind %s retryable = %v", e.Kind, e.Kind.Retryable())
			}
			for _, want := range append(tt.wantInMsg, "openai-image (gpt-image-2)") {
				if !strings.Contains(e.Message, want) {
					t.Errorf("message %q does not contain %q", e.Message, want)
				}
			}
		})
	}
}

func TestGenerateRefusesAnAnswerOverTheSizeCap(t *testing.T) {
	body := b64Answer(providerkittest.PNG(t, 64, 64))
	c, _ := newTestClient(t, providerkittest.Reply(http.StatusOK, "application/json", body),
		func(cfg *Config) { cfg.MaxResponseBytes = int64(len(body) - 1) })
	_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"}, imagegen.Inputs{})
	e := requireKind(t, err, imagegen.KindBadResponse)
	if !strings.Contains(e.Message, "limit") {
		t.Errorf("message %q does not mention the limit", e.Message)
	}
}

func TestGenerateNeverShowsTheKeyEvenWhenTheServerEchoesIt(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        []byte
	}{
		{"in the error envelope", "application/json", errorBody("invalid_request_error", "", "Bad header: Authorization: Bearer "+testKey)},
		{"in a plain-text body", "text/plain", []byte("denied for " + testKey)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestClient(t, providerkittest.Reply(http.StatusBadRequest, tt.contentType, tt.body))
			_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"}, imagegen.Inputs{})
			e := requireKind(t, err, imagegen.KindInvalidInput)
			if !strings.Contains(e.Message, "[redacted]") {
				t.Errorf("message %q: the echoed key was not replaced", e.Message)
			}
		})
	}
	t.Run("in a transport failure", func(t *testing.T) {
		srv, _ := providerkittest.NewServer(t, providerkittest.Reply(http.StatusOK, "application/json", nil))
		base := srv.URL + "/v1"
		srv.Close()
		c, err := New(Config{APIKey: testKey, BaseURL: base})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		_, err = c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"}, imagegen.Inputs{})
		requireKind(t, err, imagegen.KindUpstream)
	})
}

func TestGenerateDownloadsURLAnswersOnlyFromTheAPIsOwnOrigin(t *testing.T) {
	pngData := providerkittest.PNG(t, 32, 32)
	other, otherRec := providerkittest.NewServer(t, providerkittest.Reply(http.StatusOK, "image/png", pngData))

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/images/generations", func(w http.ResponseWriter, r *http.Request) {
		self := "http://" + r.Host // the API's own origin
		target := self + "/generated/1.png"
		switch promptOf(r) {
		case "elsewhere":
			target = other.URL + "/1.png?sig=abc"
		case "missing":
			target = self + "/generated/gone.png"
		}
		out, _ := json.Marshal(map[string]any{"data": []map[string]string{{"url": target}}})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
	mux.HandleFunc("GET /generated/1.png", providerkittest.Reply(http.StatusOK, "image/png", pngData))
	mux.HandleFunc("GET /generated/gone.png", providerkittest.Reply(http.StatusNotFound, "text/plain", []byte("gone")))
	srv, _ := providerkittest.NewServer(t, mux)
	c, err := New(Config{APIKey: testKey, BaseURL: srv.URL + "/v1", Model: "dall-e-like"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	img, err := c.Generate(context.Background(), imagegen.Request{Prompt: "here", Model: "openai-image"}, imagegen.Inputs{})
	if err != nil {
		t.Fatalf("same-origin URL: %v", err)
	}
	if img.ContentType != "image/png" || !bytes.Equal(img.Data, pngData) {
		t.Errorf("same-origin URL: got %s with %d bytes, want the PNG", img.ContentType, len(img.Data))
	}

	_, err = c.Generate(context.Background(), imagegen.Request{Prompt: "elsewhere", Model: "openai-image"}, imagegen.Inputs{})
	e := requireKind(t, err, imagegen.KindMisconfigured)
	if strings.Contains(e.Message, "sig=abc") || !strings.Contains(e.Message, other.URL) {
		t.Errorf("message %q should name the other origin and nothing of its path", e.Message)
	}
	if n := otherRec.Calls(); n != 0 {
		t.Errorf("the other origin was called %d times", n)
	}

	_, err = c.Generate(context.Background(), imagegen.Request{Prompt: "missing", Model: "openai-image"}, imagegen.Inputs{})
	requireKind(t, err, imagegen.KindBadResponse)
}

// promptOf reads the prompt of a request body already buffered by providerkittest.NewServer.
func promptOf(r *http.Request) string {
	var body struct {
		Prompt string `json:"prompt"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	return body.Prompt
}

func TestGenerateReportsDeadlineAndDroppedConnections(t *testing.T) {
	t.Run("deadline while the server works", func(t *testing.T) {
		c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Generate(ctx, imagegen.Request{Prompt: "x", Model: "openai-image"}, imagegen.Inputs{})
		requireKind(t, err, imagegen.KindTimeout)
	})
	t.Run("connection dropped", func(t *testing.T) {
		c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }))
		_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"}, imagegen.Inputs{})
		requireKind(t, err, imagegen.KindUpstream)
	})
}

func TestGenerateRefusesRequestsItCannotServeWithoutCallingTheAPI(t *testing.T) {
	tests := []struct {
		name string
		req  imagegen.Request
		want imagegen.ErrorKind
	}{
		{"a Workers AI model", imagegen.Request{Prompt: "x", Model: "flux-schnell"}, imagegen.KindUnknownModel},
		{"no model means the default, a Workers AI model", imagegen.Request{Prompt: "x"}, imagegen.KindUnknownModel},
		{"steps", imagegen.Request{Prompt: "x", Model: "openai-image", Steps: 4}, imagegen.KindInvalidInput},
		{"one side only", imagegen.Request{Prompt: "x", Model: "openai-image", Width: 1024}, imagegen.KindInvalidInput},
		{"empty prompt", imagegen.Request{Prompt: " ", Model: "openai-image"}, imagegen.KindInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := newTestClient(t, providerkittest.Reply(http.StatusOK, "application/json", nil))
			_, err := c.Generate(context.Background(), tt.req, imagegen.Inputs{})
			requireKind(t, err, tt.want)
			if n := rec.Calls(); n != 0 {
				t.Errorf("the API was called %d times", n)
			}
		})
	}
}

func TestNewRefusesBadSettingsWithoutQuotingTheKey(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no key", Config{}, "API key is required"},
		{"key with a newline", Config{APIKey: testKey + "\n" + testKey}, "whitespace"},
		{"relative base", Config{APIKey: testKey, BaseURL: "api.openai.com/v1"}, "absolute http(s) URL"},
		{"base with a query", Config{APIKey: testKey, BaseURL: "https://api.openai.com/v1?key=" + testKey}, "query"},
		{"model with a space", Config{APIKey: testKey, Model: "gpt image"}, "whitespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.wantErr)
			}
			assertNoKey(t, err)
		})
	}
}

// hugePNGHeader is the 33-byte start of a PNG claiming 4096x4096 16-bit RGBA:
// signature and IHDR only, enough for the header check to judge its size.
func hugePNGHeader() []byte {
	ihdr := binary.BigEndian.AppendUint32([]byte("IHDR"), 4096)
	ihdr = binary.BigEndian.AppendUint32(ihdr, 4096)
	ihdr = append(ihdr, 16, 6, 0, 0, 0)
	out := binary.BigEndian.AppendUint32([]byte("\x89PNG\r\n\x1a\n"), 13)
	out = append(out, ihdr...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(ihdr))
}
