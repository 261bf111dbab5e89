package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// FakeServer is an in-process stand-in for an OpenAI-compatible images API,
// for tests in any package that need the openai provider without the
// network. Like OpenAI it checks the bearer key, refuses unknown body fields
// (and response_format for GPT image models) with 400 unknown_parameter,
// answers 404 model_not_found for models it does not know, and answers
// {"created":...,"data":[{"b64_json":"<PNG>"}]}.
//
// Point a Client at it with New(fake.Config()).
type FakeServer struct {
	// URL is the API root to use as Config.BaseURL (it ends in /v1).
	URL string
	// APIKey is the key the fake accepts.
	APIKey string

	srv       *httptest.Server
	closeOnce sync.Once
	png       []byte

	mu       sync.Mutex
	models   []string
	queue    []FakeAnswer
	calls    int
	requests []FakeRequest
}

// FakeAnswer is one scripted answer: Status with this Content-Type and Body
// verbatim.
type FakeAnswer struct {
	Status      int
	ContentType string
	Body        []byte
}

// FakeRequest is one request the fake accepted.
type FakeRequest struct {
	// Body is the decoded JSON body, numbers as json.Number.
	Body map[string]any
}

// NewFakeServer starts a fake that knows the model gpt-image-2. Call Close
// when done (t.Cleanup(f.Close)).
func NewFakeServer() *FakeServer {
	f := &FakeServer{APIKey: "sk-fake-openai-key-7f3a9c", models: []string{"gpt-image-2"}}
	f.png = fakePNG()
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL + "/v1"
	return f
}

// Config returns a client configuration that talks to this fake.
func (f *FakeServer) Config() Config {
	return Config{APIKey: f.APIKey, BaseURL: f.URL}
}

// Close stops the server. Calling it more than once is harmless.
func (f *FakeServer) Close() {
	f.closeOnce.Do(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
}

// AddModel makes the fake know another model id.
func (f *FakeServer) AddModel(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.models = append(f.models, id)
}

// ReplyNext queues a scripted answer for the next call, before any checks
// but the key's.
func (f *FakeServer) ReplyNext(a FakeAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, a)
}

// FailNext queues an error envelope for the next call.
func (f *FakeServer) FailNext(status int, errType, code, message string) {
	f.ReplyNext(FakeAnswer{Status: status, ContentType: "application/json", Body: fakeError(errType, code, message)})
}

// Image returns the PNG a successful answer carries.
func (f *FakeServer) Image() []byte { return bytes.Clone(f.png) }

// Calls returns how many generation calls arrived with the right key.
func (f *FakeServer) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// Requests returns the bodies of the calls that passed the checks, in order.
func (f *FakeServer) Requests() []FakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *FakeServer) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Header.Get("Authorization") != "Bearer "+f.APIKey:
		writeFake(w, http.StatusUnauthorized, fakeError("invalid_request_error", "invalid_api_key", "Incorrect API key provided."))
		return
	case r.Method != http.MethodPost || r.URL.Path != "/v1/images/generations":
		writeFake(w, http.StatusNotFound, fakeError("invalid_request_error", "", "Invalid URL ("+r.Method+" "+r.URL.Path+")"))
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeFake(w, http.StatusBadRequest, fakeError("invalid_request_error", "", "the body could not be read"))
		return
	}
	f.mu.Lock()
	f.calls++
	var scripted *FakeAnswer
	if len(f.queue) > 0 {
		scripted = &f.queue[0]
		f.queue = f.queue[1:]
	}
	models := slices.Clone(f.models)
	f.mu.Unlock()
	if scripted != nil {
		w.Header().Set("Content-Type", scripted.ContentType)
		w.WriteHeader(scripted.Status)
		_, _ = w.Write(scripted.Body)
		return
	}

	body, status, problem := checkFakeBody(raw, models)
	if problem != nil {
		writeFake(w, status, problem)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, FakeRequest{Body: body})
	f.mu.Unlock()
	out, _ := json.Marshal(map[string]any{
		"created": 1767225600,
		"data":    []map[string]string{{"b64_json": base64.StdEncoding.EncodeToString(f.png)}},
	})
	writeFake(w, http.StatusOK, out)
}

// checkFakeBody applies the API's rules to a body and returns it decoded, or
// the status and error envelope to answer with.
func checkFakeBody(raw []byte, models []string) (map[string]any, int, []byte) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		return nil, http.StatusBadRequest, fakeError("invalid_request_error", "", "We could not parse the JSON body of your request.")
	}
	model, _ := body["model"].(string)
	known := map[string]bool{"model": true, "prompt": true, "n": true, "size": true}
	if !strings.HasPrefix(model, "gpt-image") {
		known["response_format"] = true
	}
	for field := range body {
		if !known[field] {
			return nil, http.StatusBadRequest, fakeError("invalid_request_error", "unknown_parameter", fmt.Sprintf("Unknown parameter: '%s'.", field))
		}
	}
	if prompt, _ := body["prompt"].(string); prompt == "" {
		return nil, http.StatusBadRequest, fakeError("invalid_request_error", "", "Missing required parameter: 'prompt'.")
	}
	if !slices.Contains(models, model) {
		return nil, http.StatusNotFound, fakeError("invalid_request_error", "model_not_found", fmt.Sprintf("The model '%s' does not exist.", model))
	}
	if n, ok := body["n"]; ok && n != json.Number("1") {
		return nil, http.StatusBadRequest, fakeError("invalid_request_error", "", "n must be 1 here")
	}
	if size, ok := body["size"]; ok {
		if s, _ := size.(string); !validFakeSize(s) {
			return nil, http.StatusBadRequest, fakeError("invalid_request_error", "", fmt.Sprintf("Invalid size '%v'.", size))
		}
	}
	if rf, ok := body["response_format"]; ok && rf != "b64_json" && rf != "url" {
		return nil, http.StatusBadRequest, fakeError("invalid_request_error", "", "Invalid response_format.")
	}
	return body, 0, nil
}

// validFakeSize accepts "WxH" with two positive integers.
func validFakeSize(s string) bool {
	w, h, ok := strings.Cut(s, "x")
	if !ok {
		return false
	}
	for _, side := range []string{w, h} {
		n, err := strconv.Atoi(side)
		if err != nil || n <= 0 || strconv.Itoa(n) != side {
			return false
		}
	}
	return true
}

func fakeError(errType, code, message string) []byte {
	var c any
	if code != "" {
		c = code
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": message, "type": errType, "param": nil, "code": c}})
	return b
}

func writeFake(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// fakePNG draws one small picture, real enough to decode.
func fakePNG() []byte {
	const side = 64
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x * 4), G: 96, B: uint8(y * 4), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(fmt.Sprintf("openai fake: encoding PNG: %v", err)) // cannot fail on an in-memory RGBA
	}
	return b.Bytes()
}
