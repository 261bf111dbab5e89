package preview_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/preview"
)

// solid encodes a w×h PNG of one colour.
func solid(t *testing.T, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// halfMask is a w×h mask, white on the left half, black on the right.
func halfMask(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w / 2 {
			img.SetGray(x, y, color.Gray{Y: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func decodePNG(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// count counts the pixels of img within rows [y0, y1) that match.
func count(img image.Image, y0, y1 int, match func(r, g, b uint8) bool) int {
	n := 0
	b := img.Bounds()
	for y := max(y0, b.Min.Y); y < min(y1, b.Max.Y); y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if match(uint8(r>>8), uint8(g>>8), uint8(bl>>8)) {
				n++
			}
		}
	}
	return n
}

func is(c color.RGBA) func(r, g, b uint8) bool {
	return func(r, g, b uint8) bool { return r == c.R && g == c.G && b == c.B }
}

func in(data []byte) imagegen.InputImage {
	return imagegen.InputImage{Data: data, ContentType: imagegen.SniffImageType(data)}
}

func TestPreviewShowsTheInputImagesOfAnEdit(t *testing.T) {
	green, blue := color.RGBA{0, 200, 0, 255}, color.RGBA{0, 0, 230, 255}
	magenta, cyan := color.RGBA{230, 0, 230, 255}, color.RGBA{0, 230, 230, 255}
	r := preview.New(preview.Options{})
	gen := func(req imagegen.Request, inputs imagegen.Inputs) image.Image {
		t.Helper()
		img, err := r.Generate(context.Background(), req, inputs)
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		return decodePNG(t, img.Data)
	}
	plain := gen(imagegen.Request{Prompt: "a fox", Model: "flux-2-dev"}, imagegen.Inputs{})
	if n := count(plain, 0, 512, is(green)); n > 100 {
		t.Fatalf("the plain preview already has %d pure green pixels: the test cannot tell", n)
	}

	one := gen(imagegen.Request{Prompt: "a fox", Model: "flux-2-dev", Inputs: []string{"images://job-a"}},
		imagegen.Inputs{Images: []imagegen.InputImage{in(solid(t, 200, 100, green))}})
	if n := count(one, 0, 512, is(green)); n < 20000 {
		t.Errorf("one green input: %d green pixels, want the input drawn large (over 20000)", n)
	}

	four := gen(imagegen.Request{Prompt: "a fox", Model: "flux-2-klein-4b", Inputs: []string{"a", "b", "c", "d"}},
		imagegen.Inputs{Images: []imagegen.InputImage{in(solid(t, 64, 64, green)), in(solid(t, 64, 64, blue)),
			in(solid(t, 64, 64, magenta)), in(solid(t, 64, 64, cyan))}})
	for name, c := range map[string]color.RGBA{"first": green, "second": blue, "third": magenta, "fourth": cyan} {
		if n := count(four, 0, 512, is(c)); n < 500 {
			t.Errorf("four inputs: the %s shows in %d pixels, want it drawn", name, n)
		}
	}

	// The mask's white half is tinted red over the first input.
	masked := gen(imagegen.Request{Prompt: "a door", Model: "sdxl-base", Inputs: []string{"images://job-a"}, Mask: "images://job-m", Strength: ptrF(0.5)},
		imagegen.Inputs{Images: []imagegen.InputImage{in(solid(t, 200, 200, green))}, Mask: ptrI(in(halfMask(t, 200, 200)))})
	tinted := count(masked, 0, 512, is(color.RGBA{127, 100, 0, 255}))
	untinted := count(masked, 0, 512, is(green))
	if tinted < 10000 || untinted < 10000 {
		t.Errorf("mask: %d tinted and %d untinted input pixels, want both halves drawn", tinted, untinted)
	}

	// The caption says so, in yellow under the model line (rows 93-122 of
	// a 512-pixel preview); without inputs the band has no such line.
	yellow := func(r, g, b uint8) bool { return r == 255 && g == 210 && b == 0 }
	if n := count(one, 93, 122, yellow); n < 100 {
		t.Errorf("edit caption: %d yellow pixels, want the inputs line", n)
	}
	if n := count(plain, 93, 122, yellow); n != 0 {
		t.Errorf("plain preview: %d yellow pixels where an edit's caption goes", n)
	}
}

func TestPreviewEditChainNestsEachImageInTheNext(t *testing.T) {
	r := preview.New(preview.Options{})
	first, err := r.Generate(context.Background(), imagegen.Request{Prompt: "a lighthouse", Model: "flux-2-klein-9b", Width: 512, Height: 384}, imagegen.Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	edit := imagegen.Request{Prompt: "the same at night", Model: "flux-2-klein-9b", Inputs: []string{"images://job-1"}}
	second, err := r.Generate(context.Background(), edit, imagegen.Inputs{Images: []imagegen.InputImage{in(first.Data)}})
	if err != nil {
		t.Fatalf("editing the first preview: %v", err)
	}
	again, err := r.Generate(context.Background(), edit, imagegen.Inputs{Images: []imagegen.InputImage{in(first.Data)}})
	if err != nil || !bytes.Equal(second.Data, again.Data) {
		t.Errorf("the same edit rendered different bytes (err %v)", err)
	}
	plain, _ := r.Generate(context.Background(), imagegen.Request{Prompt: "the same at night", Model: "flux-2-klein-9b"}, imagegen.Inputs{})
	if bytes.Equal(second.Data, plain.Data) || bytes.Equal(second.Data, first.Data) {
		t.Error("the edit looks like the plain prompt or like its input")
	}
	// The first image's top label band (black and yellow) shows up again
	// inside the second, below the second's own caption band.
	img := decodePNG(t, second.Data)
	yellow := func(r, g, b uint8) bool { return r == 255 && g == 210 && b == 0 }
	if n := count(img, 130, 400, yellow); n < 50 {
		t.Errorf("%d label pixels in the middle of the edit, want the first preview drawn there", n)
	}
}

func TestPreviewRefusesInputsAsAProviderWould(t *testing.T) {
	small, big := solid(t, 64, 64, color.RGBA{1, 2, 3, 255}), solid(t, 600, 100, color.RGBA{1, 2, 3, 255})
	tests := []struct {
		name      string
		req       imagegen.Request
		inputs    imagegen.Inputs
		wantInMsg string
	}{
		{"a model without inputs", imagegen.Request{Prompt: "x", Model: "flux-schnell", Inputs: []string{"a"}},
			imagegen.Inputs{Images: []imagegen.InputImage{in(small)}}, "takes no input images"},
		{"bytes the request does not name", imagegen.Request{Prompt: "x", Model: "flux-2-dev"},
			imagegen.Inputs{Images: []imagegen.InputImage{in(small)}}, "names 0 input images but 1"},
		{"a reference without bytes", imagegen.Request{Prompt: "x", Model: "flux-2-dev", Inputs: []string{"a"}}, imagegen.Inputs{}, "names 1 input images but 0"},
		{"not an image", imagegen.Request{Prompt: "x", Model: "flux-2-dev", Inputs: []string{"a"}},
			imagegen.Inputs{Images: []imagegen.InputImage{{Data: []byte("GIF89a")}}}, "not a PNG, JPEG or WebP"},
		{"larger than the model takes", imagegen.Request{Prompt: "x", Model: "flux-2-dev", Inputs: []string{"a"}},
			imagegen.Inputs{Images: []imagegen.InputImage{in(big)}}, "600x100"},
		{"a mask the request does not name", imagegen.Request{Prompt: "x", Model: "sdxl-base", Inputs: []string{"a"}},
			imagegen.Inputs{Images: []imagegen.InputImage{in(small)}, Mask: ptrI(in(small))}, "mask"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := preview.New(preview.Options{}).Generate(context.Background(), tt.req, tt.inputs)
			var e *imagegen.Error
			if imagegen.KindOf(err) != imagegen.KindInvalidInput || !errors.As(err, &e) || !strings.Contains(e.Message, tt.wantInMsg) {
				t.Errorf("err = %v, want invalid_input saying %q", err, tt.wantInMsg)
			}
		})
	}
}

func ptrF(v float64) *float64 { return &v }

func ptrI(v imagegen.InputImage) *imagegen.InputImage { return &v }
