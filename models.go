package imagegen

import (
	"fmt"
	"strings"
	"time"
)

// DefaultModel is the model used when a request names none, as in the original system.
const DefaultModel = "flux-schnell"

// Model is one row of the models table: the public name tools accept, where it
// runs, which parameters it takes and how long it usually needs.
type Model struct {
	Name          string `json:"name"`
	Provider      string `json:"provider"`
	ProviderModel string `json:"provider_model"`
	Description   string `json:"description"`
	// TypicalSeconds is the usual generation time range, for tool descriptions.
	TypicalSeconds [2]int `json:"typical_seconds"`
	// Output describes what the provider returns, for people and list_models.
	Output string `json:"output"`
	// Timeout bounds one provider call; it sizes the generate activity.
	Timeout time.Duration `json:"-"`

	MaxSteps      int  `json:"max_steps"`
	DefaultSteps  int  `json:"default_steps"`
	SupportsSize  bool `json:"supports_size"`
	SupportsNeg   bool `json:"supports_negative_prompt"`
	SupportsSeed  bool `json:"supports_seed"`
	SupportsGuide bool `json:"supports_guidance"`
	MinSide       int  `json:"min_side,omitempty"`
	MaxSide       int  `json:"max_side,omitempty"`
	// SizeNeedsBoth means width and height go together or not at all: the
	// provider takes one "WxH" size, not two independent sides.
	SizeNeedsBoth bool `json:"size_needs_both,omitempty"`
	// MinGuidance and MaxGuidance bound guidance for models that take it.
	MinGuidance float64 `json:"min_guidance,omitempty"`
	MaxGuidance float64 `json:"max_guidance,omitempty"`

	// MaxInputs is how many reference images the model takes (0: none).
	MaxInputs int `json:"max_inputs,omitempty"`
	// InputSide is the longest side, in pixels, input images are resized
	// down to before they are sent (0: sent as they are).
	InputSide int `json:"input_side,omitempty"`
	// SupportsMask: the model inpaints within a mask.
	SupportsMask bool `json:"supports_mask,omitempty"`
	// SupportsStrength: the model takes an image-to-image strength.
	SupportsStrength bool `json:"supports_strength,omitempty"`
}

var models = []Model{
	{
		Name: "flux-schnell", Provider: "workersai", ProviderModel: "@cf/black-forest-labs/flux-1-schnell",
		Description:    "FLUX.1 Schnell: fastest, good prompt adherence. Fixed size (1024x1024).",
		TypicalSeconds: [2]int{7, 10}, Output: "JPEG (JSON, base64)", Timeout: 60 * time.Second,
		MaxSteps: 8, DefaultSteps: 4,
	},
	// Both SDXL schemas (Cloudflare's model pages, checked 2026-12) take one
	// input image for img2img (image_b64, or image as byte values), an
	// inpainting mask (mask, byte values) and strength ("a value between 0
	// and 1", default 1: the most change). They give no input size; 1024,
	// SDXL's native side, is our choice: it keeps the JSON body small.
	{
		Name: "sdxl-lightning", Provider: "workersai", ProviderModel: "@cf/bytedance/stable-diffusion-xl-lightning",
		Description: "SDXL Lightning: fast Stable Diffusion XL; supports size, negative prompt, guidance and seed, " +
			"image-to-image from one input image with strength (0-1, default 1: the most change) and inpainting with a mask.",
		TypicalSeconds: [2]int{15, 20}, Output: "PNG (raw bytes)", Timeout: 90 * time.Second,
		MaxSteps: 20, SupportsSize: true, SupportsNeg: true, SupportsSeed: true, SupportsGuide: true,
		MinSide: 256, MaxSide: 2048, MaxGuidance: 30,
		MaxInputs: 1, InputSide: 1024, SupportsMask: true, SupportsStrength: true,
	},
	{
		Name: "sdxl-base", Provider: "workersai", ProviderModel: "@cf/stabilityai/stable-diffusion-xl-base-1.0",
		Description: "Stable Diffusion XL Base 1.0: slowest, most detailed; supports size, negative prompt, guidance and seed, " +
			"image-to-image from one input image with strength (0-1, default 1: the most change) and inpainting with a mask.",
		TypicalSeconds: [2]int{30, 45}, Output: "PNG (raw bytes)", Timeout: 150 * time.Second,
		MaxSteps: 20, SupportsSize: true, SupportsNeg: true, SupportsSeed: true, SupportsGuide: true,
		MinSide: 256, MaxSide: 2048, MaxGuidance: 30,
		MaxInputs: 1, InputSide: 1024, SupportsMask: true, SupportsStrength: true,
	},
	// The Leonardo models' limits are their Workers AI input schemas. The
	// schemas allow sides down to 0; 256 is our floor, as for SDXL, since
	// nothing documents what the models do with tiny sizes. Cloudflare
	// publishes no timings for them, so TypicalSeconds is a cautious guess.
	{
		Name: "leonardo-phoenix", Provider: "workersai", ProviderModel: "@cf/leonardo/phoenix-1.0",
		Description: "Leonardo Phoenix 1.0: strong prompt adherence and legible text in images; supports size, " +
			"negative prompt, guidance (2-10) and seed. Timing is an estimate (not documented).",
		TypicalSeconds: [2]int{10, 40}, Output: "JPEG (raw bytes)", Timeout: 120 * time.Second,
		MaxSteps: 50, DefaultSteps: 25, SupportsSize: true, SupportsNeg: true, SupportsSeed: true, SupportsGuide: true,
		MinSide: 256, MaxSide: 2048, MinGuidance: 2, MaxGuidance: 10,
	},
	{
		Name: "leonardo-lucid-origin", Provider: "workersai", ProviderModel: "@cf/leonardo/lucid-origin",
		Description: "Leonardo Lucid Origin: vivid, prompt-responsive, renders text well; supports size up to 2500, " +
			"guidance (0-10) and seed, no negative prompt. Timing is an estimate (not documented).",
		TypicalSeconds: [2]int{10, 40}, Output: "JPEG or PNG (JSON, base64)", Timeout: 120 * time.Second,
		MaxSteps: 40, SupportsSize: true, SupportsSeed: true, SupportsGuide: true,
		MinSide: 256, MaxSide: 2500, MaxGuidance: 10,
	},
	// The FLUX.2 models unify generation and editing: each takes up to four
	// reference images (input_image_0 ... input_image_3, binary parts of a
	// multipart/form-data body, which they need even for a bare prompt) and
	// answers a JSON envelope with a base64 image. Figures from Cloudflare's
	// model pages and launch changelogs (flux-2-dev 2025-11-25, klein 4B
	// 2026-01-15, klein 9B 2026-01-28; checked 2026-12):
	//   - width/height 256-1920 (default 1024x768), guidance, seed: all three;
	//   - steps: dev only; klein is distilled to a fixed 4 steps and has no
	//     steps field;
	//   - up to 4 input images, "all input images must be smaller than
	//     512x512" (dev's page: "512x512 per input image"), hence InputSide 512.
	// Where the pages are silent we chose conservatively and say so:
	//   - guidance range: not documented; 1-10 (the range Replicate lists
	//     for BFL's FLUX.2 [klein] models; BFL's reference defaults are 4 for
	//     dev and 1 for klein, both inside it);
	//   - dev's most steps: not documented; 50, a cap we chose (each step is
	//     paid for). Its default is not documented either, and it is
	//     priced per step, so the client always sends steps, 25 (the value in
	//     Cloudflare's examples) unless the request says otherwise: the price
	//     of a call is then known before it is made;
	//   - timings: Cloudflare publishes none ("dev is expected to be slower
	//     than the other image models", klein is "ultra-fast"); these are
	//     cautious guesses, and the timeouts leave room for four inputs;
	//   - output type: "Generated image as Base64 string", type not given;
	//     the client names it by its bytes.
	{
		Name: "flux-2-dev", Provider: "workersai", ProviderModel: "@cf/black-forest-labs/flux-2-dev",
		Description: "FLUX.2 [dev]: highest fidelity, slowest; generates or edits from up to 4 reference images " +
			"(input_images); supports size up to 1920, steps, guidance (1-10) and seed. Timing is an estimate (not documented).",
		TypicalSeconds: [2]int{20, 60}, Output: "JPEG or PNG (JSON, base64)", Timeout: 180 * time.Second,
		MaxSteps: 50, DefaultSteps: 25, SupportsSize: true, SupportsSeed: true, SupportsGuide: true,
		MinSide: 256, MaxSide: 1920, MinGuidance: 1, MaxGuidance: 10,
		MaxInputs: 4, InputSide: 512,
	},
	{
		Name: "flux-2-klein-4b", Provider: "workersai", ProviderModel: "@cf/black-forest-labs/flux-2-klein-4b",
		Description: "FLUX.2 [klein] 4B: very fast (fixed 4 steps, no steps parameter); generates or edits from up to 4 " +
			"reference images (input_images); supports size up to 1920, guidance (1-10) and seed. Timing is an estimate (not documented).",
		TypicalSeconds: [2]int{3, 10}, Output: "JPEG or PNG (JSON, base64)", Timeout: 60 * time.Second,
		SupportsSize: true, SupportsSeed: true, SupportsGuide: true,
		MinSide: 256, MaxSide: 1920, MinGuidance: 1, MaxGuidance: 10,
		MaxInputs: 4, InputSide: 512,
	},
	{
		Name: "flux-2-klein-9b", Provider: "workersai", ProviderModel: "@cf/black-forest-labs/flux-2-klein-9b",
		Description: "FLUX.2 [klein] 9B: fast, better than klein 4B (fixed 4 steps, no steps parameter); generates or edits " +
			"from up to 4 reference images (input_images); supports size up to 1920, guidance (1-10) and seed. Timing is an estimate (not documented).",
		TypicalSeconds: [2]int{4, 15}, Output: "JPEG or PNG (JSON, base64)", Timeout: 90 * time.Second,
		SupportsSize: true, SupportsSeed: true, SupportsGuide: true,
		MinSide: 256, MaxSide: 1920, MinGuidance: 1, MaxGuidance: 10,
		MaxInputs: 4, InputSide: 512,
	},
	// One row for the OpenAI-compatible images API, whichever model serves
	// it: OpenAI retires image models within months (DALL-E 2 and 3, then
	// gpt-image-1, were shut down in 2026) and compatible servers name theirs
	// as they like, so the worker's OPENAI_IMAGE_MODEL may replace
	// ProviderModel while the public name stays put. Sizes are the outer
	// bounds of gpt-image-2 (sides multiples of 16, at most 3:1, 0.65-8.3
	// megapixels); the server refuses sizes it cannot make as invalid input.
	// Timing is an estimate: OpenAI publishes none.
	{
		Name: "openai-image", Provider: "openai", ProviderModel: "gpt-image-2",
		Description: "OpenAI-compatible images API (gpt-image-2 unless the operator chose another model); " +
			"supports size as width and height together, e.g. 1024x1024, 1536x1024; needs OPENAI_API_KEY on the service. " +
			"Timing is an estimate.",
		TypicalSeconds: [2]int{15, 60}, Output: "PNG, JPEG or WebP (JSON, base64)", Timeout: 180 * time.Second,
		SupportsSize: true, SizeNeedsBoth: true, MinSide: 256, MaxSide: 3840,
	},
}

// Models returns the models table in display order. The slice is a copy.
func Models() []Model { return append([]Model(nil), models...) }

// ModelNames returns the public model names in display order.
func ModelNames() []string {
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Name
	}
	return names
}

// LookupModel finds a model by its public name.
func LookupModel(name string) (Model, bool) {
	for _, m := range models {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

func (m Model) validateParams(r Request) error {
	if r.Width != 0 || r.Height != 0 {
		if !m.SupportsSize {
			return invalid(fmt.Sprintf("model %s has a fixed size and takes no width/height: leave them out or use %s",
				m.Name, modelsThat(func(m Model) bool { return m.SupportsSize })))
		}
		if m.SizeNeedsBoth && (r.Width == 0 || r.Height == 0) {
			return invalid(fmt.Sprintf("model %s takes width and height together: set both (e.g. 1024 and 1024) or neither", m.Name))
		}
		for _, side := range []struct {
			name string
			v    int
		}{{"width", r.Width}, {"height", r.Height}} {
			if side.v != 0 && (side.v < m.MinSide || side.v > m.MaxSide) {
				return invalid(fmt.Sprintf("%s %d is out of range for %s: use %d to %d", side.name, side.v, m.Name, m.MinSide, m.MaxSide))
			}
		}
	}
	if r.Steps != 0 && m.MaxSteps == 0 {
		return invalid(fmt.Sprintf("model %s takes no steps: leave them out", m.Name))
	}
	if r.Steps < 0 || r.Steps > m.MaxSteps {
		return invalid(fmt.Sprintf("steps %d is out of range for %s: use 1 to %d", r.Steps, m.Name, m.MaxSteps))
	}
	if r.NegativePrompt != "" && !m.SupportsNeg {
		return m.takesNo("negative_prompt", "it", func(m Model) bool { return m.SupportsNeg })
	}
	if r.Guidance != nil {
		if !m.SupportsGuide {
			return m.takesNo("guidance", "it", func(m Model) bool { return m.SupportsGuide })
		}
		if !(*r.Guidance >= m.MinGuidance && *r.Guidance <= m.MaxGuidance) { // NaN too
			return invalid(fmt.Sprintf("guidance %g is out of range for %s: use %g to %g", *r.Guidance, m.Name, m.MinGuidance, m.MaxGuidance))
		}
	}
	if len(r.Inputs) > m.MaxInputs {
		if m.MaxInputs == 0 {
			return m.takesNo("input images", "them", func(m Model) bool { return m.MaxInputs > 0 })
		}
		return invalid(fmt.Sprintf("model %s takes at most %d input images, not %d", m.Name, m.MaxInputs, len(r.Inputs)))
	}
	for i, ref := range r.Inputs {
		if strings.TrimSpace(ref) == "" {
			return invalid(fmt.Sprintf("input image %d is empty: give an images://JOB reference, an https URL or an inline image", i))
		}
	}
	if r.Mask != "" && !m.SupportsMask {
		return m.takesNo("mask", "it", func(m Model) bool { return m.SupportsMask })
	}
	if r.Mask != "" && len(r.Inputs) == 0 {
		return invalid(fmt.Sprintf("a mask says where to repaint an input image, and no input image was given: add one to input_images or leave the mask out (%s)", m.Name))
	}
	if r.Strength != nil {
		if !m.SupportsStrength {
			return m.takesNo("strength", "it", func(m Model) bool { return m.SupportsStrength })
		}
		if !(*r.Strength >= 0 && *r.Strength <= 1) { // NaN too
			return invalid(fmt.Sprintf("strength %g is out of range for %s: use 0 (keep the input image) to 1 (ignore it)", *r.Strength, m.Name))
		}
		if len(r.Inputs) == 0 {
			return invalid(fmt.Sprintf("strength says how far to move away from an input image, and no input image was given: add one to input_images or leave strength out (%s)", m.Name))
		}
	}
	if r.Seed != nil {
		if !m.SupportsSeed {
			return m.takesNo("seed", "it", func(m Model) bool { return m.SupportsSeed })
		}
		if *r.Seed < 0 {
			return invalid("seed must be zero or positive")
		}
	}
	return nil
}

// takesNo refuses a parameter m does not take, pointing to the models that
// take it if there are any: "model M takes no WHAT: leave IT out or use A or B".
func (m Model) takesNo(what, it string, has func(Model) bool) error {
	msg := fmt.Sprintf("model %s takes no %s: leave %s out", m.Name, what, it)
	if alternatives := modelsThat(has); alternatives != "" {
		msg += " or use " + alternatives
	}
	return invalid(msg)
}

// modelsThat names the models with a capability, for error messages that
// point to an alternative.
func modelsThat(has func(Model) bool) string {
	var names []string
	for _, m := range models {
		if has(m) {
			names = append(names, m.Name)
		}
	}
	return strings.Join(names, " or ")
}
