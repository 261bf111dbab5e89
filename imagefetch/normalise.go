package imagefetch

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/imagegen/imagegen"
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
	var decodeConfig func([]byte) (image.Config, error)
	var decode func([]byte) (image.Image, error)
	switch kind {
	case "image/png":
		decodeConfig = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
	case "image/jpeg":
		decodeConfig = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
	case "image/webp":
		decodeConfig = func(b []byte) (image.Config, error) { return webp.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) }
	default:
		return imagegen.InputImage{}, invalid("input image is not a PNG, JPEG or WebP image", nil)
	}
	name := kind[len("image/"):]
	cfg, err := decodeConfig(data)
	if err != nil {
		return imagegen.InputImage{}, invalid(fmt.Sprintf("input image is a %s whose header does not decode", name), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > o.MaxPixels/cfg.Height {
		return imagegen.InputImage{}, invalid(fmt.Sprintf("input image claims %d×%d pixels, more than the %d megapixels accepted: use a smaller image", cfg.Width, cfg.Height, o.MaxPixels/1_000_000), nil)
	}
	if bpp := bytesPerPixel(cfg.ColorModel); cfg.Width*cfg.Height > o.MaxDecodedBytes/bpp {
		return imagegen.InputImage{}, invalid(fmt.Sprintf("input image is too large to decode: %d×%d at %d bytes a pixel is over the %d MiB limit; use a smaller image", cfg.Width, cfg.Height, bpp, o.MaxDecodedBytes>>20), nil)
	}
	img, err := decode(data)
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
// (0: unchanged).
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
	// Premultiplied RGBA: the space in which filtering alpha is right.
	dst := image.NewRGBA(image.Rect(0, 0, nw, nh))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
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

// bytesPerPixel is what the image package allocates per pixel for a color
// model; an unknown model counts as the widest (8 bytes, 16-bit RGBA).
func bytesPerPixel(m color.Model) int {
	if _, ok := m.(color.Palette); ok { // a slice: not comparable with ==
		return 1
	}
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel: // 4:4:4 at worst
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	default:
		return 8
	}
}
