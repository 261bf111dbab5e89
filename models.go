package imagegen

import (
	"fmt"
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
}

var models = []Model{
	{
		Name: "flux-schnell", Provider: "workersai", ProviderModel: "@cf/black-forest-labs/flux-1-schnell",
		Description:    "FLUX.1 Schnell: fastest, good prompt adherence. Fixed size (1024x1024).",
		TypicalSeconds: [2]int{7, 10}, Output: "JPEG (JSON, base64)", Timeout: 60 * time.Second,
		MaxSteps: 8, DefaultSteps: 4,
	},
	{
		Name: "sdxl-lightning", Provider: "workersai", ProviderModel: "@cf/bytedance/stable-diffusion-xl-lightning",
		Description:    "SDXL Lightning: fast Stable Diffusion XL; supports size, negative prompt, guidance and seed.",
		TypicalSeconds: [2]int{15, 20}, Output: "PNG (raw bytes)", Timeout: 90 * time.Second,
		MaxSteps: 20, SupportsSize: true, SupportsNeg: true, SupportsSeed: true, SupportsGuide: true,
		MinSide: 256, MaxSide: 2048,
	},
	{
		Name: "sdxl-base", Provider: "workersai", ProviderModel: "@cf/stabilityai/stable-diffusion-xl-base-1.0",
		Description:    "Stable Diffusion XL Base 1.0: slowest, most detailed; supports size, negative prompt, guidance and seed.",
		TypicalSeconds: [2]int{30, 45}, Output: "PNG (raw bytes)", Timeout: 150 * time.Second,
		MaxSteps: 20, SupportsSize: true, SupportsNeg: true, SupportsSeed: true, SupportsGuide: true,
		MinSide: 256, MaxSide: 2048,
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
			return invalid(fmt.Sprintf("model %s has a fixed size and takes no width/height: leave them out or use sdxl-lightning or sdxl-base", m.Name))
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
	if r.Steps < 0 || r.Steps > m.MaxSteps {
		return invalid(fmt.Sprintf("steps %d is out of range for %s: use 1 to %d", r.Steps, m.Name, m.MaxSteps))
	}
	if r.NegativePrompt != "" && !m.SupportsNeg {
		return invalid(fmt.Sprintf("model %s takes no negative_prompt: leave it out or use an SDXL model", m.Name))
	}
	if r.Guidance != nil {
		if !m.SupportsGuide {
			return invalid(fmt.Sprintf("model %s takes no guidance: leave it out or use an SDXL model", m.Name))
		}
		if *r.Guidance < 0 || *r.Guidance > 30 {
			return invalid(fmt.Sprintf("guidance %g is out of range: use 0 to 30", *r.Guidance))
		}
	}
	if r.Seed != nil {
		if !m.SupportsSeed {
			return invalid(fmt.Sprintf("model %s takes no seed", m.Name))
		}
		if *r.Seed < 0 {
			return invalid("seed must be zero or positive")
		}
	}
	return nil
}
