// Package workersaitest provides an in-process stand-in for the Cloudflare
// Workers AI REST API, in the style of net/http/httptest: NewServer starts it
// on a loopback port, Close stops it. Tests in any package (and the
// benchmark command) use it when they need "the provider" without the
// network or a bill.
package workersaitest

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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/workersai"
)

// Server is an in-process stand-in for the Workers AI REST API. It speaks the
// documented wire format: FLUX (1 and 2) and Lucid Origin answer with a JSON
// envelope holding a base64 JPEG, the SDXL models with raw PNG bytes, Phoenix
// with raw JPEG bytes, and failures with the error envelope
// {"success":false,"errors":[{"code":N,"message":"..."}]}. It checks
// the account, the token and each model's input schema as the real API does
// (FLUX refuses unknown fields with 5006; the FLUX.2 models take only
// multipart/form-data and refuse a JSON body with 5006; SDXL's input image
// and mask must be images), so a client bug shows up here too. Requests()
// returns what passed, part by part for multipart bodies.
//
// Each model's schema is its wire mapping (workersai.WireFor: property
// names, strictness, answer format) with the limits of its row in the models
// table (steps, sides, guidance).
//
// Point a client at it with workersai.New(srv.Config()).
type Server struct {
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
	queue    []Failure
	failFunc func(model string, call int) *Failure
	// promptFail and promptCalls script and count calls per prompt, so that
	// tests sharing one fake in parallel can tell their jobs apart.
	promptFail  func(model, prompt string, call int) *Failure
	promptCalls map[string]int
	onAnswer    func(req Request, at time.Time)
	calls       map[string]int
	total       int
	requests    []Request
}

// Failure is one scripted failure.
type Failure struct {
	// Status is the HTTP status. 0 means the fake drops the connection
	// without answering, like a connection reset.
	Status int
	// Code is the Workers AI error code in the envelope (e.g. 3040); 0 for none.
	Code    int
	Message string

	// ContentType, when set, makes the answer raw instead of an error
	// envelope: Status with this Content-Type and Body verbatim. Faults the
	// envelope cannot express use it: a wrong content type, a truncated image.
	ContentType string
	Body        []byte
	// Stall, when positive, sends the status, the headers (with the full
	// Content-Length) and the first half of the body, then waits this long
	// (or until the client hangs up) before the rest: a slow-loris answer.
	Stall time.Duration
}

// Request is one request the fake accepted for a known model.
type Request struct {
	// Model is the public model name (e.g. "flux-schnell").
	Model string
	// Header is the request's headers as they arrived.
	Header http.Header
	// ContentType is the body's media type without parameters
	// ("application/json" or "multipart/form-data").
	ContentType string
	// Body is the decoded body: for JSON the object, numbers as
	// json.Number; for multipart form data the text fields, the prompt as a
	// string and numbers as json.Number (binary parts are in Parts only).
	Body map[string]any
	// Parts are the parts of a multipart body in the order they came, text
	// fields and images alike; nil for a JSON body.
	Parts []Part
}

// Part is one part of a multipart/form-data body as it reached the fake.
type Part struct {
	Name        string // the form field name, e.g. "prompt", "input_image_0"
	FileName    string // "" for a text field
	ContentType string // the part's Content-Type header; "" if it had none
	Data        []byte
}

// Part returns the first part with this name, and whether there is one.
func (r Request) Part(name string) (Part, bool) {
	for _, p := range r.Parts {
		if p.Name == name {
			return p, true
		}
	}
	return Part{}, false
}

// maxBody caps a request body: four 512x512 input images as PNG fit with
// room to spare; Cloudflare documents no limit.
const maxBody = 32 << 20

// imageSide is the side of the images the fake returns: small, so that
// tests stay fast, yet real enough to decode.
const imageSide = 64

// NewServer starts a fake. Call Close when done (t.Cleanup(f.Close)).
func NewServer() *Server {
	f := &Server{
		AccountID:   "fake-account",
		APIToken:    "fake-workers-ai-token-0d6c2f",
		calls:       map[string]int{},
		promptCalls: map[string]int{},
	}
	f.jpeg, f.png = images()
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	return f
}

// Config returns a client configuration that talks to this fake.
func (f *Server) Config() workersai.Config {
	return workersai.Config{AccountID: f.AccountID, APIToken: f.APIToken, BaseURL: f.URL}
}

// Close stops the server, first cutting connections still waiting on a
// delay. Calling it more than once is harmless.
func (f *Server) Close() {
	f.closeOnce.Do(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
}

// SetDelay makes every later call wait d before answering (a generation
// taking time). The wait ends early if the client goes away.
func (f *Server) SetDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// FailNext makes the next n calls (to any model) fail with the given HTTP
// status and an error envelope carrying code and message. Status 0 drops the
// connection instead. Calls are queued: FailNext(1, 429, 3040, ...) followed
// by FailNext(1, 500, 0, ...) fails the next call with 3040, the one after with 500.
func (f *Server) FailNext(n int, status int, code int, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.queue = append(f.queue, Failure{Status: status, Code: code, Message: message})
	}
}

// SetFailFunc decides failures per call once the FailNext queue is empty and
// SetPromptFailFunc's function, if any, let the call through: it gets the
// public model name and that model's 1-based call number, and returns nil to
// let the call succeed. nil removes the function.
func (f *Server) SetFailFunc(fn func(model string, call int) *Failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failFunc = fn
}

// SetOnAnswer registers fn to be called after each successful image answer
// has been flushed to the client, with the request and the time it was sent.
// Benchmarks use it to timestamp "the provider finished" and measure how long
// the rest of the system takes to notice. It runs on the request's goroutine
// after the response is out, so a slow fn delays nothing the client sees; it
// may be called concurrently. nil removes the function.
func (f *Server) SetOnAnswer(fn func(req Request, at time.Time)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onAnswer = fn
}

// SetPromptFailFunc decides failures by prompt, for tests that share one fake
// between parallel jobs: fn gets the public model name, the request's prompt
// and that prompt's 1-based call number, and returns nil to let the call go on
// to SetFailFunc's function. It runs after the FailNext queue is empty. nil
// removes the function.
func (f *Server) SetPromptFailFunc(fn func(model, prompt string, call int) *Failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.promptFail = fn
}

// CallsForPrompt returns how many calls arrived whose JSON body had exactly
// this prompt, scripted and schema failures included.
func (f *Server) CallsForPrompt(prompt string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.promptCalls[prompt]
}

// Image returns the image bytes a successful answer for model carries
// (decoded from base64 for the JSON models), to compare with what was
// stored; nil for a model the fake does not serve.
func (f *Server) Image(model string) []byte {
	m, ok := imagegen.LookupModel(model)
	if !ok {
		return nil
	}
	wire, ok := workersai.WireFor(m.ProviderModel)
	if !ok {
		return nil
	}
	return bytes.Clone(f.imageFor(wire))
}

// Calls returns how many generation calls arrived with the right account and
// token, scripted and schema failures included.
func (f *Server) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// CallsFor returns how many calls arrived for one model, by public name
// (e.g. "sdxl-base") or provider id.
func (f *Server) CallsFor(model string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := imagegen.LookupModel(model); ok {
		model = m.ProviderModel
	}
	return f.calls[model]
}

// Requests returns the bodies of the calls that passed the schema check, in arrival order.
func (f *Server) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	prefix := "/accounts/" + f.AccountID + "/ai/run/"
	providerModel, ok := strings.CutPrefix(r.URL.Path, prefix)
	switch {
	case r.Method != http.MethodPost:
		writeError(w, http.StatusMethodNotAllowed, 10000, "Method not allowed")
		return
	case r.Header.Get("Authorization") != "Bearer "+f.APIToken:
		writeError(w, http.StatusUnauthorized, 10000, "Authentication error")
		return
	case !ok:
		writeError(w, http.StatusForbidden, 10000, "Authentication error")
		return
	}

	// Read the body before waiting: net/http only notices a client hanging
	// up (and cancels r.Context()) once the request body has been consumed.
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, 5006, "AiError: Bad input: the request body could not be read")
		return
	}

	// Only the prompt is needed here; the schema check comes later, so that
	// scripted failures win over it as they do over everything else.
	in := decodeBody(r.Header.Get("Content-Type"), raw)
	probe := struct{ Prompt string }{Prompt: in.prompt()}

	f.mu.Lock()
	f.total++
	f.calls[providerModel]++
	call := f.calls[providerModel]
	f.promptCalls[probe.Prompt]++
	promptCall := f.promptCalls[probe.Prompt]
	delay := f.delay
	var fail *Failure
	if len(f.queue) > 0 {
		fail = &f.queue[0]
		f.queue = f.queue[1:]
	}
	if fail == nil && f.promptFail != nil {
		fail = f.promptFail(publicName(providerModel), probe.Prompt, promptCall)
	}
	if fail == nil && f.failFunc != nil {
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
		writeFailure(w, r, fail)
		return
	}

	m, wire, ok := served(providerModel)
	if !ok {
		writeError(w, http.StatusBadRequest, 5007, "No such model "+providerModel+" or task")
		return
	}
	body, problem := checkBody(in, m, wire)
	if problem != "" {
		writeError(w, http.StatusBadRequest, 5006, "AiError: Bad input: "+problem)
		return
	}
	req := Request{Model: m.Name, Header: r.Header.Clone(), ContentType: in.mediaType, Body: body, Parts: in.parts}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	onAnswer := f.onAnswer
	f.mu.Unlock()

	if wire.JSONAnswer {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"result":  map[string]string{"image": base64.StdEncoding.EncodeToString(f.imageFor(wire))},
			"success": true, "errors": []any{}, "messages": []any{},
		})
	} else {
		w.Header().Set("Content-Type", wire.MediaType)
		_, _ = w.Write(f.imageFor(wire))
	}
	if onAnswer != nil {
		// Flush first so that the timestamp is when the client can have the
		// answer, not when it sat in the response buffer.
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		onAnswer(req, time.Now())
	}
}

func (f *Server) imageFor(wire workersai.Wire) []byte {
	if wire.MediaType == "image/jpeg" {
		return f.jpeg
	}
	return f.png
}

// publicName maps a provider model id to its public name, or returns the id
// unchanged when no model uses it.
func publicName(providerModel string) string {
	if m, _, ok := served(providerModel); ok {
		return m.Name
	}
	return providerModel
}

// served finds the models table row and the wire mapping of a Workers AI
// model id: the fake serves exactly the models the client does.
func served(providerModel string) (imagegen.Model, workersai.Wire, bool) {
	for _, m := range imagegen.Models() {
		if m.Provider == workersai.Provider && m.ProviderModel == providerModel {
			wire, ok := workersai.WireFor(providerModel)
			return m, wire, ok
		}
	}
	return imagegen.Model{}, workersai.Wire{}, false
}

func writeError(w http.ResponseWriter, status, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(errorBody(code, message))
}

func errorBody(code int, message string) []byte {
	errs := []map[string]any{}
	if code != 0 || message != "" {
		errs = append(errs, map[string]any{"code": code, "message": message})
	}
	b, _ := json.Marshal(map[string]any{"result": nil, "success": false, "errors": errs, "messages": []any{}})
	return append(b, '\n')
}

// writeFailure answers with a scripted failure: a dropped connection, an
// error envelope or a raw answer, possibly stalled halfway.
func writeFailure(w http.ResponseWriter, r *http.Request, fail *Failure) {
	if fail.Status == 0 {
		dropConnection(w)
		return
	}
	contentType, body := fail.ContentType, fail.Body
	if contentType == "" {
		contentType, body = "application/json", errorBody(fail.Code, fail.Message)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(fail.Status)
	if fail.Stall <= 0 {
		_, _ = w.Write(body)
		return
	}
	half := len(body) / 2
	_, _ = w.Write(body[:half])
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	t := time.NewTimer(fail.Stall)
	defer t.Stop()
	select {
	case <-t.C:
		_, _ = w.Write(body[half:])
	case <-r.Context().Done():
	}
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

// images draws one small picture and encodes it as JPEG and PNG.
func images() (jpegData, pngData []byte) {
	img := image.NewRGBA(image.Rect(0, 0, imageSide, imageSide))
	for y := range imageSide {
		for x := range imageSide {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x * 4), G: uint8(y * 4), B: 128, A: 255})
		}
	}
	var j, p bytes.Buffer
	if err := jpeg.Encode(&j, img, &jpeg.Options{Quality: 80}); err != nil {
		panic(fmt.Sprintf("workersaitest: encoding JPEG: %v", err)) // cannot fail on an in-memory RGBA
	}
	if err := png.Encode(&p, img); err != nil {
		panic(fmt.Sprintf("workersaitest: encoding PNG: %v", err))
	}
	return j.Bytes(), p.Bytes()
}
