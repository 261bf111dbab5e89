package workersai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/imagegen/imagegen"
)

// FakeServer is an in-process stand-in for the Workers AI REST API, for tests
// in any package that need "the provider" without the network. It speaks the
// documented wire format: FLUX answers with a JSON envelope holding a base64
// JPEG, the SDXL models with raw PNG bytes, and failures with the error
// envelope {"success":false,"errors":[{"code":N,"message":"..."}]}. It checks
// the account, the token and each model's input schema as the real API does
// (FLUX refuses unknown fields with 5006), so a client bug shows up here too.
//
// Point a Client at it with New(fake.Config()).
type FakeServer struct {
	// URL is the base URL to use as Config.BaseURL.
	URL string
	// AccountID and APIToken are what the fake accepts.
	AccountID string
	APIToken  string

	srv       *httptest.Server
	closeOnce sync.Once
	jpeg      []byte
	png       []byte

	mu       sync.Mutex
	delay    time.Duration
	queue    []FakeFailure
	failFunc func(model string, call int) *FakeFailure
	calls    map[string]int
	total    int
	requests []FakeRequest
}

// FakeFailure is one scripted failure.
type FakeFailure struct {
	// Status is the HTTP status. 0 means the fake drops the connection
	// without answering, like a connection reset.
	Status int
	// Code is the Workers AI error code in the envelope (e.g. 3040); 0 for none.
	Code    int
	Message string
}

// FakeRequest is one request the fake accepted for a known model.
type FakeRequest struct {
	// Model is the public model name (e.g. "flux-schnell").
	Model string
	// Body is the decoded JSON body, numbers as json.Number.
	Body map[string]any
}

// fakeImageSide is the side of the images the fake returns: small, so that
// tests stay fast, yet real enough to decode.
const fakeImageSide = 64

// NewFakeServer starts a fake. Call Close when done (t.Cleanup(f.Close)).
func NewFakeServer() *FakeServer {
	f := &FakeServer{
		AccountID: "fake-account",
		APIToken:  "fake-workers-ai-token-0d6c2f",
		calls:     map[string]int{},
	}
	f.jpeg, f.png = fakeImages()
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	return f
}

// Config returns a client configuration that talks to this fake.
func (f *FakeServer) Config() Config {
	return Config{AccountID: f.AccountID, APIToken: f.APIToken, BaseURL: f.URL}
}

// Close stops the server, first cutting connections still waiting on a
// delay. Calling it more than once is harmless.
func (f *FakeServer) Close() {
	f.closeOnce.Do(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
}

// SetDelay makes every later call wait d before answering (a generation
// taking time). The wait ends early if the client goes away.
func (f *FakeServer) SetDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// FailNext makes the next n calls (to any model) fail with the given HTTP
// status and an error envelope carrying code and message. Status 0 drops the
// connection instead. Calls are queued: FailNext(1, 429, 3040, ...) followed
// by FailNext(1, 500, 0, ...) fails the next call with 3040, the one after with 500.
func (f *FakeServer) FailNext(n int, status int, code int, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.queue = append(f.queue, FakeFailure{Status: status, Code: code, Message: message})
	}
}

// SetFailFunc decides failures per call once the FailNext queue is empty:
// it gets the public model name and that model's 1-based call number, and
// returns nil to let the call succeed. nil removes the function.
func (f *FakeServer) SetFailFunc(fn func(model string, call int) *FakeFailure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failFunc = fn
}

// Calls returns how many generation calls arrived with the right account and
// token, scripted and schema failures included.
func (f *FakeServer) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// CallsFor returns how many calls arrived for one model, by public name
// (e.g. "sdxl-base") or provider id.
func (f *FakeServer) CallsFor(model string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := imagegen.LookupModel(model); ok {
		model = m.ProviderModel
	}
	return f.calls[model]
}

// Requests returns the bodies of the calls that passed the schema check, in arrival order.
func (f *FakeServer) Requests() []FakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *FakeServer) serve(w http.ResponseWriter, r *http.Request) {
	prefix := "/accounts/" + f.AccountID + "/ai/run/"
	providerModel, ok := strings.CutPrefix(r.URL.Path, prefix)
	switch {
	case r.Method != http.MethodPost:
		writeFakeError(w, http.StatusMethodNotAllowed, 10000, "Method not allowed")
		return
	case r.Header.Get("Authorization") != "Bearer "+f.APIToken:
		writeFakeError(w, http.StatusUnauthorized, 10000, "Authentication error")
		return
	case !ok:
		writeFakeError(w, http.StatusForbidden, 10000, "Authentication error")
		return
	}

	// Read the body before waiting: net/http only notices a client hanging
	// up (and cancels r.Context()) once the request body has been consumed.
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeFakeError(w, http.StatusRequestEntityTooLarge, 5006, "AiError: Bad input: the request body could not be read")
		return
	}

	f.mu.Lock()
	f.total++
	f.calls[providerModel]++
	call := f.calls[providerModel]
	delay := f.delay
	var fail *FakeFailure
	if len(f.queue) > 0 {
		fail = &f.queue[0]
		f.queue = f.queue[1:]
	} else if f.failFunc != nil {
		fail = f.failFunc(publicName(providerModel), call)
	}
	f.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if fail != nil {
		if fail.Status == 0 {
			dropConnection(w)
			return
		}
		writeFakeError(w, fail.Status, fail.Code, fail.Message)
		return
	}

	shape, ok := shapeFor(providerModel)
	if !ok || publicName(providerModel) == providerModel {
		writeFakeError(w, http.StatusBadRequest, 5007, "No such model "+providerModel+" or task")
		return
	}
	body, problem := checkFakeBody(raw, shape)
	if problem != "" {
		writeFakeError(w, http.StatusBadRequest, 5006, "AiError: Bad input: "+problem)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, FakeRequest{Model: publicName(providerModel), Body: body})
	f.mu.Unlock()

	if shape.JSONImage {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"result":  map[string]string{"image": base64.StdEncoding.EncodeToString(f.imageFor(shape))},
			"success": true, "errors": []any{}, "messages": []any{},
		})
		return
	}
	w.Header().Set("Content-Type", shape.MediaType)
	_, _ = w.Write(f.imageFor(shape))
}

func (f *FakeServer) imageFor(shape wireShape) []byte {
	if shape.MediaType == "image/jpeg" {
		return f.jpeg
	}
	return f.png
}

// publicName maps a provider model id to its public name, or returns the id
// unchanged when no model uses it.
func publicName(providerModel string) string {
	for _, m := range imagegen.Models() {
		if m.ProviderModel == providerModel {
			return m.Name
		}
	}
	return providerModel
}

// checkFakeBody applies the model's input schema as Workers AI does and
// returns the decoded body, or a message naming the offending property.
func checkFakeBody(raw []byte, shape wireShape) (map[string]any, string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		return nil, "the body is not a JSON object: " + err.Error()
	}
	prompt, ok := body["prompt"].(string)
	if !ok {
		return nil, "required properties at '/' are 'prompt'"
	}
	if n := utf8.RuneCountInString(prompt); n < 1 || n > imagegen.MaxPromptLength {
		return nil, fmt.Sprintf("'/prompt' must NOT have fewer than 1 or more than %d characters", imagegen.MaxPromptLength)
	}
	type rule struct {
		kind     string // "int", "number", "string"
		min, max float64
	}
	rules := map[string]rule{"prompt": {kind: "string"}}
	add := func(field string, rl rule) {
		if field != "" {
			rules[field] = rl
		}
	}
	add(shape.Steps, rule{"int", 1, float64(shape.MaxSteps)})
	add(shape.NegativePrompt, rule{kind: "string"})
	add(shape.Width, rule{"int", 256, 2048})
	add(shape.Height, rule{"int", 256, 2048})
	add(shape.Guidance, rule{kind: "number", max: 1e9})
	add(shape.Seed, rule{kind: "int", max: 1 << 62})
	for field, v := range body {
		rl, known := rules[field]
		if !known {
			if shape.Strict {
				return nil, fmt.Sprintf("must NOT have additional properties: '%s'", field)
			}
			continue
		}
		switch rl.kind {
		case "string":
			if _, ok := v.(string); !ok {
				return nil, fmt.Sprintf("'/%s' must be string", field)
			}
		case "int", "number":
			n, ok := v.(json.Number)
			if !ok {
				return nil, fmt.Sprintf("'/%s' must be %s", field, rl.kind)
			}
			x, err := n.Float64()
			if err != nil || (rl.kind == "int" && strings.ContainsAny(n.String(), ".eE")) {
				return nil, fmt.Sprintf("'/%s' must be integer", field)
			}
			if x < rl.min || x > rl.max {
				return nil, fmt.Sprintf("'/%s' must be >= %g and <= %g", field, rl.min, rl.max)
			}
		}
	}
	return body, ""
}

func writeFakeError(w http.ResponseWriter, status, code int, message string) {
	errs := []map[string]any{}
	if code != 0 || message != "" {
		errs = append(errs, map[string]any{"code": code, "message": message})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"result": nil, "success": false, "errors": errs, "messages": []any{}})
}

// dropConnection closes the TCP connection without an answer, which the
// client sees as a reset or an unexpected EOF.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // net/http closes the connection
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// fakeImages draws one small picture and encodes it as JPEG and PNG.
func fakeImages() (jpegData, pngData []byte) {
	img := image.NewRGBA(image.Rect(0, 0, fakeImageSide, fakeImageSide))
	for y := range fakeImageSide {
		for x := range fakeImageSide {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x * 4), G: uint8(y * 4), B: 128, A: 255})
		}
	}
	var j, p bytes.Buffer
	if err := jpeg.Encode(&j, img, &jpeg.Options{Quality: 80}); err != nil {
		panic(fmt.Sprintf("workersai fake: encoding JPEG: %v", err)) // cannot fail on an in-memory RGBA
	}
	if err := png.Encode(&p, img); err != nil {
		panic(fmt.Sprintf("workersai fake: encoding PNG: %v", err))
	}
	return j.Bytes(), p.Bytes()
}
