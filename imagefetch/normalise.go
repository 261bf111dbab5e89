package imagefetch

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit"
)

const (
	// DefaultMaxPixels bounds the dimensions an input image's header may
	// claim before it is decoded: 50 MP holds a 48 MP phone photo
	// (8064×6048).
	DefaultMaxPixels = 50_000_000
	// DefaultMaxDecodedBytes bounds the memory the decoded image takes,
	// computed from the header (width × height × bytes per pixel of its
	// color model) before decoding: 50 MP of 8-bit RGBA. A 16-bit PNG
	// (8 bytes a pixel) may have half as many pixels.
	DefaultMaxDecodedBytes = 200 << 20
	// JPEGQuality is the quality of re-encoded opaque images.
	JPEGQuality = 90
)

// NormaliseOptions bound and shape what Normalise produces. Zero fields
// take the defaults.
type NormaliseOptions struct {
	// MaxSide is the longest side of the result in pixels; a larger image is
	// scaled down (aspect ratio kept), a smaller one is kept. 0 keeps the
	// size.
	MaxSide int
	// MaxPixels and MaxDecodedBytes refuse images too large to decode
	// (decompression bombs), judged by the header alone.
	MaxPixels       int
	MaxDecodedBytes int
}

// Normalise is NormaliseOptions{MaxSide: maxSide}.Normalise(data).
func Normalise(data []byte, maxSide int) (imagegen.InputImage, error) {
	return NormaliseOptions{MaxSide: maxSide}.Normalise(data)
}

// Normalise turns image bytes into what a provider receives: the type is
// sniffed from the bytes (PNG, JPEG or WebP; anything else is refused), the
// header's dimensions are checked against MaxPixels and MaxDecodedBytes
// before anything is decoded, the image is decoded in full (a truncated file
// is refused), scaled down with Catmull-Rom so that its longest side is at
// most MaxSide, and encoded afresh, which also drops metadata (EXIF, GPS).
//
// The result is a PNG when the source is a PNG or has any transparency
// (lossless stays lossless, alpha survives), a JPEG at JPEGQuality
// otherwise (photos stay small). Errors are *imagegen.Error of kind
// KindInvalidInput.
func (o NormaliseOptions) Normalise(data []byte) (imagegen.InputImage, error) {
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.MaxDecodedBytes <= 0 {
		o.MaxDecodedBytes = DefaultMaxDecodedBytes
	}
	kind := imagegen.SniffImageType(data)
	decodeConfig, decode, ok := providerkit.Decoders(kind)
	if !ok {
		return imagegen.InputImage{}, invalid("input image is not a PNG, JPEG or WebP image", nil)
	}
	name := kind[len("image/"):]
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return imagegen.InputImage{}, invalid(fmt.Sprintf("input image is a %s whose header does not decode", name), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > o.MaxPixels/cfg.Height {
		return imagegen.InputImage{}, invalid(fmt.Sprintf("input image claims %d×%d pixels, more than the %d megapixels accepted: use a smaller image", cfg.Width, cfg.Height, o.MaxPixels/1_000_000), nil)
	}
	if bpp := providerkit.BytesPerPixel(cfg.ColorModel); cfg.Width*cfg.Height > o.MaxDecodedBytes/bpp {
		return imagegen.InputImage{}, invalid(fmt.Sprintf("input image is too large to decode: %d×%d at %d bytes a pixel is over the %d MiB limit; use a smaller image", cfg.Width, cfg.Height, bpp, o.MaxDecodedBytes>>20), nil)
	}
	img, err := decode(bytes.NewReader(data))
	if err != nil {
		return imagegen.InputImage{}, invalid(fmt.Sprintf("input image is a %s that does not decode (truncated or corrupt)", name), err)
	}
	// Scaled first (the longest side is the same either way), then turned
	// upright: a phone photo's EXIF orientation would be lost with the
	// metadata otherwise.
	img = scaleDown(img, o.MaxSide)
	if kind == "image/jpeg" {
		img = orient(img, jpegOrientation(data))
	}
	var out bytes.Buffer
	contentType := "image/jpeg"
	if kind == "image/png" || !opaque(img) {
		contentType = "image/png"
		err = png.Encode(&out, img)
	} else {
		err = jpeg.Encode(&out, img, &jpeg.Options{Quality: JPEGQuality})
	}
	if err != nil { // only a writer error could cause it; bytes.Buffer has none
		return imagegen.InputImage{}, fmt.Errorf("encode input image: %w", err)
	}
	b := img.Bounds()
	return imagegen.InputImage{Data: out.Bytes(), ContentType: contentType, Width: b.Dx(), Height: b.Dy()}, nil
}

// scaleDown returns img scaled so that its longest side is at most maxSide
// (0: unchanged). A large reduction is done in two steps, as image libraries
// do ("shrink, then reduce"): a box filter by the whole factor (an exact
// average of each k×k block, cheap on bytes), then Catmull-Rom for the
// remaining factor below 2, so the cost follows the source's pixels once
// instead of a kernel as wide as the reduction for every output pixel.
func scaleDown(img image.Image, maxSide int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if maxSide <= 0 || (w <= maxSide && h <= maxSide) {
		return img
	}
	nw, nh := maxSide, maxSide
	if w >= h {
		nh = max(1, (h*maxSide+w/2)/w)
	} else {
		nw = max(1, (w*maxSide+h/2)/h)
	}
	if k := min(w/nw, h/nh); k >= 2 {
		img = boxShrink(toRGBA(img), k)
		b = img.Bounds()
	}
	// Premultiplied RGBA: the space in which filtering alpha is right.
	dst := image.NewRGBA(image.Rect(0, 0, nw, nh))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}

// toRGBA returns img as premultiplied RGBA with its origin at 0,0.
func toRGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok && m.Rect.Min == (image.Point{}) {
		return m
	}
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(m, m.Bounds(), img, b.Min, draw.Src)
	return m
}

// boxShrink averages each k×k block of src into one pixel (blocks at the
// right and bottom edges may be smaller and average what they have).
func boxShrink(src *image.RGBA, k int) *image.RGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := (w+k-1)/k, (h+k-1)/k
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	sums := make([]uint32, dw*4)
	for dy := 0; dy < dh; dy++ {
		clear(sums)
		y0, y1 := dy*k, min(dy*k+k, h)
		for y := y0; y < y1; y++ {
			row := src.Pix[y*src.Stride : y*src.Stride+w*4]
			for dx := 0; dx < dw; dx++ {
				s := sums[dx*4 : dx*4+4]
				block := row[dx*k*4 : min(dx*k+k, w)*4]
				for i := 0; i+3 < len(block); i += 4 {
					s[0] += uint32(block[i])
					s[1] += uint32(block[i+1])
					s[2] += uint32(block[i+2])
					s[3] += uint32(block[i+3])
				}
			}
		}
		out := dst.Pix[dy*dst.Stride : dy*dst.Stride+dw*4]
		for dx := 0; dx < dw; dx++ {
			n := uint32((y1 - y0) * (min(dx*k+k, w) - dx*k))
			for c := 0; c < 4; c++ {
				out[dx*4+c] = uint8((sums[dx*4+c] + n/2) / n)
			}
		}
	}
	return dst
}

// opaque reports whether img has no transparent pixel; an image type that
// cannot tell counts as transparent (so it stays PNG).
func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}
