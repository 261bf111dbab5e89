package workersai

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit/providerkittest"
)

const (
	testAccount = "ACC"
	// testToken is distinctive so that a leak is easy to spot in any text.
	testToken = "tok_S3cr3t-0123456789abcdefXYZ"
)

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

// newTestClient starts a server running h and a client pointed at it.
func newTestClient(t *testing.T, h http.Handler) *Client {
	t.Helper()
	c, _ := recordingClient(t, h)
	return c
}

// recordingClient is newTestClient that also returns the server's record of
// the requests it saw.
func recordingClient(t *testing.T, h http.Handler) (*Client, *providerkittest.Recorder) {
	t.Helper()
	srv, rec := providerkittest.NewServer(t, h)
	c, err := New(Config{AccountID: testAccount, APIToken: testToken, BaseURL: srv.URL})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, rec
}

// requireKind asserts that err is an *imagegen.Error of the wanted kind whose
// text does not leak the token, and returns it.
func requireKind(t *testing.T, err error, want imagegen.ErrorKind) *imagegen.Error {
	t.Helper()
	return providerkittest.RequireKind(t, err, want, testToken, testToken[:12])
}

// assertNoToken fails if the token shows up anywhere in the error chain's text.
func assertNoToken(t *testing.T, err error) {
	t.Helper()
	providerkittest.NoLeak(t, err, testToken, testToken[:12])
}

func ptr[T any](v T) *T { return &v }
