package workersai

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
	"testing"

	"github.com/imagegen/imagegen"
)

const (
	testAccount = "ACC"
	// testToken is distinctive so that a leak is easy to spot in any text.
	testToken = "tok_S3cr3t-0123456789abcdefXYZ"
)

// testPicture is a noisy picture: encoders cannot shrink it to a few bytes,
// so half of its encoding is really missing data.
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

// successEnvelope is FLUX's documented success answer.
func successEnvelope(img []byte) []byte {
	b, _ := json.Marshal(map[string]any{
		"result":  map[string]string{"image": base64.StdEncoding.EncodeToString(img)},
		"success": true, "errors": []any{}, "messages": []any{},
	})
	return b
}

// errorEnvelope is the documented failure answer.
func errorEnvelope(code int, message string) []byte {
	b, _ := json.Marshal(map[string]any{
		"result": nil, "success": false,
		"errors": []map[string]any{{"code": code, "message": message}}, "messages": []any{},
	})
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

// newTestClient starts a server running h and a client pointed at it.
func newTestClient(t *testing.T, h http.Handler) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// net/http only notices a client hanging up (and cancels
		// r.Context()) once the request body has been read, so read it
		// first: handlers that wait on the context then end with the test.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	c, err := New(Config{AccountID: testAccount, APIToken: testToken, BaseURL: srv.URL})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// requireKind asserts that err is an *imagegen.Error of the wanted kind whose
// text does not leak the token, and returns it.
func requireKind(t *testing.T, err error, want imagegen.ErrorKind) *imagegen.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %s", want)
	}
	assertNoToken(t, err)
	var e *imagegen.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %q is not an *imagegen.Error", err, err)
	}
	if e.Kind != want {
		t.Fatalf("kind = %s, want %s (error: %v)", e.Kind, want, err)
	}
	return e
}

// assertNoToken fails if the token shows up anywhere in the error chain's text.
func assertNoToken(t *testing.T, err error) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), testToken) || strings.Contains(e.Error(), testToken[:12]) {
			t.Fatalf("error text leaks the API token: %q", e.Error())
		}
	}
}

func ptr[T any](v T) *T { return &v }
