package providerkit

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
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

// pngHeader is a PNG that is only its signature and IHDR chunk: a header
// claiming w x h at the given bit depth and color type (6 = RGBA), with no
// pixel data. It costs nothing to build, whatever size it claims.
func pngHeader(w, h uint32, depth, colorType byte) []byte {
	ihdr := make([]byte, 0, 17)
	ihdr = append(ihdr, "IHDR"...)
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, depth, colorType, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = binary.BigEndian.AppendUint32(out, 13)
	out = append(out, ihdr...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(ihdr))
}

func TestCheckImageRefusesHeadersThatWouldDecodeTooLarge(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		// 128 MiB decoded from a header of 33 bytes: refused before decoding.
		{"16-bit RGBA 4096x4096", pngHeader(4096, 4096, 16, 6), "too large to decode: 4096x4096 at 8 bytes a pixel is over the 80 MiB limit"},
		{"16-bit gray 8192x4096 over the pixel cap", pngHeader(8192, 4096, 16, 0), "implausible size 8192x4096"},
		// Within the cap, so the size check lets them through to the full
		// decode, which then finds no pixel data.
		{"8-bit RGBA 3840x3840 (openai-image's largest)", pngHeader(3840, 3840, 8, 6), "does not decode (truncated or corrupt)"},
		{"16-bit RGBA 2048x2048", pngHeader(2048, 2048, 16, 6), "does not decode (truncated or corrupt)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := png.DecodeConfig(bytes.NewReader(tt.data)); err != nil {
				t.Fatalf("the crafted header does not decode as a PNG header: %v", err)
			}
			_, err := CheckImage(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckImage = %v; want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
