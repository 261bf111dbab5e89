package mcpserver

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/imagegen/imagegen"
)

// ModelList is what list_models returns.
type ModelList struct {
	Models  []ModelView `json:"models"`
	Default string      `json:"default"`
	// CostNote is set on a service that renders offline placeholders.
	CostNote string `json:"cost_note,omitempty" jsonschema:"Set when this service renders offline placeholders: then no job costs anything, whatever the model's price"`
}

// ModelView describes one model: what it takes, how fast it is, what it returns.
type ModelView struct {
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	Provider       string   `json:"provider"`
	TypicalSeconds [2]int   `json:"typical_seconds"`
	Output         string   `json:"output"`
	Parameters     []string `json:"parameters" jsonschema:"Optional parameters this model accepts besides prompt"`
	MaxSteps       int      `json:"max_steps"`
	MinSide        int      `json:"min_side,omitempty"`
	MaxSide        int      `json:"max_side,omitempty"`
	// SizeNeedsBoth: width and height must be given together.
	SizeNeedsBoth bool    `json:"size_needs_both,omitempty"`
	MinGuidance   float64 `json:"min_guidance,omitempty"`
	MaxGuidance   float64 `json:"max_guidance,omitempty"`
	// MaxInputImages, InputSide, Mask and Strength say what the model takes
	// for editing and image-to-image; all absent for text-only models.
	MaxInputImages int  `json:"max_input_images,omitempty" jsonschema:"How many reference images (input_images) the model takes; absent: none"`
	InputSide      int  `json:"input_side,omitempty" jsonschema:"Input images are resized down to this longest side in pixels before they are sent"`
	Mask           bool `json:"mask,omitempty" jsonschema:"True when the model inpaints within a mask"`
	Strength       bool `json:"strength,omitempty" jsonschema:"True when the model takes an image-to-image strength"`
	// TypicalCost, Price, PriceAsOf and PriceSource: what an image costs
	// and the published figures behind it.
	TypicalCost string `json:"typical_cost" jsonschema:"What one image costs at the default settings (e.g. $0.0006336 per image at 1024x1024, 4 steps), or unknown when the model has no published price"`
	Price       string `json:"price" jsonschema:"The published unit prices the cost is computed from (per 512x512 tile, per step, per input tile), or unknown and why"`
	PriceAsOf   string `json:"price_as_of,omitempty" jsonschema:"When the price was read from its source (YYYY-MM-DD)"`
	PriceSource string `json:"price_source,omitempty" jsonschema:"Where the price is published"`
}

func (s *Server) listModelsTool() server.ServerTool {
	tool := mcp.NewTool("list_models",
		mcp.WithDescription("List the image models: what each is good at, how long it takes, its output format and which "+
			"optional parameters (width, height, steps, seed, negative_prompt, guidance; input_images, mask, strength for editing) it accepts. "+
			"Use it before passing parameters."),
		mcp.WithTitleAnnotation("List models"),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
		mcp.WithOutputSchema[ModelList](),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct{}
		if err := decodeArgs(req, &args); err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		out := ModelList{Default: imagegen.DefaultModel}
		if s.opts.Placeholder {
			out.CostNote = "preview: this service renders offline placeholders, which cost nothing; the prices are what the models cost with real credentials"
		}
		for _, m := range imagegen.Models() {
			out.Models = append(out.Models, modelView(m))
		}
		return structured(out), nil
	}}
}

// modelView is one row of the models table as list_models shows it.
func modelView(m imagegen.Model) ModelView {
	v := ModelView{Name: m.Name, Description: m.Description, Provider: m.Provider, TypicalSeconds: m.TypicalSeconds,
		Output: m.Output, MaxSteps: m.MaxSteps, MinSide: m.MinSide, MaxSide: m.MaxSide, SizeNeedsBoth: m.SizeNeedsBoth,
		Parameters: []string{}}
	if m.MaxSteps > 0 {
		v.Parameters = append(v.Parameters, "steps")
	}
	if m.SupportsSize {
		v.Parameters = append(v.Parameters, "width", "height")
	}
	if m.SupportsSeed {
		v.Parameters = append(v.Parameters, "seed")
	}
	if m.SupportsNeg {
		v.Parameters = append(v.Parameters, "negative_prompt")
	}
	if m.SupportsGuide {
		v.Parameters = append(v.Parameters, "guidance")
		v.MinGuidance, v.MaxGuidance = m.MinGuidance, m.MaxGuidance
	}
	if m.MaxInputs > 0 {
		v.Parameters = append(v.Parameters, "input_images")
		v.MaxInputImages, v.InputSide = m.MaxInputs, m.InputSide
	}
	if m.SupportsMask {
		v.Parameters = append(v.Parameters, "mask")
		v.Mask = true
	}
	if m.SupportsStrength {
		v.Parameters = append(v.Parameters, "strength")
		v.Strength = true
	}
	v.TypicalCost, v.Price = "unknown", "unknown: no price entry"
	if p, ok := imagegen.PriceOf(m); ok {
		v.Price, v.PriceAsOf, v.PriceSource = p.Units(), p.AsOf, p.Source
		if c, ok := imagegen.TypicalCost(m); ok {
			v.TypicalCost = c.String() + " per image"
			if d := imagegen.DefaultSettings(m); d != "" {
				v.TypicalCost += " at " + d
			}
		}
	}
	return v
}
