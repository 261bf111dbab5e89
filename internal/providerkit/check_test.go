package providerkit

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

func TestCheckImageNamesWholeImagesAndRefusesBrokenOnes(t *testing.T) {
	// Noisy pixels, so that half of each encoding is image data rather
	// than headers and tables.
	img := image.NewRGBA(image.Rect(0, 0, 96, 64))
	seed := uint32(2463534242)
	for y := range 64 {
		for x := range 96 {
			seed ^= seed << 13
			seed ^= seed >> 17
			seed ^= seed << 5
			img.SetRGBA(x, y, color.RGBA{R: uint8(seed), G: uint8(seed >> 8), B: uint8(x ^ y), A: 255})
		}
	}
	var p, j bytes.Buffer
	if err := png.Encode(&p, img); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&j, img, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		data     []byte
		wantType string
		wantErr  string
	}{
		{"png", p.Bytes(), "image/png", ""},
		{"jpeg", j.Bytes(), "image/jpeg", ""},
		{"empty", nil, "", "empty"},
		{"truncated png", p.Bytes()[:p.Len()/2], "", "truncated or corrupt"},
		{"truncated jpeg", j.Bytes()[:j.Len()/2], "", "truncated or corrupt"},
		{"text", []byte("<html>\n\tupstream error</html>"), "", `starts with "<html> upstream …"`},
		{"webp header only", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), "", "image/webp header does not decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckImage(tt.data)
			if tt.wantErr == "" {
				if err != nil || got != tt.wantType {
					t.Fatalf("CheckImage = %q, %v; want %q", got, err, tt.wantType)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckImage = %q, %v; want an error containing %q", got, err, tt.wantErr)
			}
		})
	}
}
