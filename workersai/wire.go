package workersai

import (
	"encoding/json"
	"fmt"

	"github.com/imagegen/imagegen"
)

// Wire is one model's request and answer format on Workers AI: only what
// the wire adds to the model's row in imagegen's models table. The limits
// (steps, sides, guidance) are the row's; they are not repeated here.
//
// Each parameter field holds the JSON property that parameter travels as,
// or "" when the model's input schema has no such property: FLUX rejects
// unknown properties outright (additionalProperties: false, error 5006), so
// a parameter the model does not take must never be sent.
type Wire struct {
	Steps, NegativePrompt, Width, Height, Guidance, Seed string

	// Strict mirrors additionalProperties: false in the model's schema; the
	// fake server (workersaitest) rejects extra fields as the real API does.
	Strict bool
	// JSONAnswer is true when a success is a JSON envelope carrying a base64
	// image; false when it is the raw image bytes. The client decides by the
	// Content-Type instead; the fake uses this to answer like the real model.
	JSONAnswer bool
	// MediaType is what a success contains: image/jpeg for FLUX (never assume PNG).
	MediaType string
}

// sdxlWire is shared by both Stable Diffusion XL models, whose schemas are identical.
func sdxlWire() Wire {
	return Wire{
		Steps: "num_steps", NegativePrompt: "negative_prompt", Width: "width", Height: "height",
		Guidance: "guidance", Seed: "seed", MediaType: "image/png",
	}
}

// WireFor is the table of supported Workers AI models, keyed by the
// provider's model id: adding a model is one case here plus its row in
// imagegen's models table.
func WireFor(providerModel string) (Wire, bool) {
	switch providerModel {
	case "@cf/black-forest-labs/flux-1-schnell":
		// Schema: prompt and steps only. There is no seed property, so a seed
		// is refused locally rather than sent and refused with 5006.
		return Wire{Steps: "steps", Strict: true, JSONAnswer: true, MediaType: "image/jpeg"}, true
	case "@cf/bytedance/stable-diffusion-xl-lightning", "@cf/stabilityai/stable-diffusion-xl-base-1.0":
		return sdxlWire(), true
	case "@cf/leonardo/phoenix-1.0":
		// Schema: like SDXL without img2img; answers raw JPEG.
		w := sdxlWire()
		w.MediaType = "image/jpeg"
		return w, true
	case "@cf/leonardo/lucid-origin":
		// Schema: no negative_prompt; steps come as num_steps (it also
		// accepts "steps"); answers a JSON envelope with a base64 image,
		// like FLUX.
		return Wire{
			Steps: "num_steps", Width: "width", Height: "height", Guidance: "guidance", Seed: "seed",
			JSONAnswer: true, MediaType: "image/jpeg",
		}, true
	default:
		return Wire{}, false
	}
}

// encode builds the request body for one model: a JSON object holding the
// prompt and exactly the optional parameters the request sets. A parameter
// the model's schema lacks is an input error naming the parameter, not a
// silent drop: the caller asked for something this model cannot do. The
// body's encoding is decided here, per model, so that a model taking another
// one (the FLUX.2 models take multipart form data) is a branch here.
func (w Wire) encode(m imagegen.Model, req imagegen.Request) (contentType string, payload []byte, err error) {
	body := map[string]any{"prompt": req.Prompt}
	params := []struct {
		name, field string
		isSet       bool
		value       func() any
	}{
		{"steps", w.Steps, req.Steps > 0, func() any { return req.Steps }},
		{"negative_prompt", w.NegativePrompt, req.NegativePrompt != "", func() any { return req.NegativePrompt }},
		{"width", w.Width, req.Width > 0, func() any { return req.Width }},
		{"height", w.Height, req.Height > 0, func() any { return req.Height }},
		{"guidance", w.Guidance, req.Guidance != nil, func() any { return *req.Guidance }},
		{"seed", w.Seed, req.Seed != nil, func() any { return *req.Seed }},
	}
	for _, p := range params {
		if !p.isSet {
			continue
		}
		if p.field == "" {
			return "", nil, &imagegen.Error{Kind: imagegen.KindInvalidInput,
				Message: fmt.Sprintf("model %s takes no %s on Workers AI: leave it out or use another model", m.Name, p.name)}
		}
		body[p.field] = p.value()
	}
	payload, err = json.Marshal(body)
	if err != nil {
		return "", nil, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "request does not encode as JSON", Err: err}
	}
	return "application/json", payload, nil
}
