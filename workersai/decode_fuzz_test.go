package workersai

import (
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit/providerkittest"
)

// FuzzDecodeResponse checks that no answer, however malformed, panics the
// decoder, and that a success is always real image bytes correctly named.
func FuzzDecodeResponse(f *testing.F) {
	pngData, jpg := providerkittest.PNG(f, 16, 16), providerkittest.JPEG(f, 16, 16)
	f.Add(200, "application/json", successEnvelope(jpg))
	f.Add(200, "application/json; charset=utf-8", successEnvelope(pngData))
	f.Add(200, "image/png", pngData)
	f.Add(200, "image/jpeg", jpg[:len(jpg)/2])
	f.Add(200, "application/json", errorEnvelope(3040, "Capacity temporarily exceeded"))
	f.Add(429, "application/json", errorEnvelope(4006, "daily free allocation"))
	f.Add(400, "application/json", []byte(`{"success":false,"errors":[{"code":"5006","message":"bad"}]}`))
	f.Add(502, "text/html", []byte("<html>bad gateway</html>"))
	f.Add(200, "image/webp", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	f.Add(200, "", []byte("\x00\x01garbage\xff"))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		img, err := decodeResponse(status, contentType, body)
		if !providerkittest.Decoded(t, status, err) {
			return
		}
		if got := imagegen.SniffImageType(img.Data); got == "" || got != img.ContentType {
			t.Fatalf("success with ContentType %q but bytes sniff as %q", img.ContentType, got)
		}
	})
}
