package workersai

import (
	"fmt"

	"github.com/imagegen/imagegen"
)

// wireShape is one model's request and response format on Workers AI. Each
// parameter field holds the JSON name that parameter travels under, or "" when
// the model's input schema has no such property: FLUX rejects unknown
// properties outright (additionalProperties: false, error 5006), so a
// parameter the model does not take must never be sent.
type wireShape struct {
	Steps, NegativePrompt, Width, Height, Guidance, Seed string

	// Strict mirrors additionalProperties: false in the model's schema; the
	// fake server uses it to reject extra fields as the real API does.
	Strict bool
	// MaxSteps is the schema's maximum for the steps property.
	MaxSteps int
	// MinSide and MaxSide bound width and height in the schema.
	MinSide, MaxSide int
	// MinGuidance and MaxGuidance bound guidance in the schema; a zero
	// MaxGuidance means the schema sets no bounds.
	MinGuidance, MaxGuidance float64
	// JSONImage is true when a success is a JSON envelope carrying a base64
	// image; false when it is the raw image bytes. The client decides by the
	// Content-Type instead; the fake uses this to answer like the real model.
	JSONImage bool
	// MediaType is what a success contains: image/jpeg for FLUX (never assume PNG).
	MediaType string
}

// sdxlShape is shared by both Stable Diffusion XL models, whose schemas are identical.
func sdxlShape() wireShape {
	return wireShape{
		Steps: "num_steps", NegativePrompt: "negative_prompt", Width: "width", Height: "height",
		Guidance: "guidance", Seed: "seed",
		MaxSteps: 20, MinSide: 256, MaxSide: 2048, MediaType: "image/png",
	}
}

// shapeFor is the table of supported Workers AI models, keyed by the provider's
// model id: adding a model is one case here plus its row in imagegen's models table.
func shapeFor(providerModel string) (wireShape, bool) {
	switch providerModel {
	case "@cf/black-forest-labs/flux-1-schnell":
		// Schema: prompt and steps only. There is no seed property, so a seed
		// is refused locally rather than sent and refused with 5006.
		return wireShape{Steps: "steps", Strict: true, MaxSteps: 8, JSONImage: true, MediaType: "image/jpeg"}, true
	case "@cf/bytedance/stable-diffusion-xl-lightning", "@cf/stabilityai/stable-diffusion-xl-base-1.0":
		return sdxlShape(), true
	case "@cf/leonardo/phoenix-1.0":
		// Schema: like SDXL without img2img, guidance 2-10; answers raw JPEG.
		return wireShape{
			Steps: "num_steps", NegativePrompt: "negative_prompt", Width: "width", Height: "height",
			Guidance: "guidance", Seed: "seed",
			MaxSteps: 50, MaxSide: 2048, MinGuidance: 2, MaxGuidance: 10, MediaType: "image/jpeg",
		}, true
	case "@cf/leonardo/lucid-origin":
		// Schema: no negative_prompt; steps come as num_steps (it also
		// accepts "steps"); sides up to 2500; answers a JSON envelope with a
		// base64 image, like FLUX.
		return wireShape{
			Steps: "num_steps", Width: "width", Height: "height", Guidance: "guidance", Seed: "seed",
			MaxSteps: 40, MaxSide: 2500, MaxGuidance: 10, JSONImage: true, MediaType: "image/jpeg",
		}, true
	default:
		return wireShape{}, false
	}
}

// requestBody builds the JSON object for one model, holding the prompt and
// exactly the optional parameters the request sets. A parameter the model's
// schema lacks is an input error naming the parameter, not a silent drop: the
// caller asked for something this model cannot do.
func requestBody(m imagegen.Model, shape wireShape, req imagegen.Request) (map[string]any, error) {
	body := map[string]any{"prompt": req.Prompt}
	params := []struct {
		name, field string
		isSet       bool
		value       func() any
	}{
		{"steps", shape.Steps, req.Steps > 0, func() any { return req.Steps }},
		{"negative_prompt", shape.NegativePrompt, req.NegativePrompt != "", func() any { return req.NegativePrompt }},
		{"width", shape.Width, req.Width > 0, func() any { return req.Width }},
		{"height", shape.Height, req.Height > 0, func() any { return req.Height }},
		{"guidance", shape.Guidance, req.Guidance != nil, func() any { return *req.Guidance }},
		{"seed", shape.Seed, req.Seed != nil, func() any { return *req.Seed }},
	}
	for _, p := range params {
		if !p.isSet {
			continue
		}
		if p.field == "" {
			return nil, &imagegen.Error{Kind: imagegen.KindInvalidInput,
				Message: fmt.Sprintf("model %s takes no %s on Workers AI: leave it out or use another model", m.Name, p.name)}
		}
		body[p.field] = p.value()
	}
	return body, nil
}
