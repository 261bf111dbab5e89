package workersai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"mime/multipart"
	"net/textproto"
	"strconv"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit"
)

// Wire is one model's request and answer format on Workers AI: only what
// the wire adds to the model's row in imagegen's models table. The limits
// (steps, sides, guidance, how many input images of which size) are the
// row's; they are not repeated here.
//
// Each parameter field holds the property (JSON) or part (multipart) that
// parameter travels as, or "" when the model's input schema has no such
// property: FLUX rejects unknown properties outright (additionalProperties:
// false, error 5006), so a parameter the model does not take must never be
// sent.
type Wire struct {
	Steps, NegativePrompt, Width, Height, Guidance, Seed string

	// Image is the JSON property carrying the first input image as base64
	// (SDXL: image_b64), for image-to-image; "" when the model takes none.
	Image string
	// Mask is the JSON property carrying the inpainting mask as an array of
	// byte values, the encoded mask image's bytes (SDXL: mask).
	Mask string
	// Strength is the JSON property of the image-to-image strength (0 to 1).
	Strength string

	// Multipart means the body is multipart/form-data, as the FLUX.2 models
	// need even for a bare prompt: each parameter is a text part named by
	// its field and each input image a binary part named InputPart plus its
	// index (input_image_0 ... input_image_3), with a file name and the
	// image's Content-Type, as curl -F name=@file sends it.
	Multipart bool
	// InputPart is the name prefix of the input image parts of a multipart body.
	InputPart string
	// PinSteps makes the client send the row's DefaultSteps when the request
	// sets none, for a model whose own default is not documented but whose
	// price is per step: the cost of a call is then known before it is made.
	PinSteps bool

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

// sdxlWire is shared by both Stable Diffusion XL models, whose schemas are
// identical (Cloudflare's model pages, checked 2026-12): besides the text
// parameters they take image_b64 ("a base64-encoded string of the input
// image", for img2img), image (the same as an array of byte values), mask
// (an array of byte values, for inpainting) and strength ("a value between
// 0 and 1", default 1). The client sends image_b64, the smaller form.
func sdxlWire() Wire {
	return Wire{
		Steps: "num_steps", NegativePrompt: "negative_prompt", Width: "width", Height: "height",
		Guidance: "guidance", Seed: "seed", Image: "image_b64", Mask: "mask", Strength: "strength",
		MediaType: "image/png",
	}
}

// flux2Wire is shared by the FLUX.2 models (Cloudflare's launch changelogs,
// checked 2026-12): prompt, width, height, guidance and seed as form fields,
// input_image_0 ... input_image_3 as binary parts, and for dev a steps
// field. A JSON body is refused with 5006 ("required properties at '/' are
// 'multipart'"). Whether extra fields are refused is not documented; the
// client sends none and the fake refuses them, so a client bug shows.
//
// Through AI Gateway these models have been reported to fail (HTTP 500,
// code 7000; cloudflare-docs issue 33336, 2026-09): use the API base.
func flux2Wire(steps bool) Wire {
	w := Wire{
		Width: "width", Height: "height", Guidance: "guidance", Seed: "seed",
		Multipart: true, InputPart: "input_image_", Strict: true, JSONAnswer: true, MediaType: "image/jpeg",
	}
	if steps {
		w.Steps, w.PinSteps = "steps", true
	}
	return w
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
	case "@cf/black-forest-labs/flux-2-dev":
		return flux2Wire(true), true
	case "@cf/black-forest-labs/flux-2-klein-4b", "@cf/black-forest-labs/flux-2-klein-9b":
		// Distilled to a fixed 4 steps: "the steps parameter is fixed at 4
		// and cannot be adjusted", and the field list has no steps.
		return flux2Wire(false), true
	case "@cf/bytedance/stable-diffusion-xl-lightning", "@cf/stabilityai/stable-diffusion-xl-base-1.0":
		return sdxlWire(), true
	case "@cf/leonardo/phoenix-1.0":
		// Schema: like SDXL without img2img; answers raw JPEG.
		w := sdxlWire()
		w.Image, w.Mask, w.Strength = "", "", ""
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

// param is one optional parameter of a request, as the wire carries it.
type param struct {
	name, field string
	isSet       bool
	value       any // int, int64, float64 or string
}

// encode builds the request body for one model: the prompt, exactly the
// optional parameters the request sets and the input images, as JSON or as
// multipart form data. A parameter the model's schema lacks is an input
// error naming the parameter, not a silent drop: the caller asked for
// something this model cannot do.
func (w Wire) encode(m imagegen.Model, req imagegen.Request, inputs imagegen.Inputs) (contentType string, payload []byte, err error) {
	if err := w.checkInputs(m, req, inputs); err != nil {
		return "", nil, err
	}
	steps := req.Steps
	if steps == 0 && w.PinSteps {
		steps = m.DefaultSteps
	}
	params := []param{
		{"steps", w.Steps, steps > 0, steps},
		{"negative_prompt", w.NegativePrompt, req.NegativePrompt != "", req.NegativePrompt},
		{"width", w.Width, req.Width > 0, req.Width},
		{"height", w.Height, req.Height > 0, req.Height},
		{"guidance", w.Guidance, req.Guidance != nil, deref(req.Guidance)},
		{"seed", w.Seed, req.Seed != nil, deref(req.Seed)},
		{"strength", w.Strength, req.Strength != nil, deref(req.Strength)},
	}
	for _, p := range params {
		if p.isSet && p.field == "" {
			return "", nil, &imagegen.Error{Kind: imagegen.KindInvalidInput,
				Message: fmt.Sprintf("model %s takes no %s on Workers AI: leave it out or use another model", m.Name, p.name)}
		}
	}
	if w.Multipart {
		return w.encodeMultipart(req, params, inputs)
	}
	return w.encodeJSON(req, params, inputs)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (w Wire) encodeJSON(req imagegen.Request, params []param, inputs imagegen.Inputs) (string, []byte, error) {
	body := map[string]any{"prompt": req.Prompt}
	for _, p := range params {
		if p.isSet {
			body[p.field] = p.value
		}
	}
	if len(inputs.Images) > 0 {
		body[w.Image] = base64.StdEncoding.EncodeToString(inputs.Images[0].Data)
	}
	if inputs.Mask != nil {
		// An array of numbers, one per byte of the encoded mask image: a
		// []byte would marshal as base64, which the schema does not take.
		vals := make([]int, len(inputs.Mask.Data))
		for i, b := range inputs.Mask.Data {
			vals[i] = int(b)
		}
		body[w.Mask] = vals
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return "", nil, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "request does not encode as JSON", Err: err}
	}
	return "application/json", payload, nil
}

func (w Wire) encodeMultipart(req imagegen.Request, params []param, inputs imagegen.Inputs) (string, []byte, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	// Writes to a bytes.Buffer cannot fail; the errors are still checked
	// so that a future streaming body keeps working.
	fail := func(err error) (string, []byte, error) {
		return "", nil, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "request does not encode as multipart form data", Err: err}
	}
	if err := mw.WriteField("prompt", req.Prompt); err != nil {
		return fail(err)
	}
	for _, p := range params {
		if !p.isSet {
			continue
		}
		if err := mw.WriteField(p.field, formValue(p.value)); err != nil {
			return fail(err)
		}
	}
	for i, in := range inputs.Images {
		name := w.InputPart + strconv.Itoa(i)
		kind := imagegen.SniffImageType(in.Data)
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, name, name+imagegen.ExtensionFor(kind)))
		h.Set("Content-Type", kind)
		part, err := mw.CreatePart(h)
		if err != nil {
			return fail(err)
		}
		if _, err := part.Write(in.Data); err != nil {
			return fail(err)
		}
	}
	if err := mw.Close(); err != nil {
		return fail(err)
	}
	return mw.FormDataContentType(), buf.Bytes(), nil
}

// formValue spells a parameter as a form field: integers in decimal,
// numbers in the shortest form that reads back exactly.
func formValue(v any) string {
	switch v := v.(type) {
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// checkInputs refuses input images the request and the model do not agree
// on, before anything is sent: inputs the request does not name (they would
// be billed and ignored, or silently dropped), a kind of input the model's
// wire has no place for, an image that is not a PNG, JPEG or WebP, or one
// larger than the model takes (the caller resizes to the row's InputSide).
func (w Wire) checkInputs(m imagegen.Model, req imagegen.Request, inputs imagegen.Inputs) error {
	bad := func(format string, args ...any) error {
		return &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf(format, args...)}
	}
	if len(inputs.Images) != len(req.Inputs) {
		return bad("the request names %d input images but %d were given to the Workers AI client", len(req.Inputs), len(inputs.Images))
	}
	if (inputs.Mask != nil) != (req.Mask != "") {
		return bad("the request's mask and the mask given to the Workers AI client disagree (one is missing)")
	}
	if len(inputs.Images) > 0 && w.Image == "" && w.InputPart == "" {
		return bad("model %s takes no input images on Workers AI: leave them out or use another model", m.Name)
	}
	if len(inputs.Images) > 1 && !w.Multipart {
		return bad("model %s takes one input image on Workers AI, not %d", m.Name, len(inputs.Images))
	}
	if inputs.Mask != nil && w.Mask == "" {
		return bad("model %s takes no mask on Workers AI: leave it out or use another model", m.Name)
	}
	check := func(what string, in imagegen.InputImage) error {
		cfg, err := decodeConfig(in.Data)
		if err != nil {
			return bad("%s is not a usable PNG, JPEG or WebP image: %v", what, err)
		}
		if m.InputSide > 0 && (cfg.Width > m.InputSide || cfg.Height > m.InputSide) {
			return bad("%s is %dx%d; %s takes input images of at most %dx%d: resize it first", what, cfg.Width, cfg.Height, m.Name, m.InputSide, m.InputSide)
		}
		return nil
	}
	for i, in := range inputs.Images {
		if err := check(fmt.Sprintf("input image %d", i), in); err != nil {
			return err
		}
	}
	if inputs.Mask != nil {
		if err := check("the mask", *inputs.Mask); err != nil {
			return err
		}
	}
	return nil
}

// decodeConfig reads an image's type and size from its header, without
// decoding the pixels.
func decodeConfig(data []byte) (image.Config, error) {
	config, _, ok := providerkit.Decoders(imagegen.SniffImageType(data))
	if !ok {
		return image.Config{}, fmt.Errorf("unknown image type (%d bytes)", len(data))
	}
	return config(bytes.NewReader(data))
}
