package imagefetch

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"strconv"
	"testing"
)

// photo is a w×h JPEG with gradients and noise, so that it compresses and
// decodes like a photo rather than a flat colour.
func photo(b *testing.B, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := uint8(r.IntN(24))
			img.SetRGBA(x, y, color.RGBA{uint8(x*255/w) + n, uint8(y*255/h) + n, 128 + n, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkNormalise measures a 12 MP phone photo brought down to a model's
// input side, against the decode alone (the baseline: what any use of the
// image costs).
func BenchmarkNormalise(b *testing.B) {
	data := photo(b, 4032, 3024)
	b.Run("decode-only-baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, side := range []int{512, 1024} {
		b.Run("normalise-to-"+strconv.Itoa(side), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Normalise(data, side); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
