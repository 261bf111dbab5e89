package workersai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit/providerkittest"
	"github.com/imagegen/imagegen/workersai"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

func newFakeClient(t *testing.T) (*workersaitest.Server, *workersai.Client) {
	t.Helper()
	f := workersaitest.NewServer()
	t.Cleanup(f.Close)
	c, err := workersai.New(f.Config())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f, c
}

func ptr[T any](v T) *T { return &v }

// refs names n input images as a request does (the client only counts them).
func refs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("images://job-%d", i)
	}
	return out
}

func input(data []byte, contentType string) imagegen.InputImage {
	return imagegen.InputImage{Data: data, ContentType: contentType}
}

// wantPart is what one multipart part must be on the wire.
type wantPart struct {
	name, fileName, contentType string
	data                        []byte
}

func text(name, value string) wantPart { return wantPart{name: name, data: []byte(value)} }

func TestGenerateFlux2SendsMultipartPartByPart(t *testing.T) {
	png0, jpg1 := providerkittest.PNG(t, 512, 384), providerkittest.JPEG(t, 300, 512)
	png2, jpg3 := providerkittest.PNG(t, 64, 64), providerkittest.JPEG(t, 128, 96)
	tests := []struct {
		name   string
		req    imagegen.Request
		inputs imagegen.Inputs
		want   []wantPart
	}{
		{
			name: "dev with a bare prompt pins the steps it is billed for",
			req:  imagegen.Request{Prompt: "a sunset at the alps", Model: "flux-2-dev"},
			want: []wantPart{text("prompt", "a sunset at the alps"), text("steps", "25")},
		},
		{
			name: "dev with every parameter and four input images",
			req: imagegen.Request{Prompt: "put the cat of image 1 into image 0", Model: "flux-2-dev", Steps: 50, Width: 1920, Height: 256,
				Guidance: ptr(4.5), Seed: ptr(int64(0)), Inputs: refs(4)},
			inputs: imagegen.Inputs{Images: []imagegen.InputImage{
				input(png0, "image/png"), input(jpg1, "image/jpeg"), input(png2, "image/png"), input(jpg3, "image/jpeg")}},
			want: []wantPart{
				text("prompt", "put the cat of image 1 into image 0"), text("steps", "50"), text("width", "1920"),
				text("height", "256"), text("guidance", "4.5"), text("seed", "0"),
				{"input_image_0", "input_image_0.png", "image/png", png0}, {"input_image_1", "input_image_1.jpg", "image/jpeg", jpg1},
				{"input_image_2", "input_image_2.png", "image/png", png2}, {"input_image_3", "input_image_3.jpg", "image/jpeg", jpg3},
			},
		},
		{
			name:   "klein 4b with one input image sends no steps",
			req:    imagegen.Request{Prompt: "make it night", Model: "flux-2-klein-4b", Inputs: refs(1)},
			inputs: imagegen.Inputs{Images: []imagegen.InputImage{input(jpg1, "image/jpeg")}},
			want:   []wantPart{text("prompt", "make it night"), {"input_image_0", "input_image_0.jpg", "image/jpeg", jpg1}},
		},
		{
			name: "klein 9b with a size, a seed and two inputs",
			req: imagegen.Request{Prompt: "image 0 in the style of image 1", Model: "flux-2-klein-9b", Width: 1024, Height: 768,
				Seed: ptr(int64(42)), Guidance: ptr(1.0), Inputs: refs(2)},
			inputs: imagegen.Inputs{Images: []imagegen.InputImage{input(png2, "image/png"), input(png0, "image/png")}},
			want: []wantPart{text("prompt", "image 0 in the style of image 1"), text("width", "1024"), text("height", "768"),
				text("guidance", "1"), text("seed", "42"),
				{"input_image_0", "input_image_0.png", "image/png", png2}, {"input_image_1", "input_image_1.png", "image/png", png0}},
		},
		{
			name: "klein 9b with a bare prompt sends the prompt alone",
			req:  imagegen.Request{Prompt: "a fox", Model: "flux-2-klein-9b"},
			want: []wantPart{text("prompt", "a fox")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := newFakeClient(t)
			img, err := c.Generate(context.Background(), tt.req, tt.inputs)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if !bytes.Equal(img.Data, f.Image(tt.req.Model)) || img.ContentType != "image/jpeg" {
				t.Errorf("got %s with %d bytes, want the fake's image (base64 in the JSON envelope)", img.ContentType, len(img.Data))
			}
			reqs := f.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests reached the fake, want 1", len(reqs))
			}
			got := reqs[0]
			if got.ContentType != "multipart/form-data" {
				t.Errorf("body sent as %s, want multipart/form-data", got.ContentType)
			}
			if len(got.Parts) != len(tt.want) {
				t.Errorf("%d parts, want %d: %v", len(got.Parts), len(tt.want), partNames(got.Parts))
			}
			for i, w := range tt.want {
				if i >= len(got.Parts) {
					break
				}
				p := got.Parts[i]
				if p.Name != w.name || p.FileName != w.fileName || p.ContentType != w.contentType || !bytes.Equal(p.Data, w.data) {
					t.Errorf("part %d = %q file %q type %q (%d bytes %.20q), want %q file %q type %q (%d bytes)",
						i, p.Name, p.FileName, p.ContentType, len(p.Data), p.Data, w.name, w.fileName, w.contentType, len(w.data))
				}
			}
		})
	}
}

func partNames(parts []workersaitest.Part) []string {
	var names []string
	for _, p := range parts {
		names = append(names, p.Name)
	}
	return names
}

func TestGenerateRefusesInputsItCannotSendWithoutCallingTheAPI(t *testing.T) {
	small, big := providerkittest.PNG(t, 64, 64), providerkittest.PNG(t, 513, 200)
	one := imagegen.Inputs{Images: []imagegen.InputImage{input(small, "image/png")}}
	tests := []struct {
		name      string
		req       imagegen.Request
		inputs    imagegen.Inputs
		wantInMsg string
	}{
		{"klein takes no steps", imagegen.Request{Prompt: "x", Model: "flux-2-klein-4b", Steps: 4}, imagegen.Inputs{}, "takes no steps"},
		{"five inputs", imagegen.Request{Prompt: "x", Model: "flux-2-dev", Inputs: refs(5)},
			imagegen.Inputs{Images: make([]imagegen.InputImage, 5)}, "at most 4 input images"},
		{"an input over 512 pixels", imagegen.Request{Prompt: "x", Model: "flux-2-klein-9b", Inputs: refs(1)},
			imagegen.Inputs{Images: []imagegen.InputImage{input(big, "image/png")}}, "513x200"},
		{"an input that is no image", imagegen.Request{Prompt: "x", Model: "flux-2-dev", Inputs: refs(1)},
			imagegen.Inputs{Images: []imagegen.InputImage{input([]byte("GIF89a..."), "image/gif")}}, "not a usable PNG, JPEG or WebP"},
		{"bytes the request does not name", imagegen.Request{Prompt: "x", Model: "flux-2-dev"}, one, "names 0 input images but 1"},
		{"a reference without its bytes", imagegen.Request{Prompt: "x", Model: "flux-2-dev", Inputs: refs(2)}, one, "names 2 input images but 1"},
		{"a model without inputs", imagegen.Request{Prompt: "x", Model: "flux-schnell", Inputs: refs(1)}, one, "flux-schnell takes no input images"},
		{"mask on FLUX.2", imagegen.Request{Prompt: "x", Model: "flux-2-dev", Inputs: refs(1), Mask: "images://m"},
			imagegen.Inputs{Images: one.Images, Mask: &one.Images[0]}, "flux-2-dev takes no mask"},
		{"a mask the request does not name", imagegen.Request{Prompt: "x", Model: "sdxl-base", Inputs: refs(1)},
			imagegen.Inputs{Images: one.Images, Mask: &one.Images[0]}, "mask"},
		{"strength on FLUX.2", imagegen.Request{Prompt: "x", Model: "flux-2-klein-4b", Inputs: refs(1), Strength: ptr(0.5)}, one, "takes no strength"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := newFakeClient(t)
			_, err := c.Generate(context.Background(), tt.req, tt.inputs)
			var e *imagegen.Error
			if !errors.As(err, &e) || e.Kind != imagegen.KindInvalidInput || e.Kind.Retryable() {
				t.Fatalf("err = %v, want a non-retryable invalid_input *imagegen.Error", err)
			}
			if !bytes.Contains([]byte(e.Message), []byte(tt.wantInMsg)) {
				t.Errorf("message %q does not say %q", e.Message, tt.wantInMsg)
			}
			if f.Calls() != 0 {
				t.Errorf("the API was called %d times for a request refused locally", f.Calls())
			}
		})
	}
}

func TestGenerateSDXLSendsTheInputImageAndMaskAsDocumented(t *testing.T) {
	src, mask := providerkittest.PNG(t, 96, 64), providerkittest.PNG(t, 96, 64)
	for _, model := range []string{"sdxl-lightning", "sdxl-base"} {
		for _, tt := range []struct {
			name   string
			req    imagegen.Request
			inputs imagegen.Inputs
			want   map[string]any
		}{
			{"image-to-image", imagegen.Request{Prompt: "as a watercolour", Model: model, Inputs: refs(1), Strength: ptr(0.35)},
				imagegen.Inputs{Images: []imagegen.InputImage{input(src, "image/png")}},
				map[string]any{"prompt": "as a watercolour", "image_b64": b64(src), "strength": json.Number("0.35")}},
			{"inpainting", imagegen.Request{Prompt: "a red door", Model: model, Inputs: refs(1), Mask: "images://mask", Width: 768, Height: 512},
				imagegen.Inputs{Images: []imagegen.InputImage{input(src, "image/png")}, Mask: ptr(input(mask, "image/png"))},
				map[string]any{"prompt": "a red door", "image_b64": b64(src), "mask": byteValues(mask),
					"width": json.Number("768"), "height": json.Number("512")}},
		} {
			t.Run(model+" "+tt.name, func(t *testing.T) {
				f, c := newFakeClient(t)
				img, err := c.Generate(context.Background(), tt.req, tt.inputs)
				if err != nil {
					t.Fatalf("Generate: %v", err)
				}
				if img.ContentType != "image/png" {
					t.Errorf("answer %s, want the raw PNG", img.ContentType)
				}
				reqs := f.Requests()
				if len(reqs) != 1 || reqs[0].ContentType != "application/json" {
					t.Fatalf("requests %+v, want one JSON request", reqs)
				}
				got := reqs[0].Body
				if !maps.EqualFunc(got, tt.want, func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
					t.Errorf("body fields %v, want exactly %v", keys(got), keys(tt.want))
				}
			})
		}
	}
}

func b64(b []byte) string {
	s, _ := json.Marshal(b)
	var out string
	_ = json.Unmarshal(s, &out)
	return out
}

// byteValues is how the fake decodes a JSON array of byte values.
func byteValues(b []byte) []any {
	out := make([]any, len(b))
	for i, x := range b {
		out[i] = json.Number(fmt.Sprint(x))
	}
	return out
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
