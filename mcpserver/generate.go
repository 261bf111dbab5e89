package mcpserver

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/imagegen/imagegen"
)

// generateArgs are the arguments of both generate tools. Pointers tell a
// missing argument from an empty one.
type generateArgs struct {
	Prompt *string `json:"prompt"`
	Model  string  `json:"model"`
}

func (a generateArgs) request() (imagegen.Request, error) {
	if a.Prompt == nil {
		return imagegen.Request{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "prompt is required: describe the image to generate"}
	}
	req := imagegen.Request{Prompt: strings.TrimSpace(*a.Prompt), Model: a.Model}.WithDefaults()
	if err := req.Validate(); err != nil {
		return imagegen.Request{}, err
	}
	return req, nil
}

func generateOptions() []mcp.ToolOption {
	return []mcp.ToolOption{
		mcp.WithString("prompt", mcp.Required(), mcp.MinLength(1), mcp.MaxLength(imagegen.MaxPromptLength),
			mcp.Description("What the image should show, in plain words (1-2048 characters).")),
		mcp.WithString("model", mcp.Enum(imagegen.ModelNames()...), mcp.DefaultString(imagegen.DefaultModel),
			mcp.Description(modelsDescription())),
	}
}

func modelsDescription() string {
	var b strings.Builder
	b.WriteString("Model to use (default " + imagegen.DefaultModel + "):")
	for _, m := range imagegen.Models() {
		fmt.Fprintf(&b, " %s (~%d-%d s);", m.Name, m.TypicalSeconds[0], m.TypicalSeconds[1])
	}
	return strings.TrimSuffix(b.String(), ";") + "."
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
		var args generateArgs
		if err := decodeArgs(req, &args); err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		r, err := args.request()
		if err != nil {
			return s.toolError(ctx, "generate_image", err), nil
		}
		job, err := s.jobs.Start(ctx, r)
		if err != nil {
			return s.toolError(ctx, "generate_image", err), nil
		}
		return structured(StartResult{
			JobID: job.ID, Status: string(job.Status), Model: job.Model, TemporalUIURL: job.UIURL,
			Message: fmt.Sprintf("Job started. Call wait_for_completion with job_id %q to get the image (usually %s).", job.ID, typicalTime(job.Model)),
		}), nil
	}}
}

func (s *Server) generateImageAndWaitTool() server.ServerTool {
	tool := mcp.NewTool("generate_image_and_wait", append([]mcp.ToolOption{
		mcp.WithDescription("EASIEST WAY: generate an image and wait for it in one call; returns the image URL when ready " +
			"(about 10 s for flux-schnell, up to 45 s for sdxl-base). Waits at most 60 s; if the image is not ready by then " +
			"it returns the job_id with done=false, and you call wait_for_completion with it to keep waiting."),
		mcp.WithTitleAnnotation("Generate an image and wait for it"),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(true),
		mcp.WithOutputSchema[WaitResult](),
	}, generateOptions()...)...)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args generateArgs
		if err := decodeArgs(req, &args); err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		r, err := args.request()
		if err != nil {
			return s.toolError(ctx, "generate_image_and_wait", err), nil
		}
		job, err := s.jobs.Start(ctx, r)
		if err != nil {
			return s.toolError(ctx, "generate_image_and_wait", err), nil
		}
		return s.wait(ctx, "generate_image_and_wait", job.ID, s.maxWait), nil
	}}
}

func typicalTime(model string) string {
	if m, ok := imagegen.LookupModel(model); ok {
		return fmt.Sprintf("%d-%d s", m.TypicalSeconds[0], m.TypicalSeconds[1])
	}
	return "under a minute"
}
