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
	return v
}
