package activities_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/imagegen/imagegen/activities"
)

func TestThumbnailFitsTheBoxAndKeepsTheAspect(t *testing.T) {
	for _, tc := range []struct{ w, h, tw, th int }{{1024, 1024, 256, 256}, {1024, 512, 256, 128}, {100, 50, 100, 50}} {
		img := image.NewRGBA(image.Rect(0, 0, tc.w, tc.h))
		var b bytes.Buffer
		png.Encode(&b, img)
		thumb, err := activities.Thumbnail(b.Bytes(), activities.ThumbnailSide)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(thumb))
		if err != nil || cfg.Width != tc.tw || cfg.Height != tc.th {
			t.Errorf("%dx%d → %dx%d (%v), want %dx%d", tc.w, tc.h, cfg.Width, cfg.Height, err, tc.tw, tc.th)
		}
	}
	if _, err := activities.Thumbnail([]byte("not an image"), 256); err == nil {
		t.Error("garbage made a thumbnail")
	}
}
