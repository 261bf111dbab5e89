package mcpserver

import (
	"context"
	"fmt"
	"slices"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

const (
	defaultLimit = 10
	maxLimit     = 50
)

type pageArgs struct {
	Limit  *int `json:"limit"`
	Offset *int `json:"offset"`
}

func (a pageArgs) page() (limit, offset int, err error) {
	limit, offset = defaultLimit, 0
	if a.Limit != nil {
		limit = *a.Limit
	}
	if a.Offset != nil {
		offset = *a.Offset
	}
	if limit < 1 || limit > maxLimit {
		return 0, 0, fmt.Errorf("limit must be between 1 and %d (default %d)", maxLimit, defaultLimit)
	}
	if offset < 0 || offset > jobs.MaxOffset {
		return 0, 0, fmt.Errorf("offset must be between 0 and %d (default 0)", jobs.MaxOffset)
	}
	return limit, offset, nil
}

func pageOptions() []mcp.ToolOption {
	return []mcp.ToolOption{
		mcp.WithInteger("limit", mcp.Min(1), mcp.Max(maxLimit), mcp.DefaultNumber(defaultLimit),
			mcp.Description(fmt.Sprintf("How many to return, 1-%d (default %d).", maxLimit, defaultLimit))),
		mcp.WithInteger("offset", mcp.Min(0), mcp.Max(jobs.MaxOffset), mcp.DefaultNumber(0),
			mcp.Description("How many to skip, for paging (default 0).")),
	}
}

func (s *Server) listGenerationsTool() server.ServerTool {
	tool := mcp.NewTool("list_generations", append([]mcp.ToolOption{
		mcp.WithDescription("Browse completed images (gallery view), newest first, with their URLs, prompts and models. " +
			"Use it when the user asks for recent or previous images."),
		mcp.WithTitleAnnotation("List generated images"),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
		mcp.WithOutputSchema[GenerationList](),
	}, pageOptions()...)...)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args pageArgs
		if err := decodeArgs(req, &args); err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		limit, offset, err := args.page()
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		out := GenerationList{Generations: []Generation{}, Limit: limit, Offset: offset}
		if s.opts.History != nil { // see history.go
			gens, err := s.historyGenerations(ctx, limit, offset)
			if err != nil {
				return s.toolError(ctx, "list_generations", err), nil
			}
			out.Generations, out.Count = gens, len(gens)
			return structured(out), nil
		}
		list, err := s.jobs.List(ctx, jobs.ListOptions{Status: workflows.StatusCompleted, Limit: limit, Offset: offset})
		if err != nil {
			return s.toolError(ctx, "list_generations", err), nil
		}
		for _, j := range list {
			v := s.view(j)
			out.Generations = append(out.Generations, Generation{
				JobID: v.JobID, ImageURL: v.ImageURL, Prompt: v.Prompt, Model: v.Model,
				ContentType: v.ContentType, Placeholder: v.Placeholder, CreatedAt: v.CreatedAt, CompletedAt: v.UpdatedAt,
			})
		}
		out.Count = len(out.Generations)
		return structured(out), nil
	}}
}

// listStatuses are the values list_jobs accepts.
var listStatuses = []string{"all", "pending", "processing", "completed", "failed", "canceled"}

type listJobsArgs struct {
	Status string `json:"status"`
	pageArgs
}

func (s *Server) listJobsTool() server.ServerTool {
	tool := mcp.NewTool("list_jobs", append([]mcp.ToolOption{
		mcp.WithDescription("List image jobs of any status (pending, processing, completed, failed, canceled), running ones first, " +
			"then finished ones newest first. Filter with status; use it to find a job_id or see why jobs failed."),
		mcp.WithTitleAnnotation("List jobs"),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
		mcp.WithString("status", mcp.Enum(listStatuses...), mcp.DefaultString("all"),
			mcp.Description("Only jobs with this status (default all).")),
		mcp.WithOutputSchema[JobList](),
	}, pageOptions()...)...)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args listJobsArgs
		if err := decodeArgs(req, &args); err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		limit, offset, err := args.page()
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		status := args.Status
		if status == "" {
			status = "all"
		}
		if !slices.Contains(listStatuses, status) {
			return mcp.NewToolResultError(fmt.Sprintf("unknown status %q: use one of all, pending, processing, completed, failed, canceled", status)), nil
		}
		list, err := s.jobs.List(ctx, jobs.ListOptions{Status: workflows.Status(status), Limit: limit, Offset: offset})
		if err != nil {
			return s.toolError(ctx, "list_jobs", err), nil
		}
		out := JobList{Jobs: make([]JobView, 0, len(list)), Status: status, Limit: limit, Offset: offset}
		for _, j := range list {
			out.Jobs = append(out.Jobs, s.view(j))
		}
		out.Count = len(out.Jobs)
		return structured(out), nil
	}}
}
