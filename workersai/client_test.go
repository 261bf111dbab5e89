package workersai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit/providerkittest"
)

func TestGenerateFluxReturnsJPEGFromJSONEnvelope(t *testing.T) {
	jpg := providerkittest.JPEG(t, 64, 48)
	tests := []struct {
		name     string
		req      imagegen.Request
		wantBody map[string]any
	}{
		{"prompt only", imagegen.Request{Prompt: "a red fox", Model: "flux-schnell"},
			map[string]any{"prompt": "a red fox"}},
		{"no model means the default, flux-schnell", imagegen.Request{Prompt: "a red fox"},
			map[string]any{"prompt": "a red fox"}},
		{"steps forwarded as steps", imagegen.Request{Prompt: "a red fox", Model: "flux-schnell", Steps: 6},
			map[string]any{"prompt": "a red fox", "steps": json.Number("6")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := recordingClient(t, providerkittest.Reply(http.StatusOK, "application/json", successEnvelope(jpg)))
			img, err := c.Generate(context.Background(), tt.req, imagegen.Inputs{})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if img.ContentType != "image/jpeg" || !bytes.Equal(img.Data, jpg) {
				t.Errorf("got %s with %d bytes, want the image/jpeg sent (%d bytes)", img.ContentType, len(img.Data), len(jpg))
			}
			// Exactly the body: FLUX refuses extra fields.
			rec.Last().Want(t, "/accounts/ACC/ai/run/@cf/black-forest-labs/flux-1-schnell", testToken, tt.wantBody)
		})
	}
}

func TestGenerateSDXLForwardsParamsAndReturnsRawPNG(t *testing.T) {
	pngData := providerkittest.PNG(t, 64, 64)
	tests := []struct {
		model, path string
	}{
		{"sdxl-lightning", "/accounts/ACC/ai/run/@cf/bytedance/stable-diffusion-xl-lightning"},
		{"sdxl-base", "/accounts/ACC/ai/run/@cf/stabilityai/stable-diffusion-xl-base-1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			c, rec := recordingClient(t, providerkittest.Reply(http.StatusOK, "image/png", pngData))
			img, err := c.Generate(context.Background(), imagegen.Request{
				Prompt: "a lighthouse", Model: tt.model, NegativePrompt: "blurry",
				Width: 768, Height: 512, Steps: 12, Guidance: ptr(6.5), Seed: ptr(int64(42)),
			}, imagegen.Inputs{})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if img.ContentType != "image/png" || !bytes.Equal(img.Data, pngData) {
				t.Errorf("got %s with %d bytes, want the PNG sent", img.ContentType, len(img.Data))
			}
			got := rec.Last()
			if got.Path != tt.path {
				t.Errorf("path = %s, want %s", got.Path, tt.path)
			}
			want := map[string]any{
				"prompt": "a lighthouse", "negative_prompt": "blurry", "width": json.Number("768"),
				"height": json.Number("512"), "num_steps": json.Number("12"), "guidance": json.Number("6.5"),
				"seed": json.Number("42"),
			}
			if !maps.Equal(got.Body, want) {
				t.Errorf("body = %v, want %v", got.Body, want)
			}
		})
	}
}

func TestGenerateSDXLSendsOnlyTheParamsThatAreSet(t *testing.T) {
	c, rec := recordingClient(t, providerkittest.Reply(http.StatusOK, "image/png", providerkittest.PNG(t, 32, 32)))
	if _, err := c.Generate(context.Background(), imagegen.Request{Prompt: "a cat", Model: "sdxl-base", Seed: ptr(int64(0))}, imagegen.Inputs{}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	got := rec.Last()
	if keys := slices.Sorted(maps.Keys(got.Body)); !slices.Equal(keys, []string{"prompt", "seed"}) {
		t.Errorf("body fields = %v, want [prompt seed] (seed 0 is a real seed)", keys)
	}
}

func TestGenerateNamesTheImageByItsBytesNotTheHeader(t *testing.T) {
	jpg := providerkittest.JPEG(t, 32, 32)
	c := newTestClient(t, providerkittest.Reply(http.StatusOK, "image/png", jpg))
	img, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "sdxl-lightning"}, imagegen.Inputs{})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if img.ContentType != "image/jpeg" {
		t.Errorf("ContentType = %s, want image/jpeg (sniffed, not the claimed image/png)", img.ContentType)
	}
}

func TestGenerateRefusesBadRequestsWithoutCallingTheAPI(t *testing.T) {
	tests := []struct {
		name string
		req  imagegen.Request
		want imagegen.ErrorKind
	}{
		{"unknown model", imagegen.Request{Prompt: "x", Model: "dall-e"}, imagegen.KindUnknownModel},
		{"empty prompt", imagegen.Request{Prompt: "  ", Model: "flux-schnell"}, imagegen.KindInvalidInput},
		{"size on fixed-size FLUX", imagegen.Request{Prompt: "x", Model: "flux-schnell", Width: 512}, imagegen.KindInvalidInput},
		// FLUX's schema has no seed and refuses extra fields (5006): refuse
		// it here, clearly, instead of spending a call on it.
		{"seed on FLUX", imagegen.Request{Prompt: "x", Model: "flux-schnell", Seed: ptr(int64(7))}, imagegen.KindInvalidInput},
		{"too many steps", imagegen.Request{Prompt: "x", Model: "sdxl-base", Steps: 50}, imagegen.KindInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
			_, err := c.Generate(context.Background(), tt.req, imagegen.Inputs{})
			requireKind(t, err, tt.want)
			if calls.Load() != 0 {
				t.Errorf("the API was called %d times for a request refused locally", calls.Load())
			}
		})
	}
}

func TestGenerateMapsProviderErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        []byte
		want        imagegen.ErrorKind
		wantCode    int
		wantInMsg   string
	}{
		{"5006 input schema names the field", 400, "application/json",
			errorEnvelope(5006, "AiError: Bad input: must NOT have additional properties: 'width'"),
			imagegen.KindInvalidInput, 5006, "'width'"},
		{"5007 no such model", 400, "application/json", errorEnvelope(5007, "No such model"), imagegen.KindUnknownModel, 5007, "No such model"},
		{"3042 no such model on 404", 404, "application/json", errorEnvelope(3042, "Invalid model"), imagegen.KindUnknownModel, 3042, ""},
		{"10000 on 401", 401, "application/json", errorEnvelope(10000, "Authentication error"), imagegen.KindUnauthorized, 10000, "refused the account ID or API token"},
		{"10000 on 403", 403, "application/json", errorEnvelope(10000, "Authentication error"), imagegen.KindUnauthorized, 10000, ""},
		{"3040 out of capacity", 429, "application/json", errorEnvelope(3040, "Capacity temporarily exceeded"), imagegen.KindCapacity, 3040, "out of capacity"},
		{"4006 daily allocation", 429, "application/json",
			errorEnvelope(4006, "you have used up your daily free allocation of 10,000 neurons"), imagegen.KindQuotaExceeded, 4006, "free allocation is used up"},
		{"3036 daily allocation", 429, "application/json",
			errorEnvelope(3036, "Account limited: daily free allocation exceeded"), imagegen.KindQuotaExceeded, 3036, "free allocation is used up"},
		{"unknown code with daily allocation wording", 429, "application/json",
			errorEnvelope(9999, "You have used up your Daily Free Allocation"), imagegen.KindQuotaExceeded, 9999, "free allocation is used up"},
		{"3007 inference timeout", 408, "application/json", errorEnvelope(3007, "Request timeout"), imagegen.KindTimeout, 3007, ""},
		{"429 with unknown code", 429, "application/json", errorEnvelope(9999, "slow down"), imagegen.KindCapacity, 9999, "slow down"},
		{"500 envelope without code", 500, "application/json", errorEnvelope(0, "internal"), imagegen.KindUpstream, 0, "internal"},
		{"502 HTML page from the edge", 502, "text/html", []byte("<html><body>Bad gateway</body></html>"), imagegen.KindUpstream, 0, "HTTP 502"},
		{"503 empty body", 503, "", nil, imagegen.KindUpstream, 0, ""},
		{"504 plain text", 504, "text/plain", []byte("upstream timed out"), imagegen.KindUpstream, 0, "upstream timed out"},
		{"401 without envelope", 401, "text/plain", []byte("no"), imagegen.KindUnauthorized, 0, ""},
		{"404 without envelope", 404, "", nil, imagegen.KindUnknownModel, 0, ""},
		{"408 without envelope", 408, "", nil, imagegen.KindTimeout, 0, ""},
		{"422 unknown is a non-retryable input error", 422, "application/json", errorEnvelope(1234, "odd"), imagegen.KindInvalidInput, 1234, "rejected the request (HTTP 422)"},
		{"redirect means a misconfigured base URL", 302, "", nil, imagegen.KindMisconfigured, 0, "base URL"},
		{"200 with success:false and 3040", 200, "application/json", errorEnvelope(3040, "Capacity"), imagegen.KindCapacity, 3040, ""},
		{"200 with success:false and 5006", 200, "application/json", errorEnvelope(5006, "bad prompt"), imagegen.KindInvalidInput, 5006, "bad prompt"},
		{"200 with success:false and no errors", 200, "application/json", []byte(`{"success":false,"result":null,"errors":[]}`), imagegen.KindUpstream, 0, ""},
		{"code sent as a string", 429, "application/json", []byte(`{"success":false,"errors":[{"code":"3040","message":"busy"}]}`), imagegen.KindCapacity, 3040, ""},
		{"known code preferred over an unknown first one", 400, "application/json",
			[]byte(`{"success":false,"errors":[{"code":1,"message":"a"},{"code":5006,"message":"b"}]}`), imagegen.KindInvalidInput, 5006, "a; b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, providerkittest.Reply(tt.status, tt.contentType, tt.body))
			_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "sdxl-base"}, imagegen.Inputs{})
			e := requireKind(t, err, tt.want)
			if e.Code != tt.wantCode || e.Status != tt.status {
				t.Errorf("code %d status %d, want code %d status %d", e.Code, e.Status, tt.wantCode, tt.status)
			}
			if e.Kind.Retryable() != tt.want.Retryable() {
				t.Errorf("Retryable() = %v", e.Kind.Retryable())
			}
			if !strings.Contains(e.Message, tt.wantInMsg) || !strings.Contains(e.Message, "sdxl-base") {
				t.Errorf("message %q should name the model and contain %q", e.Message, tt.wantInMsg)
			}
			if strings.Contains(e.Message, "<html") {
				t.Errorf("message carries HTML: %q", e.Message)
			}
		})
	}
}

func TestGenerateRetryabilityFollowsTheDocumentedTable(t *testing.T) {
	retry := map[imagegen.ErrorKind]bool{
		imagegen.KindInvalidInput: false, imagegen.KindUnknownModel: false, imagegen.KindUnauthorized: false,
		imagegen.KindQuotaExceeded: false, imagegen.KindCapacity: true, imagegen.KindTimeout: true,
		imagegen.KindUpstream: true, imagegen.KindBadResponse: true,
	}
	for kind, want := range retry {
		if kind.Retryable() != want {
			t.Errorf("%s.Retryable() = %v, want %v", kind, !want, want)
		}
	}
}

func TestGenerateRejectsUnusableAnswers(t *testing.T) {
	pngData, jpg := providerkittest.PNG(t, 64, 64), providerkittest.JPEG(t, 64, 64)
	tests := []struct {
		name        string
		contentType string
		body        []byte
	}{
		{"HTML page with 200", "text/html; charset=utf-8", []byte("<html>maintenance</html>")},
		{"no content type", "", pngData},
		{"truncated PNG", "image/png", pngData[:len(pngData)/2]},
		{"truncated JPEG", "image/jpeg", jpg[:len(jpg)/2]},
		{"truncated JPEG in the JSON envelope", "application/json", successEnvelope(jpg[:len(jpg)/2])},
		{"PNG header only", "image/png", pngData[:33]},
		{"text sent as image/png", "image/png", []byte("this is not an image")},
		{"empty image body", "image/png", nil},
		{"empty JSON body", "application/json", nil},
		{"JSON without result.image", "application/json", []byte(`{"success":true,"result":{},"errors":[]}`)},
		{"JSON with null result", "application/json", []byte(`{"success":true,"result":null}`)},
		{"result.image not base64", "application/json", []byte(`{"success":true,"result":{"image":"***"}}`)},
		{"result.image base64 of text", "application/json", successEnvelope([]byte("hello"))},
		{"JSON that does not parse", "application/json", []byte(`{"success":tr`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, providerkittest.Reply(http.StatusOK, tt.contentType, tt.body))
			_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "flux-schnell"}, imagegen.Inputs{})
			e := requireKind(t, err, imagegen.KindBadResponse)
			if !e.Kind.Retryable() {
				t.Error("a bad answer should be retryable")
			}
		})
	}
}

func TestGenerateRejectsOversizeAnswer(t *testing.T) {
	big := append(providerkittest.PNG(t, 8, 8), make([]byte, 4096)...)
	c := newTestClient(t, providerkittest.Reply(http.StatusOK, "image/png", big))
	c.kit.MaxBody = 1024
	_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "sdxl-base"}, imagegen.Inputs{})
	e := requireKind(t, err, imagegen.KindBadResponse)
	if !strings.Contains(e.Message, "limit") {
		t.Errorf("message %q should say the limit was exceeded", e.Message)
	}
	if c2, _ := New(Config{AccountID: "a", APIToken: "t"}); c2.kit.MaxBody != 32<<20 {
		t.Errorf("default cap = %d, want 32 MiB", c2.kit.MaxBody)
	}
}

func TestGenerateEndsSlowAnswersAtTheDeadline(t *testing.T) {
	// Neither answer ever completes on its own: each handler runs until the
	// client hangs up. Generate returning a timeout that wraps the deadline
	// is the proof that the deadline ended the call (were it not so, the
	// test binary's -timeout would report the hang).
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"body trickles after the headers", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.WriteHeader(http.StatusOK)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				if _, err := w.Write([]byte{0x89}); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-tick.C:
				}
			}
		}},
		{"headers never come", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, tt.handler)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := c.Generate(ctx, imagegen.Request{Prompt: "x", Model: "sdxl-base"}, imagegen.Inputs{})
			requireKind(t, err, imagegen.KindTimeout)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
			}
		})
	}
}

func TestGenerateReportsCancellation(t *testing.T) {
	started := make(chan struct{})
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := c.Generate(ctx, imagegen.Request{Prompt: "x", Model: "flux-schnell"}, imagegen.Inputs{})
	assertNoToken(t, err)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v does not wrap context.Canceled", err)
	}
}

func TestGenerateTreatsBrokenConnectionsAsRetryableUpstream(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"reset before the answer", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
		}},
		{"EOF in the middle of the body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Content-Length", "5000")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(providerkittest.PNG(t, 8, 8))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, tt.handler)
			_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "sdxl-lightning"}, imagegen.Inputs{})
			e := requireKind(t, err, imagegen.KindUpstream)
			if !e.Kind.Retryable() {
				t.Error("a broken connection should be retryable")
			}
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("a network fault must not look like the caller's context ending: %v", err)
			}
			if strings.Contains(e.Message, "/accounts/") {
				t.Errorf("message repeats the endpoint URL: %q", e.Message)
			}
		})
	}
}

func TestGenerateNeverLeaksTheTokenEchoedByTheRemote(t *testing.T) {
	// A misbehaving proxy could echo the Authorization header into its error.
	echo := func(status int, contentType string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			msg := "you sent " + r.Header.Get("Authorization") + strings.Repeat(" pad", 100)
			if contentType == "application/json" {
				// Placed where clipping to ~300 characters would cut the
				// token in half if it were scrubbed only afterwards.
				_, _ = w.Write(errorEnvelope(5006, strings.Repeat("x", 270)+r.Header.Get("Authorization")))
				return
			}
			_, _ = w.Write([]byte(msg))
		}
	}
	for _, tt := range []struct {
		status      int
		contentType string
	}{{400, "application/json"}, {500, "text/plain"}, {200, "text/plain"}, {401, "application/json"}} {
		c := newTestClient(t, echo(tt.status, tt.contentType))
		_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "flux-schnell"}, imagegen.Inputs{})
		if err == nil {
			t.Fatalf("status %d: want an error", tt.status)
		}
		assertNoToken(t, err)
	}
}

func TestGenerateTruncatesLongProviderMessages(t *testing.T) {
	c := newTestClient(t, providerkittest.Reply(400, "application/json", errorEnvelope(5006, strings.Repeat("field 'width' is wrong. ", 200))))
	_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "sdxl-base"}, imagegen.Inputs{})
	e := requireKind(t, err, imagegen.KindInvalidInput)
	if n := len([]rune(e.Message)); n > 600 {
		t.Errorf("message is %d characters long; provider text should be cut to ~300", n)
	}
}

// roundTripFunc lets a test see the request the client builds without a server.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestGenerateBoundsCallsWithTheModelTimeout(t *testing.T) {
	pngData := providerkittest.PNG(t, 8, 8)
	var deadline time.Time
	var hasDeadline bool
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		deadline, hasDeadline = r.Context().Deadline()
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"image/png"}},
			Body: io.NopCloser(bytes.NewReader(pngData)), Request: r}, nil
	})}
	c, err := New(Config{AccountID: testAccount, APIToken: testToken, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := imagegen.LookupModel("sdxl-base")

	// The deadline is set between these two readings of the clock, so it
	// lies between them plus the model's timeout, however slow the machine.
	before := time.Now()
	if _, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "sdxl-base"}, imagegen.Inputs{}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	after := time.Now()
	if !hasDeadline || deadline.Before(before.Add(m.Timeout)) || deadline.After(after.Add(m.Timeout)) {
		t.Errorf("without a caller deadline the call should get the model timeout %v: deadline %v, want between %v and %v (set: %v)",
			m.Timeout, deadline, before.Add(m.Timeout), after.Add(m.Timeout), hasDeadline)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	want, _ := ctx.Deadline()
	if _, err := c.Generate(ctx, imagegen.Request{Prompt: "x", Model: "sdxl-base"}, imagegen.Inputs{}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if !deadline.Equal(want) {
		t.Errorf("the caller's deadline should be kept: got %v, want %v", deadline, want)
	}
}

func TestNewValidatesConfigWithoutRevealingTheToken(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no account", Config{APIToken: testToken}},
		{"no token", Config{AccountID: testAccount}},
		{"blank token", Config{AccountID: testAccount, APIToken: "   "}},
		{"token with inner newline", Config{AccountID: testAccount, APIToken: testToken + "\nX"}},
		{"relative base URL", Config{AccountID: testAccount, APIToken: testToken, BaseURL: "api.example.com"}},
		{"base URL with credentials", Config{AccountID: testAccount, APIToken: testToken, BaseURL: "https://u:p@example.com"}},
		{"account with a slash", Config{AccountID: "a/b", APIToken: testToken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil {
				t.Fatal("New accepted a bad config")
			}
			assertNoToken(t, err)
		})
	}
}

func TestNewBuildsTheEndpointFromTheBaseURL(t *testing.T) {
	tests := []struct {
		base, want string
	}{
		{"", "https://api.cloudflare.com/client/v4/accounts/ACC/ai/run/"},
		{"https://api.cloudflare.com/client/v4/", "https://api.cloudflare.com/client/v4/accounts/ACC/ai/run/"},
		{"http://127.0.0.1:9/prefix//", "http://127.0.0.1:9/prefix/accounts/ACC/ai/run/"},
		// AI Gateway takes the model right after /workers-ai.
		{"https://gateway.ai.cloudflare.com/v1/ACC/gw/workers-ai/", "https://gateway.ai.cloudflare.com/v1/ACC/gw/workers-ai/"},
	}
	for _, tt := range tests {
		c, err := New(Config{AccountID: testAccount, APIToken: testToken, BaseURL: tt.base})
		if err != nil {
			t.Fatalf("New(%q): %v", tt.base, err)
		}
		if c.endpoint != tt.want {
			t.Errorf("base %q: endpoint %q, want %q", tt.base, c.endpoint, tt.want)
		}
	}
}
