package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/imagegen/imagegen"
)

// testKey is distinctive so that a leak is easy to spot in any text.
const testKey = "sk-test-S3cr3t0123456789abcdefXYZ"

func testPicture(w, h int) *image.RGBA {
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

func encodePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testPicture(w, h)); err != nil {
		t.Fatalf("encoding test PNG: %v", err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testPicture(w, h), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatalf("encoding test JPEG: %v", err)
	}
	return b.Bytes()
}

// b64Answer is the documented success answer carrying img.
func b64Answer(img []byte) []byte {
	b, _ := json.Marshal(map[string]any{"created": 1767225600, "data": []map[string]string{{"b64_json": base64.StdEncoding.EncodeToString(img)}}})
	return b
}

// errorBody is the documented error envelope; an empty code is sent as null.
func errorBody(errType, code, message string) []byte {
	var c any
	if code != "" {
		c = code
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": message, "type": errType, "param": nil, "code": c}})
	return b
}

// reply answers every request with a fixed status, content type and body.
func reply(status int, contentType string, body []byte) http.HandlerFunc {
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

// captured is what the test server saw of the last request.
type captured struct {
	method, path, auth, contentType string
	body                            map[string]any
	calls                           int
}

// recorder hands the handler's view to the test goroutine under a lock: the
// race detector sees no ordering through the socket.
type recorder struct {
	mu  sync.Mutex
	got captured
}

func (r *recorder) last() captured {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got
}

// newServer starts a server running h and remembers the last request.
func newServer(t *testing.T, h http.Handler) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: net/http only notices a client hanging up
		// (and cancels r.Context()) once it has been consumed.
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if len(raw) > 0 {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			_ = dec.Decode(&body)
		}
		rec.mu.Lock()
		rec.got = captured{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"),
			contentType: r.Header.Get("Content-Type"), body: body, calls: rec.got.calls + 1}
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

// newTestClient starts a server running h and a client pointed at it.
func newTestClient(t *testing.T, h http.Handler, configure ...func(*Config)) (*Client, *recorder) {
	t.Helper()
	srv, rec := newServer(t, h)
	cfg := Config{APIKey: testKey, BaseURL: srv.URL + "/v1"}
	for _, f := range configure {
		f(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, rec
}

// requireKind asserts that err is an *imagegen.Error of the wanted kind whose
// text does not leak the key, and returns it.
func requireKind(t *testing.T, err error, want imagegen.ErrorKind) *imagegen.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %s", want)
	}
	assertNoKey(t, err)
	var e *imagegen.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %q is not an *imagegen.Error", err, err)
	}
	if e.Kind != want {
		t.Fatalf("kind = %s, want %s (error: %v)", e.Kind, want, err)
	}
	return e
}

// assertNoKey fails if the key, or a telling part of it, shows up anywhere in
// the error chain's text.
func assertNoKey(t *testing.T, err error) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), testKey) || strings.Contains(e.Error(), testKey[8:20]) {
			t.Fatalf("error text leaks the API key: %q", e.Error())
		}
	}
}
