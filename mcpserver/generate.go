package mcpserver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// generateArgs are the arguments of both generate tools. Pointers tell a
// missing argument from an empty one.
type generateArgs struct {
	Prompt         *string  `json:"prompt"`
	Model          string   `json:"model"`
	Width          int      `json:"width"`
	Height         int      `json:"height"`
	Steps          int      `json:"steps"`
	Seed           *int64   `json:"seed"`
	NegativePrompt string   `json:"negative_prompt"`
	Guidance       *float64 `json:"guidance"`
	N              *int     `json:"n"`
	IdempotencyKey string   `json:"idempotency_key"`
	InputImages    []string `json:"input_images"`
	Mask           *string  `json:"mask"`
	Strength       *float64 `json:"strength"`
}

func (a generateArgs) request() (imagegen.Request, jobs.StartOptions, error) {
	if a.Prompt == nil {
		return imagegen.Request{}, jobs.StartOptions{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "prompt is required: describe the image to generate"}
	}
	req := imagegen.Request{
		Prompt: strings.TrimSpace(*a.Prompt), Model: a.Model,
		Width: a.Width, Height: a.Height, Steps: a.Steps, Seed: a.Seed,
		NegativePrompt: strings.TrimSpace(a.NegativePrompt), Guidance: a.Guidance,
		Inputs: a.InputImages, Strength: a.Strength,
	}.WithDefaults()
	if len(a.InputImages) > imagegen.MaxInputImages {
		return imagegen.Request{}, jobs.StartOptions{}, &imagegen.Error{Kind: imagegen.KindInvalidInput,
			Message: fmt.Sprintf("input_images holds %d images; at most %d are taken", len(a.InputImages), imagegen.MaxInputImages)}
	}
	if a.Mask != nil {
		if *a.Mask == "" {
			return imagegen.Request{}, jobs.StartOptions{}, &imagegen.Error{Kind: imagegen.KindInvalidInput,
				Message: "mask is empty: leave it out, or pass the mask image as images://JOB_ID, a URL or a data: URL"}
		}
		req.Mask = *a.Mask
	}
	if a.Strength != nil && !(*a.Strength >= 0 && *a.Strength <= 1) {
		return imagegen.Request{}, jobs.StartOptions{}, &imagegen.Error{Kind: imagegen.KindInvalidInput,
			Message: fmt.Sprintf("strength must be between 0 and 1, not %g", *a.Strength)}
	}
	if err := req.Validate(); err != nil {
		return imagegen.Request{}, jobs.StartOptions{}, err
	}
	opts := jobs.StartOptions{IdempotencyKey: a.IdempotencyKey}
	if a.N != nil {
		if *a.N < 1 || *a.N > workflows.MaxImages {
			return imagegen.Request{}, jobs.StartOptions{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("n must be between 1 and %d", workflows.MaxImages)}
		}
		opts.N = *a.N
	}
	if a.IdempotencyKey != "" {
		if err := jobs.ValidateIdempotencyKey(a.IdempotencyKey); err != nil {
			return imagegen.Request{}, jobs.StartOptions{}, err
		}
	}
	return req, opts, nil
}

// paramLimits are the widest bounds any model accepts; each model's own are
// checked by Request.Validate and shown by list_models.
type paramLimits struct {
	minSide, maxSide, maxSteps int
	maxGuidance                float64
}

func widestLimits() paramLimits {
	l := paramLimits{minSide: 1 << 30}
	for _, m := range imagegen.Models() {
		if m.SupportsSize {
			l.minSide, l.maxSide = min(l.minSide, m.MinSide), max(l.maxSide, m.MaxSide)
		}
		l.maxSteps, l.maxGuidance = max(l.maxSteps, m.MaxSteps), max(l.maxGuidance, m.MaxGuidance)
	}
	return l
}

func generateOptions() []mcp.ToolOption {
	lim := widestLimits()
	return []mcp.ToolOption{
		mcp.WithString("prompt", mcp.Required(), mcp.MinLength(1), mcp.MaxLength(imagegen.MaxPromptLength),
			mcp.Description(fmt.Sprintf("What the image should show, in plain words (1-%d characters).", imagegen.MaxPromptLength))),
		mcp.WithString("model", mcp.Enum(imagegen.ModelNames()...), mcp.DefaultString(imagegen.DefaultModel),
			mcp.Description(modelsDescription())),
		mcp.WithInteger("width", mcp.Min(lim.minSide), mcp.Max(lim.maxSide),
			mcp.Description("Image width in pixels, for models that take a size ("+
				isAre(modelsWhere(func(m imagegen.Model) bool { return !m.SupportsSize }))+" fixed-size); limits per model in list_models.")),
		mcp.WithInteger("height", mcp.Min(lim.minSide), mcp.Max(lim.maxSide),
			mcp.Description("Image height in pixels, for models that take a size.")),
		mcp.WithInteger("steps", mcp.Min(1), mcp.Max(lim.maxSteps),
			mcp.Description("Diffusion steps: more is slower and finer ("+stepsByModel()+"; see list_models).")),
		mcp.WithInteger("seed", mcp.Min(0),
			mcp.Description("Random seed for reproducible images, for models that take one (see list_models).")),
		mcp.WithString("negative_prompt", mcp.MaxLength(imagegen.MaxPromptLength),
			mcp.Description("What the image should NOT show, for models that take it ("+
				modelsWhere(func(m imagegen.Model) bool { return m.SupportsNeg })+").")),
		mcp.WithNumber("guidance", mcp.Min(0), mcp.Max(lim.maxGuidance),
			mcp.Description("How closely to follow the prompt, for models that take it (range per model in list_models).")),
		mcp.WithInteger("n", mcp.Min(1), mcp.Max(workflows.MaxImages), mcp.DefaultNumber(1),
			mcp.Description(fmt.Sprintf("How many images to generate in parallel, 1-%d (default 1).", workflows.MaxImages))),
		mcp.WithString("idempotency_key", mcp.MaxLength(jobs.MaxIdempotencyKeyLength),
			mcp.Description("Optional key that makes the call safe to repeat: the same key returns the same job instead of paying for a new generation.")),
		mcp.WithArray("input_images", mcp.MaxItems(imagegen.MaxInputImages), mcp.WithStringItems(mcp.MinLength(1)),
			mcp.Description(fmt.Sprintf("Reference images to edit or work from, for models that take them (%s; how many per model in list_models). "+
				"Each is images://JOB_ID (the first image of an earlier completed job; images://JOB_ID/INDEX for another), "+
				"an http(s) URL the server fetches, or a data:image/png;base64,... URL of at most %d KiB.",
				orNone(modelsWhere(func(m imagegen.Model) bool { return m.MaxInputs > 0 })), MaxInlineImageBytes>>10))),
		mcp.WithString("mask", mcp.MinLength(1),
			mcp.Description("Inpainting mask, for models that take one ("+orNone(modelsWhere(func(m imagegen.Model) bool { return m.SupportsMask }))+
				"): white where the image may change. Same forms as input_images.")),
		mcp.WithNumber("strength", mcp.Min(0), mcp.Max(1),
			mcp.Description("How far to move away from the input image, 0 to 1, for image-to-image models ("+
				orNone(modelsWhere(func(m imagegen.Model) bool { return m.SupportsStrength }))+").")),
	}
}

// orNone is a list of model names, or says there are none.
func orNone(names string) string {
	if names == "" {
		return "none of the models served here"
	}
	return names
}

// modelsWhere names the models with a property, for tool descriptions
// derived from the models table.
func modelsWhere(has func(imagegen.Model) bool) string {
	var names []string
	for _, m := range imagegen.Models() {
		if has(m) {
			names = append(names, m.Name)
		}
	}
	return strings.Join(names, ", ")
}

// isAre completes a list of names with "is" or "are".
func isAre(names string) string {
	if strings.Contains(names, ", ") {
		return names + " are"
	}
	return names + " is"
}

// stepsByModel lists each model's most steps, from the models table.
func stepsByModel() string {
	var parts []string
	for _, m := range imagegen.Models() {
		if m.MaxSteps > 0 {
			parts = append(parts, fmt.Sprintf("%s up to %d", m.Name, m.MaxSteps))
		}
	}
	return strings.Join(parts, ", ")
}

func modelsDescription() string {
	var b strings.Builder
	b.WriteString("Model to use (default " + imagegen.DefaultModel + "):")
	for _, m := range imagegen.Models() {
		fmt.Fprintf(&b, " %s (~%d-%d s%s);", m.Name, m.TypicalSeconds[0], m.TypicalSeconds[1], editAbilities(m))
	}
	return strings.TrimSuffix(b.String(), ";") + "."
}

// editAbilities says what a model can edit from, for the model description:
// "" for text-to-image only.
func editAbilities(m imagegen.Model) string {
	if m.MaxInputs == 0 {
		return ""
	}
	s := fmt.Sprintf(", edits from up to %d input images", m.MaxInputs)
	if m.MaxInputs == 1 {
		s = ", edits from 1 input image"
	}
	switch {
	case m.SupportsMask && m.SupportsStrength:
		s += " with mask and strength"
	case m.SupportsMask:
		s += " with mask"
	case m.SupportsStrength:
		s += " with strength"
	}
	return s
}

func (s *Server) generateImageTool() server.ServerTool {
	tool := mcp.NewTool("generate_image", append([]mcp.ToolOption{
		mcp.WithDescription("Start generating an image and return at once with a job_id (status pending). " +
			"Then call wait_for_completion with the job_id to get the image URL, or get_job_status to check on it. " +
			"If you just want the image in one call, use generate_image_and_wait instead."),
		mcp.WithTitleAnnotation("Start an image generation"),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(true),
		mcp.WithOutputSchema[StartResult](),
	}, generateOptions()...)...)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		job, existing, fail := s.start(ctx, "generate_image", req)
		if fail != nil {
			return fail, nil
		}
		msg := fmt.Sprintf("Job started. Call wait_for_completion with job_id %q to get the image (usually %s).", job.ID, typicalTime(job.Model))
		if existing {
			msg = fmt.Sprintf("This idempotency_key already has job %q (status %s); no new job was started. Call wait_for_completion with it.", job.ID, job.Status)
		}
		return structured(StartResult{
			JobID: job.ID, Status: string(job.Status), Model: job.Model, TemporalUIURL: job.UIURL, Existing: existing, Message: msg,
			Cost: costView(job, s.opts.Placeholder),
		}), nil
	}}
}

func (s *Server) generateImageAndWaitTool() server.ServerTool {
	tool := mcp.NewTool("generate_image_and_wait", append([]mcp.ToolOption{
		mcp.WithDescription("EASIEST WAY: generate an image and wait for it in one call; returns the image URL when ready " +
			"(about 10 s for flux-schnell, 30-45 s for sdxl-base). Waits at most 60 s; if the image is not ready by then " +
			"it returns the job_id with done=false, and you call wait_for_completion with it to keep waiting."),
		mcp.WithTitleAnnotation("Generate an image and wait for it"),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(true),
		mcp.WithOutputSchema[WaitResult](),
	}, generateOptions()...)...)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		id, fail := s.beginGenerateAndWait(ctx, req)
		if fail != nil {
			return fail, nil
		}
		return s.wait(ctx, req, "generate_image_and_wait", id, s.maxWait-time.Since(start)), nil
	}}
}

// beginGenerateAndWait is the first half of generate_image_and_wait, shared
// with its task form: it validates the arguments and starts the job. A non-nil
// fail is the tool result to return instead.
func (s *Server) beginGenerateAndWait(ctx context.Context, req mcp.CallToolRequest) (id string, fail *mcp.CallToolResult) {
	job, _, fail := s.start(ctx, "generate_image_and_wait", req)
	return job.ID, fail
}

// start decodes and validates a generate tool's arguments and starts the
// job. A non-nil fail is the tool result to return instead.
func (s *Server) start(ctx context.Context, tool string, req mcp.CallToolRequest) (job jobs.Job, existing bool, fail *mcp.CallToolResult) {
	var args generateArgs
	if err := decodeArgs(req, &args); err != nil {
		return jobs.Job{}, false, mcp.NewToolResultError(err.Error())
	}
	r, opts, err := args.request()
	if err != nil {
		return jobs.Job{}, false, s.toolError(ctx, tool, err)
	}
	// Inline images travel as references to stored bytes; they are stored
	// only once everything else about the request checked out.
	inline, err := inlineInputs(&r)
	if err != nil {
		return jobs.Job{}, false, s.toolError(ctx, tool, err)
	}
	if len(inline) > 0 {
		if s.opts.InputStore == nil {
			return jobs.Job{}, false, s.toolError(ctx, tool, &imagegen.Error{Kind: imagegen.KindInvalidInput,
				Message: "this server has no image store for inline images: pass a URL or an earlier job's image (images://JOB_ID) instead"})
		}
		opts.Prepare = func(ctx context.Context) error { return s.storeInline(ctx, inline) }
	}
	job, existing, err = s.jobs.StartWith(ctx, r, opts)
	if err != nil {
		return jobs.Job{}, false, s.toolError(ctx, tool, err)
	}
	return job, existing, nil
}

func typicalTime(model string) string {
	if m, ok := imagegen.LookupModel(model); ok {
		return fmt.Sprintf("%d-%d s", m.TypicalSeconds[0], m.TypicalSeconds[1])
	}
	return "under a minute"
}
