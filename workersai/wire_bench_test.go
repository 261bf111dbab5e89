package workersai

import (
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit/providerkittest"
)

// BenchmarkEncode measures building a request body with input images: the
// multipart form of FLUX.2 (raw bytes per part) against SDXL's JSON
// (base64 in a string) for the same image, and FLUX.2 with four inputs.
// body-bytes is the size of what goes on the wire.
func BenchmarkEncode(b *testing.B) {
	img := imagegen.InputImage{Data: providerkittest.PNG(b, 512, 512), ContentType: "image/png", Width: 512, Height: 512}
	refs := []string{"images://a", "images://b", "images://c", "images://d"}
	for _, bc := range []struct {
		name, model string
		n           int
	}{
		{"sdxl-base JSON, 1 input", "sdxl-base", 1},
		{"flux-2-dev multipart, 1 input", "flux-2-dev", 1},
		{"flux-2-dev multipart, 4 inputs", "flux-2-dev", 4},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m, _ := imagegen.LookupModel(bc.model)
			wire, _ := WireFor(m.ProviderModel)
			req := imagegen.Request{Prompt: "the same at night", Model: bc.model, Width: 1024, Height: 768, Inputs: refs[:bc.n]}
			inputs := imagegen.Inputs{}
			for range bc.n {
				inputs.Images = append(inputs.Images, img)
			}
			var size int
			for b.Loop() {
				_, payload, err := wire.encode(m, req, inputs)
				if err != nil {
					b.Fatal(err)
				}
				size = len(payload)
			}
			b.ReportMetric(float64(size), "body-bytes")
		})
	}
}
