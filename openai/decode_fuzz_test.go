package openai

import (
	"testing"

	"github.com/imagegen/imagegen/internal/providerkit/providerkittest"
)

// FuzzDecodeAnswer checks that no answer, however malformed, panics the
// decoder, and that every failure is classified.
func FuzzDecodeAnswer(f *testing.F) {
	f.Add(200, "application/json", b64Answer(providerkittest.PNG(f, 8, 8)))
	f.Add(200, "application/json", []byte(`{"data":[{"url":"http://127.0.0.1/x.png"}]}`))
	f.Add(200, "application/json", []byte(`{"error":"just a string"}`))
	f.Add(400, "application/json", []byte(`{"error":{"message":"m","type":"t","code":42}}`))
	f.Add(429, "application/json", []byte(`{"error":{"message":"m","type":"insufficient_quota","code":null}}`))
	f.Add(502, "text/plain", []byte("bad gateway"))
	f.Add(200, "", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		ans, err := decodeAnswer(status, contentType, body)
		if !providerkittest.Decoded(t, status, err) {
			return
		}
		if (len(ans.data) == 0) == (ans.url == "") {
			t.Fatalf("success with %d bytes and url %q: want exactly one", len(ans.data), ans.url)
		}
	})
}
