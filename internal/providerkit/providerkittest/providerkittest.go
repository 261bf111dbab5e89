// Package providerkittest holds the test helpers both provider clients'
// tests share: pictures encoded the way providers answer, a loopback server
// that records each request, a handler that answers one fixed reply, and
// checks that an error is classified and leaks no secret.
package providerkittest

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/imagegen/imagegen"
)

// Picture is a noisy picture: encoders cannot shrink it to a few bytes, so
// half of its encoding is really missing data.
func Picture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	seed := uint32(2463534242)
	for y := range h {
		for x := range w {
			seed ^= seed << 13
			seed ^= seed >> 17
			seed ^= seed << 5
			img.SetRGBA(x, y, color.RGBA{R: uint8(seed), G: uint8(seed >> 8), B: uint8(x + y), A: 255})
		}
	}
	return img
}

// PNG encodes a w×h Picture as PNG.
func PNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, Picture(w, h)); err != nil {
		t.Fatalf("encoding test PNG: %v", err)
	}
	return b.Bytes()
}

// JPEG encodes a w×h Picture as JPEG.
func JPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Picture(w, h), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatalf("encoding test JPEG: %v", err)
	}
	return b.Bytes()
}

// Reply answers every request with a fixed status, content type and body;
// an empty content type sends none at all.
func Reply(status int, contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		} else {
			w.Header()["Content-Type"] = nil // stop net/http from sniffing one
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// RequireKind asserts that err is an *imagegen.Error of the wanted kind whose
// text, anywhere in its chain, holds none of leaks (a secret and telling
// parts of it), and returns it.
func RequireKind(t testing.TB, err error, want imagegen.ErrorKind, leaks ...string) *imagegen.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %s", want)
	}
	NoLeak(t, err, leaks...)
	var e *imagegen.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %q is not an *imagegen.Error", err, err)
	}
	if e.Kind != want {
		t.Fatalf("kind = %s, want %s (error: %v)", e.Kind, want, err)
	}
	return e
}

// NoLeak fails if any of leaks shows up in the text of err's chain.
func NoLeak(t testing.TB, err error, leaks ...string) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, leak := range leaks {
			if strings.Contains(e.Error(), leak) {
				t.Fatalf("error text leaks a secret: %q", e.Error())
			}
		}
	}
}

// Decoded checks what a fuzzed decoder made of one answer: a failure must
// be classified, and only a 2xx status may decode as a success. It reports
// whether the answer was a success, for the caller's own checks of it.
func Decoded(t testing.TB, status int, err error) bool {
	t.Helper()
	if err != nil {
		if imagegen.KindOf(err) == "" {
			t.Fatalf("error %v is not an *imagegen.Error", err)
		}
		return false
	}
	if status < 200 || status > 299 {
		t.Fatalf("status %d decoded as a success", status)
	}
	return true
}

// Request is what a test server saw of one request; Body is the JSON body
// decoded with numbers as json.Number (nil when it was not JSON).
type Request struct {
	Method, Path, Auth, ContentType string
	Body                            map[string]any
}

// Recorder hands the server's view of the last request to the test
// goroutine under a lock: the race detector sees no ordering through the
// socket.
type Recorder struct {
	mu    sync.Mutex
	last  Request
	calls int
}

// Last returns the last request the server saw.
func (r *Recorder) Last() Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Calls returns how many requests the server saw.
func (r *Recorder) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// NewServer starts a loopback server running h, recording each request,
// and stops it when the test ends. It reads the request body before h runs:
// net/http only notices a client hanging up (and cancels r.Context()) once
// the body has been consumed, so handlers that wait on the context end with
// the client.
func NewServer(t testing.TB, h http.Handler) (*httptest.Server, *Recorder) {
	t.Helper()
	rec := &Recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if len(raw) > 0 {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			_ = dec.Decode(&body)
		}
		rec.mu.Lock()
		rec.last = Request{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"),
			ContentType: r.Header.Get("Content-Type"), Body: body}
		rec.calls++
		rec.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(raw))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv, rec
}

// Want fails t unless the request was a POST to path carrying the bearer
// secret, a JSON content type and exactly wantBody: providers refuse fields
// they do not know, so an extra one is as wrong as a missing one.
func (r Request) Want(t testing.TB, path, secret string, wantBody map[string]any) {
	t.Helper()
	if r.Method != http.MethodPost || r.Path != path {
		t.Errorf("request = %s %s, want POST %s", r.Method, r.Path, path)
	}
	if r.Auth != "Bearer "+secret || r.ContentType != "application/json" {
		t.Errorf("Authorization %q, Content-Type %q", r.Auth, r.ContentType)
	}
	if !maps.Equal(r.Body, wantBody) {
		t.Errorf("body = %v, want exactly %v", r.Body, wantBody)
	}
}
