package activities

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // decode WebP answers too
)

// ThumbnailSide is the longest side of a thumbnail, in pixels: small enough to
// inline in a tool result (a few KB), large enough to recognise the image.
const ThumbnailSide = 256

// Thumbnail scales an image down to fit in side×side and encodes it as JPEG.
func Thumbnail(data []byte, side int) ([]byte, error) {
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode image for thumbnail: %w", err)
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return nil, fmt.Errorf("empty image")
	}
	scale := min(float64(side)/float64(w), float64(side)/float64(h), 1)
	tw, th := max(int(float64(w)*scale), 1), max(int(float64(h)*scale), 1)
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 80}); err != nil {
		return nil, fmt.Errorf("encode thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}
