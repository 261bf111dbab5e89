package imagefetch

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"github.com/imagegen/imagegen"
)

func solid(w, h int, c color.Color) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngClaiming rewrites a small PNG's header to claim w×h pixels, with a
// valid checksum: only the dimensions are a lie.
func pngClaiming(t *testing.T, img image.Image, w, h int) []byte {
	b := encodePNG(t, img)
	binary.BigEndian.PutUint32(b[16:20], uint32(w))
	binary.BigEndian.PutUint32(b[20:24], uint32(h))
	binary.BigEndian.PutUint32(b[29:33], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// webpClaiming is a WebP whose VP8X header claims a w×h canvas.
func webpClaiming(w, h int) []byte {
	chunk := []byte{0, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	body := append([]byte("WEBPVP8X\x0a\x00\x00\x00"), chunk...)
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
	return append(out, body...)
}

// withOrientation inserts an EXIF APP1 segment carrying orientation o
// (big-endian TIFF) after a JPEG's SOI marker.
func withOrientation(jpg []byte, o int) []byte {
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01") // header, IFD0 at 8, one entry
	tiff = append(tiff, 0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0, byte(o), 0, 0)
	tiff = append(tiff, 0, 0, 0, 0) // no next IFD
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func decodeAny(t *testing.T, in imagegen.InputImage) image.Image {
	t.Helper()
	var img image.Image
	var err error
	switch in.ContentType {
	case "image/png":
		img, err = png.Decode(bytes.NewReader(in.Data))
	case "image/jpeg":
		img, err = jpeg.Decode(bytes.NewReader(in.Data))
	default:
		t.Fatalf("result has the type %q", in.ContentType)
	}
	if err != nil {
		t.Fatalf("result does not decode as %s: %v", in.ContentType, err)
	}
	if imagegen.SniffImageType(in.Data) != in.ContentType {
		t.Fatalf("result claims %s, its bytes are %q", in.ContentType, imagegen.SniffImageType(in.Data))
	}
	if b := img.Bounds(); b.Dx() != in.Width || b.Dy() != in.Height {
		t.Fatalf("result reports %d×%d, decodes to %v", in.Width, in.Height, b)
	}
	return img
}

func near(a, b uint32) bool { d := int(a>>8) - int(b>>8); return d > -12 && d < 12 }

func TestNormalise(t *testing.T) {
	lossy, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	alphaWebP, err := os.ReadFile("testdata/gopher-doc.with-alpha.lossless.webp")
	if err != nil {
		t.Fatal(err)
	}
	lossyCfg, _ := webp.DecodeConfig(bytes.NewReader(lossy))
	alphaCfg, _ := webp.DecodeConfig(bytes.NewReader(alphaWebP))
	teal := color.RGBA{0, 128, 128, 255}
	half := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	for i := range half.Pix {
		half.Pix[i] = []byte{200, 40, 40, 128}[i%4]
	}
	// A 40×20 JPEG that is red on its left half: stored sideways by a camera
	// that says "turn me 90° clockwise" (orientation 6).
	sideways := solid(40, 20, color.RGBA{0, 0, 255, 255})
	for y := 0; y < 20; y++ {
		for x := 0; x < 20; x++ {
			sideways.Set(x, y, color.RGBA{255, 0, 0, 255})
		}
	}
	// One-pixel black and white checks: scaled down properly they are grey,
	// sampled carelessly they alias to black or white.
	checks := image.NewGray(image.Rect(0, 0, 2001, 1500))
	for i := range checks.Pix {
		if (i%2001+i/2001)%2 == 0 {
			checks.Pix[i] = 255
		}
	}
	for _, tc := range []struct {
		name          string
		data          []byte
		maxSide       int
		kind          string
		width, height int
		check         func(t *testing.T, img image.Image)
	}{
		{name: "a small PNG keeps its size and stays PNG", data: encodePNG(t, solid(64, 48, teal)), maxSide: 512, kind: "image/png", width: 64, height: 48},
		{name: "a wide PNG is scaled to the longest side", data: encodePNG(t, solid(2000, 1000, teal)), maxSide: 512, kind: "image/png", width: 512, height: 256,
			check: func(t *testing.T, img image.Image) {
				r, g, b, a := img.At(256, 128).RGBA()
				if !near(r, 0) || !near(g, 128<<8) || !near(b, 128<<8) || a != 0xffff {
					t.Errorf("scaled pixel = %d %d %d %d, want the source's teal", r>>8, g>>8, b>>8, a>>8)
				}
			}},
		{name: "fine detail is averaged, not aliased", data: encodePNG(t, checks), maxSide: 300, kind: "image/png", width: 300, height: 225,
			check: func(t *testing.T, img image.Image) {
				for _, p := range []image.Point{{0, 0}, {150, 112}, {299, 224}, {37, 201}} {
					if g, _, _, _ := img.At(p.X, p.Y).RGBA(); g>>8 < 110 || g>>8 > 145 {
						t.Errorf("pixel %v = %d, want mid grey (about 128)", p, g>>8)
					}
				}
			}},
		{name: "a tall image is scaled by its height", data: encodePNG(t, solid(300, 1200, teal)), maxSide: 400, kind: "image/png", width: 100, height: 400},
		{name: "maxSide 0 keeps the size", data: encodePNG(t, solid(1500, 700, teal)), maxSide: 0, kind: "image/png", width: 1500, height: 700},
		{name: "a JPEG stays JPEG, scaled", data: encodeJPEG(t, solid(1600, 1200, teal)), maxSide: 800, kind: "image/jpeg", width: 800, height: 600},
		{name: "transparency survives as PNG", data: encodePNG(t, half), maxSide: 150, kind: "image/png", width: 150, height: 100,
			check: func(t *testing.T, img image.Image) {
				if _, _, _, a := img.At(75, 50).RGBA(); !near(a, 128<<8) {
					t.Errorf("alpha = %d, want about 128", a>>8)
				}
			}},
		{name: "a lossy opaque WebP becomes a JPEG", data: lossy, maxSide: 0, kind: "image/jpeg", width: lossyCfg.Width, height: lossyCfg.Height},
		{name: "a WebP with alpha becomes a PNG", data: alphaWebP, maxSide: 64, kind: "image/png", // a portrait
			width: (alphaCfg.Width*64 + alphaCfg.Height/2) / alphaCfg.Height, height: 64},
		{name: "an EXIF-rotated JPEG is turned upright", data: withOrientation(encodeJPEG(t, sideways), 6), kind: "image/jpeg", width: 20, height: 40,
			check: func(t *testing.T, img image.Image) {
				// Turned clockwise, the red left half is now the top.
				if r, _, b, _ := img.At(10, 5).RGBA(); r>>8 < 200 || b>>8 > 60 {
					t.Errorf("top = %d,%d (red, blue), want red", r>>8, b>>8)
				}
				if r, _, b, _ := img.At(10, 35).RGBA(); r>>8 > 60 || b>>8 < 200 {
					t.Errorf("bottom = %d,%d (red, blue), want blue", r>>8, b>>8)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Normalise(tc.data, tc.maxSide)
			if err != nil {
				t.Fatalf("Normalise: %v", err)
			}
			if got.ContentType != tc.kind || got.Width != tc.width || got.Height != tc.height {
				t.Fatalf("Normalise = %s %d×%d, want %s %d×%d", got.ContentType, got.Width, got.Height, tc.kind, tc.width, tc.height)
			}
			img := decodeAny(t, got)
			if tc.check != nil {
				tc.check(t, img)
			}
		})
	}
}

func TestNormaliseRefuses(t *testing.T) {
	small := encodePNG(t, solid(4, 4, color.White))
	for _, tc := range []struct {
		name string
		data []byte
		says string
	}{
		{"a PNG header claiming 100000×100000 (a decompression bomb)", pngClaiming(t, solid(1, 1, color.White), 100000, 100000), "claims 100000×100000 pixels"},
		{"a 16-bit PNG too large to decode though under the pixel cap", pngClaiming(t, image.NewRGBA64(image.Rect(0, 0, 1, 1)), 6000, 6000), "too large to decode: 6000×6000 at 8 bytes a pixel"},
		{"a WebP canvas of 16384×16384", webpClaiming(16384, 16384), "claims 16384×16384 pixels"},
		{"a zero-size header", pngClaiming(t, solid(1, 1, color.White), 0, 10), "header does not decode"},
		{"a truncated PNG", small[:len(small)-20], "does not decode (truncated or corrupt)"},
		{"a JPEG that is only a signature", []byte("\xFF\xD8\xFF\xE0garbage"), "jpeg whose header does not decode"},
		{"garbage", []byte("just some bytes that are no image at all"), "not a PNG, JPEG or WebP"},
		{"HTML", []byte("<!doctype html><html></html>"), "not a PNG, JPEG or WebP"},
		{"a GIF", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "not a PNG, JPEG or WebP"},
		{"nothing", nil, "not a PNG, JPEG or WebP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Normalise(tc.data, 512)
			if imagegen.KindOf(err) != imagegen.KindInvalidInput || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Normalise = %v, want invalid input saying %q", err, tc.says)
			}
		})
	}
}

func TestNormaliseCapsAreOptions(t *testing.T) {
	data := encodePNG(t, solid(200, 100, color.White))
	if _, err := (NormaliseOptions{MaxPixels: 10_000}).Normalise(data); imagegen.KindOf(err) != imagegen.KindInvalidInput {
		t.Fatalf("200×100 under a 10000-pixel cap = %v, want refused", err)
	}
	if _, err := (NormaliseOptions{MaxDecodedBytes: 200 * 100 * 4}).Normalise(data); err != nil {
		t.Fatalf("200×100 RGBA under an exact byte cap = %v, want accepted", err)
	}
}

func TestJPEGOrientationReadsOnlyWellFormedEXIF(t *testing.T) {
	jpg := encodeJPEG(t, solid(8, 8, color.White))
	for o := 1; o <= 8; o++ {
		if got := jpegOrientation(withOrientation(jpg, o)); got != o {
			t.Errorf("orientation %d read as %d", o, got)
		}
	}
	for name, data := range map[string][]byte{
		"no EXIF":           jpg,
		"out of range":      withOrientation(jpg, 9),
		"truncated segment": withOrientation(jpg, 6)[:12],
		"not a JPEG":        []byte("hello"),
	} {
		if got := jpegOrientation(data); got != 1 {
			t.Errorf("%s: orientation %d, want 1", name, got)
		}
	}
}

func TestOrientMapsEveryEXIFCase(t *testing.T) {
	// 2×1 source: left pixel A (red), right pixel B (blue). Where A lands
	// after each orientation's correction, and the result's size.
	src := image.NewRGBA(image.Rect(0, 0, 2, 1))
	src.Set(0, 0, color.RGBA{255, 0, 0, 255})
	src.Set(1, 0, color.RGBA{0, 0, 255, 255})
	for _, tc := range []struct {
		o    int
		w, h int
		a    image.Point
	}{
		{1, 2, 1, image.Pt(0, 0)},
		{2, 2, 1, image.Pt(1, 0)}, // mirrored
		{3, 2, 1, image.Pt(1, 0)}, // 180°
		{4, 2, 1, image.Pt(0, 0)}, // flipped top-bottom
		{5, 1, 2, image.Pt(0, 0)}, // transposed
		{6, 1, 2, image.Pt(0, 0)}, // 90° clockwise: the left end goes to the top
		{7, 1, 2, image.Pt(0, 1)}, // transversed
		{8, 1, 2, image.Pt(0, 1)}, // 90° counter-clockwise: the left end goes to the bottom
	} {
		got := orient(src, tc.o)
		if b := got.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
			t.Errorf("orientation %d: %v, want %d×%d", tc.o, b, tc.w, tc.h)
			continue
		}
		if r, _, _, _ := got.At(tc.a.X, tc.a.Y).RGBA(); r>>8 != 255 {
			t.Errorf("orientation %d: the left pixel is not at %v", tc.o, tc.a)
		}
	}
}

func TestBoxShrinkAveragesBlocksEdgesIncluded(t *testing.T) {
	// 5×3 grey ramp: value = 10*x + 100*y, shrunk by 2 into 3×2.
	src := image.NewRGBA(image.Rect(0, 0, 5, 3))
	for y := 0; y < 3; y++ {
		for x := 0; x < 5; x++ {
			v := uint8(10*x + 100*y)
			src.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	got := boxShrink(src, 2)
	if b := got.Bounds(); b.Dx() != 3 || b.Dy() != 2 {
		t.Fatalf("bounds %v, want 3×2", b)
	}
	for _, tc := range []struct {
		x, y int
		want uint8
	}{
		{0, 0, 55},  // (0+10+100+110)/4
		{1, 0, 75},  // (20+30+120+130)/4
		{2, 0, 90},  // right edge, one column: (40+140)/2
		{0, 1, 205}, // bottom edge, one row: (200+210)/2
		{2, 1, 240}, // the corner pixel alone
	} {
		if c := got.RGBAAt(tc.x, tc.y); c.R != tc.want || c.A != 255 {
			t.Errorf("pixel %d,%d = %v, want grey %d opaque", tc.x, tc.y, c, tc.want)
		}
	}
}

// Whatever the bytes, Normalise answers with an image of the sniffed kinds
// within its bounds, or invalid input; it never panics (the EXIF reader sees
// attacker bytes too).
func FuzzNormalise(f *testing.F) {
	jpg := encodeJPEG(f, solid(16, 8, color.White))
	f.Add(encodePNG(f, solid(8, 8, color.Black)))
	f.Add(jpg)
	f.Add(withOrientation(jpg, 6))
	f.Add(withOrientation(jpg, 3)[:40])
	f.Add(webpClaiming(10, 10))
	if webp, err := os.ReadFile("testdata/gopher-doc.with-alpha.lossless.webp"); err == nil {
		f.Add(webp)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := NormaliseOptions{MaxSide: 32, MaxPixels: 1 << 20}.Normalise(data)
		if err != nil {
			if imagegen.KindOf(err) != imagegen.KindInvalidInput {
				t.Fatalf("error of kind %q: %v", imagegen.KindOf(err), err)
			}
			return
		}
		if got.Width < 1 || got.Height < 1 || got.Width > 32 || got.Height > 32 || imagegen.SniffImageType(got.Data) != got.ContentType {
			t.Fatalf("result %s %d×%d (bytes sniff as %q)", got.ContentType, got.Width, got.Height, imagegen.SniffImageType(got.Data))
		}
	})
}
