package openai

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit/providerkittest"
)

// testKey is distinctive so that a leak is easy to spot in any text.
const testKey = "sk-test-S3cr3t0123456789abcdefXYZ"

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

// newTestClient starts a server running h and a client pointed at it.
func newTestClient(t *testing.T, h http.Handler, configure ...func(*Config)) (*Client, *providerkittest.Recorder) {
	t.Helper()
	srv, rec := providerkittest.NewServer(t, h)
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
	return providerkittest.RequireKind(t, err, want, testKey, testKey[8:20])
}

// assertNoKey fails if the key, or a telling part of it, shows up anywhere in
// the error chain's text.
func assertNoKey(t *testing.T, err error) {
	t.Helper()
	providerkittest.NoLeak(t, err, testKey, testKey[8:20])
}
