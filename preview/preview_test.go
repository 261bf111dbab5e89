package preview_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"strings"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/preview"
)

func gen(t *testing.T, req imagegen.Request) imagegen.Image {
	t.Helper()
	img, err := preview.New(preview.Options{}).Generate(context.Background(), req, imagegen.Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPreviewIsDeterministicPerRequest(t *testing.T) {
	a := gen(t, imagegen.Request{Prompt: "a red fox", Model: "flux-schnell"})
	b := gen(t, imagegen.Request{Prompt: "a red fox", Model: "flux-schnell"})
	c := gen(t, imagegen.Request{Prompt: "a blue fox", Model: "flux-schnell"})
	if !bytes.Equal(a.Data, b.Data) {
		t.Error("same request gave different bytes")
	}
	if bytes.Equal(a.Data, c.Data) {
		t.Error("different prompts gave the same bytes")
	}
}

func TestPreviewIsARealPNGOfTheRequestedSize(t *testing.T) {
	for _, tc := range []struct {
		req  imagegen.Request
		w, h int
	}{
		{imagegen.Request{Prompt: "default size"}, preview.DefaultSide, preview.DefaultSide},
		{imagegen.Request{Prompt: "wide", Model: "sdxl-base", Width: 768, Height: 256}, 768, 256},
	} {
		img := gen(t, tc.req)
		if img.ContentType != "image/png" || imagegen.SniffImageType(img.Data) != "image/png" {
			t.Fatalf("content type %s", img.ContentType)
		}
		decoded, err := png.Decode(bytes.NewReader(img.Data))
		if err != nil {
			t.Fatal(err)
		}
		if b := decoded.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
			t.Errorf("size %v, want %dx%d", b, tc.w, tc.h)
		}
	}
}

func TestPreviewCarriesAVisibleLabel(t *testing.T) {
	img := gen(t, imagegen.Request{Prompt: "label check"})
	decoded, _ := png.Decode(bytes.NewReader(img.Data))
	// The label band is black with yellow text: it must contain both.
	var black, yellow int
	for y := 0; y < 20; y++ {
		for x := 0; x < 130; x++ {
			r, g, b, _ := decoded.At(x, y).RGBA()
			switch {
			case r == 0 && g == 0 && b == 0:
				black++
			case r>>8 == 255 && g>>8 == 210 && b>>8 == 0:
				yellow++
			}
		}
	}
	if black == 0 || yellow < 50 {
		t.Errorf("label band: %d black and %d yellow pixels; the label is missing", black, yellow)
	}
}

func TestPreviewRejectsInvalidRequests(t *testing.T) {
	_, err := preview.New(preview.Options{}).Generate(context.Background(), imagegen.Request{Prompt: " ", Model: "flux-schnell"}, imagegen.Inputs{})
	if imagegen.KindOf(err) != imagegen.KindInvalidInput {
		t.Errorf("empty prompt: %v", err)
	}
	_, err = preview.New(preview.Options{}).Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "flux-schnell", Width: 512}, imagegen.Inputs{})
	var ie *imagegen.Error
	if !errors.As(err, &ie) {
		t.Errorf("width on flux: %v", err)
	}
}

func TestPreviewDiffersForEveryParameterThatMatters(t *testing.T) {
	seed, other := int64(1), int64(2)
	base := imagegen.Request{Prompt: "a lighthouse", Model: "sdxl-base", Seed: &seed}
	baseImg := gen(t, base)
	for name, change := range map[string]func(*imagegen.Request){
		"seed":            func(r *imagegen.Request) { r.Seed = &other },
		"model":           func(r *imagegen.Request) { r.Model = "sdxl-lightning" },
		"negative prompt": func(r *imagegen.Request) { r.NegativePrompt = "fog" },
		"steps":           func(r *imagegen.Request) { r.Steps = 3 },
	} {
		req := base
		change(&req)
		if bytes.Equal(gen(t, req).Data, baseImg.Data) {
			t.Errorf("changing the %s gave the same bytes", name)
		}
	}
}

func TestPreviewLabelsTopAndBottomAtEverySize(t *testing.T) {
	for _, size := range [][2]int{{256, 256}, {2048, 256}, {256, 2048}, {1024, 1024}} {
		img := gen(t, imagegen.Request{Prompt: "label", Model: "sdxl-lightning", Width: size[0], Height: size[1]})
		decoded, err := png.Decode(bytes.NewReader(img.Data))
		if err != nil {
			t.Fatal(err)
		}
		h := decoded.Bounds().Dy()
		for band, rows := range map[string][2]int{"top": {0, 40}, "bottom": {h - 20, h}} {
			yellow := 0
			for y := rows[0]; y < rows[1]; y++ {
				for x := range decoded.Bounds().Dx() {
					r, g, b, _ := decoded.At(x, y).RGBA()
					if r>>8 == 255 && g>>8 == 210 && b>>8 == 0 {
						yellow++
					}
				}
			}
			if yellow < 100 {
				t.Errorf("%dx%d %s band: %d label pixels, want the label drawn", size[0], size[1], band, yellow)
			}
		}
	}
}

func TestPreviewDrawsAnyPromptText(t *testing.T) {
	for name, prompt := range map[string]string{
		"longest non-ASCII prompt": strings.Repeat("ü✓ ", imagegen.MaxPromptLength/3),
		"one endless word":         strings.Repeat("x", imagegen.MaxPromptLength),
		"newlines and tabs":        "line one\nline two\t\ttabbed\r\nend",
	} {
		img, err := preview.New(preview.Options{}).Generate(context.Background(), imagegen.Request{Prompt: prompt, Model: "sdxl-base", Width: 256, Height: 256}, imagegen.Inputs{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := png.Decode(bytes.NewReader(img.Data)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPreviewStopsOnACancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := preview.New(preview.Options{}).Generate(ctx, imagegen.Request{Prompt: "x"}, imagegen.Inputs{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestPreviewRejectsUnknownModels(t *testing.T) {
	_, err := preview.New(preview.Options{}).Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "dall-e"}, imagegen.Inputs{})
	if imagegen.KindOf(err) != imagegen.KindUnknownModel {
		t.Errorf("unknown model: %v", err)
	}
}

func BenchmarkPreview512(b *testing.B) {
	r := preview.New(preview.Options{})
	req := imagegen.Request{Prompt: "a red fox in the snow", Model: "flux-schnell"}
	for b.Loop() {
		if _, err := r.Generate(context.Background(), req, imagegen.Inputs{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPreviewVariantsOfOneJobDiffer(t *testing.T) {
	a := gen(t, imagegen.Request{Prompt: "twins", Model: "flux-schnell"})
	b := gen(t, imagegen.Request{Prompt: "twins", Model: "flux-schnell", Variant: 1})
	if bytes.Equal(a.Data, b.Data) {
		t.Error("variant 1 renders the same bytes as variant 0")
	}
}
