package imagegen

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestModelsTableKeepsTheOriginalModelsFirstWithFluxAsDefault(t *testing.T) {
	names := ModelNames()
	if len(names) < 3 || !slices.Equal(names[:3], []string{"flux-schnell", "sdxl-lightning", "sdxl-base"}) {
		t.Errorf("models start with %v, want the original three first", names)
	}
	if DefaultModel != "flux-schnell" {
		t.Errorf("DefaultModel = %s, want flux-schnell", DefaultModel)
	}
	if _, ok := LookupModel(DefaultModel); !ok {
		t.Errorf("the default model %s is not in the table", DefaultModel)
	}
}

func TestModelsTableRowsAreConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Models() {
		if seen[m.Name] {
			t.Errorf("%s: listed twice", m.Name)
		}
		seen[m.Name] = true
		if m.Provider == "" || m.ProviderModel == "" || m.Description == "" || m.Output == "" {
			t.Errorf("%s: provider, provider model, description and output must all be set: %+v", m.Name, m)
		}
		if m.Timeout <= 0 || m.TypicalSeconds[0] > m.TypicalSeconds[1] || time.Duration(m.TypicalSeconds[1])*time.Second >= m.Timeout {
			t.Errorf("%s: typical %v s does not fit under the timeout %s", m.Name, m.TypicalSeconds, m.Timeout)
		}
		if m.SupportsSize != (m.MinSide > 0 && m.MinSide <= m.MaxSide) {
			t.Errorf("%s: SupportsSize %v but sides %d to %d", m.Name, m.SupportsSize, m.MinSide, m.MaxSide)
		}
		if m.SizeNeedsBoth && !m.SupportsSize {
			t.Errorf("%s: SizeNeedsBoth without SupportsSize", m.Name)
		}
		if m.SupportsGuide != (m.MaxGuidance > 0) || m.MinGuidance > m.MaxGuidance {
			t.Errorf("%s: SupportsGuide %v but guidance %g to %g", m.Name, m.SupportsGuide, m.MinGuidance, m.MaxGuidance)
		}
		if m.DefaultSteps > m.MaxSteps {
			t.Errorf("%s: default steps %d above the maximum %d", m.Name, m.DefaultSteps, m.MaxSteps)
		}
		if m.MaxInputs < 0 || m.MaxInputs > 4 || (m.MaxInputs > 0) != (m.InputSide > 0) {
			t.Errorf("%s: MaxInputs %d with InputSide %d: a model taking inputs says their size, and no API takes more than 4", m.Name, m.MaxInputs, m.InputSide)
		}
		if (m.SupportsMask || m.SupportsStrength) && m.MaxInputs == 0 {
			t.Errorf("%s: a mask or strength without input images means nothing", m.Name)
		}
	}
}

func TestValidateEnforcesEachModelsLimits(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	i := func(v int64) *int64 { return &v }
	tests := []struct {
		name    string
		req     Request
		wantErr []string // all must appear in the message; none means valid
	}{
		// flux-schnell: prompt and steps (1-8) only.
		{"flux prompt only", Request{Model: "flux-schnell"}, nil},
		{"flux at the steps limit", Request{Model: "flux-schnell", Steps: 8}, nil},
		{"flux over the steps limit", Request{Model: "flux-schnell", Steps: 9}, []string{"steps 9", "flux-schnell", "1 to 8"}},
		{"flux negative steps", Request{Model: "flux-schnell", Steps: -1}, []string{"steps -1"}},
		{"flux has a fixed size", Request{Model: "flux-schnell", Width: 512}, []string{"fixed size", "sdxl-lightning"}},
		{"flux takes no negative prompt", Request{Model: "flux-schnell", NegativePrompt: "blur"}, []string{"no negative_prompt", "leonardo-phoenix"}},
		{"flux takes no guidance", Request{Model: "flux-schnell", Guidance: f(3)}, []string{"no guidance"}},
		{"flux takes no seed", Request{Model: "flux-schnell", Seed: i(1)}, []string{"no seed"}},
		{"flux takes no input images", Request{Model: "flux-schnell", Inputs: []string{"images://job-1"}},
			[]string{"flux-schnell takes no input images", "flux-2-dev"}},
		{"flux takes no mask", Request{Model: "flux-schnell", Mask: "images://job-1"}, []string{"flux-schnell takes no mask", "sdxl-base"}},
		{"flux takes no strength", Request{Model: "flux-schnell", Strength: f(0.5)}, []string{"flux-schnell takes no strength", "sdxl-lightning"}},

		// flux-2-dev: 256-1920 sides, steps up to 50, guidance 1-10, seed, up to 4 inputs, no mask or strength.
		{"flux-2-dev with every parameter and four inputs", Request{Model: "flux-2-dev", Width: 1920, Height: 256, Steps: 50,
			Guidance: f(10), Seed: i(0), Inputs: []string{"images://a", "images://b/1", "https://example.com/c.png", "inline:sha256-00"}}, nil},
		{"flux-2-dev side too large", Request{Model: "flux-2-dev", Width: 1921}, []string{"width 1921", "256 to 1920"}},
		{"flux-2-dev too many steps", Request{Model: "flux-2-dev", Steps: 51}, []string{"steps 51", "1 to 50"}},
		{"flux-2-dev guidance under its minimum", Request{Model: "flux-2-dev", Guidance: f(0.5)}, []string{"guidance 0.5", "1 to 10"}},
		{"flux-2-dev five inputs", Request{Model: "flux-2-dev", Inputs: []string{"images://a", "images://b", "images://c", "images://d", "images://e"}},
			[]string{"flux-2-dev takes at most 4 input images, not 5"}},
		{"flux-2-dev takes no mask", Request{Model: "flux-2-dev", Inputs: []string{"images://a"}, Mask: "images://m"}, []string{"flux-2-dev takes no mask"}},
		{"flux-2-dev takes no strength", Request{Model: "flux-2-dev", Inputs: []string{"images://a"}, Strength: f(0.5)}, []string{"flux-2-dev takes no strength"}},
		{"flux-2-dev takes no negative prompt", Request{Model: "flux-2-dev", NegativePrompt: "blur"}, []string{"flux-2-dev takes no negative_prompt"}},
		// flux-2-klein-4b and -9b: as dev, but a fixed 4 steps and no steps parameter.
		{"flux-2-klein-4b with size, guidance, seed and inputs", Request{Model: "flux-2-klein-4b", Width: 1024, Height: 768,
			Guidance: f(1), Seed: i(3), Inputs: []string{"images://a", "images://b"}}, nil},
		{"flux-2-klein-4b takes no steps", Request{Model: "flux-2-klein-4b", Steps: 4}, []string{"flux-2-klein-4b takes no steps"}},
		{"flux-2-klein-4b side too small", Request{Model: "flux-2-klein-4b", Height: 255}, []string{"height 255", "256 to 1920"}},
		{"flux-2-klein-9b four inputs", Request{Model: "flux-2-klein-9b", Inputs: []string{"images://a", "images://b", "images://c", "images://d"}}, nil},
		{"flux-2-klein-9b takes no steps", Request{Model: "flux-2-klein-9b", Steps: 1}, []string{"flux-2-klein-9b takes no steps"}},
		{"flux-2-klein-9b guidance over its maximum", Request{Model: "flux-2-klein-9b", Guidance: f(10.5)}, []string{"guidance 10.5", "1 to 10"}},
		{"flux-2-klein-9b empty input reference", Request{Model: "flux-2-klein-9b", Inputs: []string{"images://a", ""}}, []string{"input image 1 is empty"}},

		// sdxl-lightning and sdxl-base: 256-2048 sides, 20 steps, guidance 0-30.
		{"sdxl-lightning with every parameter at its limit", Request{Model: "sdxl-lightning", Width: 2048, Height: 256, Steps: 20,
			NegativePrompt: "blur", Guidance: f(30), Seed: i(0)}, nil},
		{"sdxl-lightning width too small", Request{Model: "sdxl-lightning", Width: 255}, []string{"width 255", "256 to 2048"}},
		{"sdxl-lightning height too large", Request{Model: "sdxl-lightning", Height: 2049}, []string{"height 2049", "256 to 2048"}},
		{"sdxl-lightning too many steps", Request{Model: "sdxl-lightning", Steps: 21}, []string{"steps 21", "1 to 20"}},
		{"sdxl-lightning guidance too high", Request{Model: "sdxl-lightning", Guidance: f(30.5)}, []string{"guidance 30.5", "0 to 30"}},
		{"sdxl-lightning negative seed", Request{Model: "sdxl-lightning", Seed: i(-1)}, []string{"seed must be zero or positive"}},
		{"sdxl-base takes one side alone", Request{Model: "sdxl-base", Width: 768}, nil},
		{"sdxl-base smallest size", Request{Model: "sdxl-base", Width: 256, Height: 256}, nil},
		{"sdxl-base negative guidance", Request{Model: "sdxl-base", Guidance: f(-1)}, []string{"guidance -1", "0 to 30"}},
		{"sdxl-base NaN guidance", Request{Model: "sdxl-base", Guidance: f(math.NaN())}, []string{"guidance NaN", "0 to 30"}},
		// SDXL image-to-image and inpainting: one input, a mask, strength 0-1.
		{"sdxl-lightning image-to-image at both strength limits", Request{Model: "sdxl-lightning", Inputs: []string{"images://job-1"}, Strength: f(0)}, nil},
		{"sdxl-base image-to-image at strength 1", Request{Model: "sdxl-base", Inputs: []string{"https://example.com/a.png"}, Strength: f(1)}, nil},
		{"sdxl-base inpainting", Request{Model: "sdxl-base", Inputs: []string{"images://job-1"}, Mask: "images://job-2", Strength: f(0.6)}, nil},
		{"sdxl-base takes one input image", Request{Model: "sdxl-base", Inputs: []string{"images://a", "images://b"}},
			[]string{"sdxl-base takes at most 1 input images, not 2"}},
		{"sdxl-base strength above 1", Request{Model: "sdxl-base", Inputs: []string{"images://a"}, Strength: f(1.01)},
			[]string{"strength 1.01", "0 (keep the input image) to 1"}},
		{"sdxl-lightning negative strength", Request{Model: "sdxl-lightning", Inputs: []string{"images://a"}, Strength: f(-0.1)}, []string{"strength -0.1"}},
		{"sdxl-lightning NaN strength", Request{Model: "sdxl-lightning", Inputs: []string{"images://a"}, Strength: f(math.NaN())}, []string{"strength NaN"}},
		{"sdxl-base strength without an input image", Request{Model: "sdxl-base", Strength: f(0.5)}, []string{"no input image was given", "input_images"}},
		{"sdxl-base mask without an input image", Request{Model: "sdxl-base", Mask: "images://job-2"}, []string{"mask", "no input image was given"}},
		{"sdxl-base empty input reference", Request{Model: "sdxl-base", Inputs: []string{" "}}, []string{"input image 0 is empty"}},

		// leonardo-phoenix: 256-2048 sides, 50 steps, guidance 2-10, negative prompt.
		{"phoenix with every parameter", Request{Model: "leonardo-phoenix", Width: 2048, Height: 1024, Steps: 50,
			NegativePrompt: "text", Guidance: f(2), Seed: i(7)}, nil},
		{"phoenix too many steps", Request{Model: "leonardo-phoenix", Steps: 51}, []string{"steps 51", "1 to 50"}},
		{"phoenix guidance under its minimum", Request{Model: "leonardo-phoenix", Guidance: f(1.5)}, []string{"guidance 1.5", "2 to 10"}},
		{"phoenix guidance over its maximum", Request{Model: "leonardo-phoenix", Guidance: f(10.5)}, []string{"2 to 10"}},
		{"phoenix width too large", Request{Model: "leonardo-phoenix", Width: 2049}, []string{"width 2049", "256 to 2048"}},

		// leonardo-lucid-origin: 256-2500 sides, 40 steps, guidance 0-10, no negative prompt.
		{"lucid origin at its limits", Request{Model: "leonardo-lucid-origin", Width: 2500, Height: 2500, Steps: 40,
			Guidance: f(0), Seed: i(1)}, nil},
		{"lucid origin too many steps", Request{Model: "leonardo-lucid-origin", Steps: 41}, []string{"steps 41", "1 to 40"}},
		{"lucid origin side too large", Request{Model: "leonardo-lucid-origin", Height: 2501}, []string{"height 2501", "256 to 2500"}},
		{"lucid origin guidance too high", Request{Model: "leonardo-lucid-origin", Guidance: f(11)}, []string{"guidance 11", "0 to 10"}},
		{"lucid origin takes no negative prompt", Request{Model: "leonardo-lucid-origin", NegativePrompt: "x"},
			[]string{"leonardo-lucid-origin takes no negative_prompt"}},

		// openai-image: a WxH size with both sides, nothing else.
		{"openai prompt only", Request{Model: "openai-image"}, nil},
		{"openai with a size", Request{Model: "openai-image", Width: 1536, Height: 1024}, nil},
		{"openai needs both sides", Request{Model: "openai-image", Width: 1024}, []string{"width and height together"}},
		{"openai side too large", Request{Model: "openai-image", Width: 4096, Height: 1024}, []string{"width 4096", "256 to 3840"}},
		{"openai takes no steps", Request{Model: "openai-image", Steps: 4}, []string{"openai-image takes no steps"}},
		{"openai takes no seed", Request{Model: "openai-image", Seed: i(1)}, []string{"openai-image takes no seed"}},
		{"openai takes no guidance", Request{Model: "openai-image", Guidance: f(5)}, []string{"openai-image takes no guidance"}},
		{"openai takes no negative prompt", Request{Model: "openai-image", NegativePrompt: "x"}, []string{"openai-image takes no negative_prompt"}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Prompt = "a lighthouse at dusk"
			covered[tt.req.Model] = true
			err := tt.req.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v, want valid", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindInvalidInput {
				t.Fatalf("Validate = %v, want an invalid_input *Error", err)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(e.Message, want) {
					t.Errorf("message %q does not contain %q", e.Message, want)
				}
			}
		})
	}
	for _, name := range ModelNames() {
		if !covered[name] {
			t.Errorf("model %s has no case here: add its limits", name)
		}
	}
}

func TestValidateRefusesAnUnknownModelNamingTheKnownOnes(t *testing.T) {
	err := Request{Prompt: "x", Model: "dall-e-3"}.Validate()
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindUnknownModel {
		t.Fatalf("Validate = %v, want an unknown_model *Error", err)
	}
	for _, name := range ModelNames() {
		if !strings.Contains(e.Message, name) {
			t.Errorf("message %q does not name %s", e.Message, name)
		}
	}
}
