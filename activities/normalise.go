package activities

import (
	"bytes"
	"fmt"
	"image"
	"image/png"

	"golang.org/x/image/draw"

	"github.com/imagegen/imagegen"
)

// maxInputPixels bounds the decoded size of an input image (checked from
// its header before decoding, so a small file cannot claim a huge canvas).
const maxInputPixels = 40_000_000

// normalise sniffs an input image's type, refuses anything else, checks its
// dimensions before decoding, scales it down to maxSide (0: kept) and
// re-encodes it as PNG.
//
// Interim: imagefetch.Normalise (issue 15, i15-fetch) replaces it.
func normalise(data []byte, maxSide int) (imagegen.InputImage, error) {
	if imagegen.SniffImageType(data) == "" {
		return imagegen.InputImage{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "not a PNG, JPEG or WebP image"}
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return imagegen.InputImage{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "the image cannot be read", Err: err}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxInputPixels {
		return imagegen.InputImage{}, &imagegen.Error{Kind: imagegen.KindInvalidInput,
			Message: fmt.Sprintf("the image is %d×%d pixels; the limit is %d megapixels", cfg.Width, cfg.Height, maxInputPixels/1_000_000)}
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return imagegen.InputImage{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "the image cannot be decoded", Err: err}
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	var dst image.Image = src
	if long := max(w, h); maxSide > 0 && long > maxSide {
		tw, th := max(w*maxSide/long, 1), max(h*maxSide/long, 1)
		scaled := image.NewRGBA(image.Rect(0, 0, tw, th))
		draw.CatmullRom.Scale(scaled, scaled.Bounds(), src, b, draw.Src, nil)
		dst, w, h = scaled, tw, th
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, dst); err != nil {
		return imagegen.InputImage{}, fmt.Errorf("encode input image: %w", err)
	}
	return imagegen.InputImage{Data: buf.Bytes(), ContentType: "image/png", Width: w, Height: h}, nil
}
