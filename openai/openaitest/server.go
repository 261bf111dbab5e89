// Package openaitest provides an in-process stand-in for an
// OpenAI-compatible images API, in the style of net/http/httptest: NewServer
// starts it on a loopback port, Close stops it. Tests in any package use it
// when they need the openai provider without the network or a bill.
package openaitest

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

	"github.com/imagegen/imagegen/openai"
)

// Server is an in-process stand-in for an OpenAI-compatible images API.
// Like OpenAI it checks the bearer key, refuses unknown body fields
// (and response_format for GPT image models) with 400 unknown_parameter,
// answers 404 model_not_found for models it does not know, and answers
// {"created":...,"data":[{"b64_json":"<PNG>"}]}.
//
// Point a client at it with openai.New(srv.Config()).
type Server struct {
	// URL is the API root to use as Config.BaseURL (it ends in /v1).
	URL string
	// APIKey is the key the fake accepts.
	APIKey string

	srv       *httptest.Server
	closeOnce sync.Once
	png       []byte

	mu       sync.Mutex
	models   []string
	queue    []Answer
	calls    int
	requests []Request
}

// Answer is one scripted answer: Status with this Content-Type and Body
// verbatim.
type Answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// Request is one request the fake accepted.
type Request struct {
	// Body is the decoded JSON body, numbers as json.Number.
	Body map[string]any
}

// NewServer starts a fake that knows the model gpt-image-2. Call Close
// when done (t.Cleanup(f.Close)).
func NewServer() *Server {
	f := &Server{APIKey: "sk-fake-openai-key-7f3a9c", models: []string{"gpt-image-2"}}
	f.png = drawPNG()
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL + "/v1"
	return f
}

// Config returns a client configuration that talks to this fake.
func (f *Server) Config() openai.Config {
	return openai.Config{APIKey: f.APIKey, BaseURL: f.URL}
}

// Close stops the server. Calling it more than once is harmless.
func (f *Server) Close() {
	f.closeOnce.Do(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
}

// AddModel makes the fake know another model id.
func (f *Server) AddModel(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.models = append(f.models, id)
}

// ReplyNext queues a scripted answer for the next call, before any checks
// but the key's.
func (f *Server) ReplyNext(a Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, a)
}

// FailNext queues an error envelope for the next call.
func (f *Server) FailNext(status int, errType, code, message string) {
	f.ReplyNext(Answer{Status: status, ContentType: "application/json", Body: errorBody(errType, code, message)})
}

// Image returns the PNG a successful answer carries.
func (f *Server) Image() []byte { return bytes.Clone(f.png) }

// Calls returns how many generation calls arrived with the right key.
func (f *Server) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// Requests returns the bodies of the calls that passed the checks, in order.
func (f *Server) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Header.Get("Authorization") != "Bearer "+f.APIKey:
		write(w, http.StatusUnauthorized, errorBody("invalid_request_error", "invalid_api_key", "Incorrect API key provided."))
		return
	case r.Method != http.MethodPost || r.URL.Path != "/v1/images/generations":
		write(w, http.StatusNotFound, errorBody("invalid_request_error", "", "Invalid URL ("+r.Method+" "+r.URL.Path+")"))
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		write(w, http.StatusBadRequest, errorBody("invalid_request_error", "", "the body could not be read"))
		return
	}
	f.mu.Lock()
	f.calls++
	var scripted *Answer
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

	body, status, problem := checkBody(raw, models)
	if problem != nil {
		write(w, status, problem)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, Request{Body: body})
	f.mu.Unlock()
	out, _ := json.Marshal(map[string]any{
		"created": 1767225600,
		"data":    []map[string]string{{"b64_json": base64.StdEncoding.EncodeToString(f.png)}},
	})
	write(w, http.StatusOK, out)
}

// checkBody applies the API's rules to a body and returns it decoded, or
// the status and error envelope to answer with.
func checkBody(raw []byte, models []string) (map[string]any, int, []byte) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		return nil, http.StatusBadRequest, errorBody("invalid_request_error", "", "We could not parse the JSON body of your request.")
	}
	model, _ := body["model"].(string)
	known := map[string]bool{"model": true, "prompt": true, "n": true, "size": true}
	if !strings.HasPrefix(model, "gpt-image") {
		known["response_format"] = true
	}
	for field := range body {
		if !known[field] {
			return nil, http.StatusBadRequest, errorBody("invalid_request_error", "unknown_parameter", fmt.Sprintf("Unknown parameter: '%s'.", field))
		}
	}
	if prompt, _ := body["prompt"].(string); prompt == "" {
		return nil, http.StatusBadRequest, errorBody("invalid_request_error", "", "Missing required parameter: 'prompt'.")
	}
	if !slices.Contains(models, model) {
		return nil, http.StatusNotFound, errorBody("invalid_request_error", "model_not_found", fmt.Sprintf("The model '%s' does not exist.", model))
	}
	if n, ok := body["n"]; ok && n != json.Number("1") {
		return nil, http.StatusBadRequest, errorBody("invalid_request_error", "", "n must be 1 here")
	}
	if size, ok := body["size"]; ok {
		if s, _ := size.(string); !validSize(s) {
			return nil, http.StatusBadRequest, errorBody("invalid_request_error", "", fmt.Sprintf("Invalid size '%v'.", size))
		}
	}
	if rf, ok := body["response_format"]; ok && rf != "b64_json" && rf != "url" {
		return nil, http.StatusBadRequest, errorBody("invalid_request_error", "", "Invalid response_format.")
	}
	return body, 0, nil
}

// validSize accepts "WxH" with two positive integers.
func validSize(s string) bool {
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

// errorBody is the documented error envelope,
// {"error":{"message":...,"type":...,"param":null,"code":...}}; an empty code
// is sent as null.
func errorBody(errType, code, message string) []byte {
	var c any
	if code != "" {
		c = code
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": message, "type": errType, "param": nil, "code": c}})
	return b
}

func write(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// drawPNG draws one small picture, real enough to decode.
func drawPNG() []byte {
	const side = 64
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x * 4), G: 96, B: uint8(y * 4), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(fmt.Sprintf("openaitest: encoding PNG: %v", err)) // cannot fail on an in-memory RGBA
	}
	return b.Bytes()
}
