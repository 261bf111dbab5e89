package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

type jobArgs struct {
	JobID *string `json:"job_id"`
}

func (a jobArgs) id() (string, error) {
	if a.JobID == nil {
		return "", &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "job_id is required: pass the job_id returned by generate_image"}
	}
	return *a.JobID, jobs.ValidateID(*a.JobID)
}

func jobIDOption() mcp.ToolOption {
	return mcp.WithString("job_id", mcp.Required(), mcp.MaxLength(36),
		mcp.Pattern(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`),
		mcp.Description("The job_id returned by generate_image (a UUID)."))
}

func (s *Server) getJobStatusTool() server.ServerTool {
	tool := mcp.NewTool("get_job_status",
		mcp.WithDescription("Check an image job: status (pending, processing, completed, failed, canceled), prompt, model, "+
			"image_url once completed, error once failed, timestamps and a Temporal Web UI link; for an edit, the input_images, mask "+
			"and strength it worked from (images://JOB references to earlier jobs, URLs without their query strings). "+
			"To wait for a job, prefer wait_for_completion over calling this repeatedly."),
		mcp.WithTitleAnnotation("Get job status"),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
		jobIDOption(),
		mcp.WithOutputSchema[JobView](),
	)
	return server.ServerTool{Tool: tool, Handler: s.onJob("get_job_status", func(ctx context.Context, id string) (*mcp.CallToolResult, error) {
		view, err := s.getJob(ctx, id)
		if err != nil {
			return nil, err
		}
		return structured(view), nil
	})}
}

// onJob is the handler of a tool whose only argument is job_id: it decodes
// and validates the id, runs fn, and turns fn's error into a tool error.
func (s *Server) onJob(tool string, fn func(ctx context.Context, id string) (*mcp.CallToolResult, error)) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args jobArgs
		if err := decodeArgs(req, &args); err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		id, err := args.id()
		if err != nil {
			return s.toolError(ctx, tool, err), nil
		}
		res, err := fn(ctx, id)
		if err != nil {
			return s.toolError(ctx, tool, err), nil
		}
		return res, nil
	}
}

type waitArgs struct {
	JobID          *string `json:"job_id"`
	TimeoutSeconds *int    `json:"timeout_seconds"`
}

func (s *Server) waitForCompletionTool() server.ServerTool {
	max := int(s.maxWait / time.Second)
	tool := mcp.NewTool("wait_for_completion",
		mcp.WithDescription(fmt.Sprintf("Wait for an image job to finish and return the image URL. Returns the moment the job completes "+
			"(no polling delay), or after at most %d s with done=false if it is still running: then call it again. "+
			"A failed job is returned as an error saying why and what to do.", max)),
		mcp.WithTitleAnnotation("Wait for a job"),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
		jobIDOption(),
		mcp.WithInteger("timeout_seconds", mcp.Min(1), mcp.Max(max), mcp.DefaultNumber(max),
			mcp.Description(fmt.Sprintf("Longest time to wait, 1-%d seconds (default %d).", max, max))),
		mcp.WithOutputSchema[WaitResult](),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		id, timeout, fail := s.beginWaitForCompletion(ctx, req)
		if fail != nil {
			return fail, nil
		}
		return s.wait(ctx, req, "wait_for_completion", id, timeout), nil
	}}
}

// beginWaitForCompletion is the first half of wait_for_completion, shared
// with its task form: it validates the arguments. A non-nil fail is the tool
// result to return instead.
func (s *Server) beginWaitForCompletion(ctx context.Context, req mcp.CallToolRequest) (id string, timeout time.Duration, fail *mcp.CallToolResult) {
	max := int(s.maxWait / time.Second)
	var args waitArgs
	if err := decodeArgs(req, &args); err != nil {
		return "", 0, mcp.NewToolResultError(err.Error())
	}
	id, err := jobArgs{JobID: args.JobID}.id()
	if err != nil {
		return "", 0, s.toolError(ctx, "wait_for_completion", err)
	}
	timeout = s.maxWait
	if args.TimeoutSeconds != nil {
		if *args.TimeoutSeconds < 1 || *args.TimeoutSeconds > max {
			return "", 0, mcp.NewToolResultError(fmt.Sprintf("timeout_seconds must be between 1 and %d", max))
		}
		timeout = time.Duration(*args.TimeoutSeconds) * time.Second
	}
	return id, timeout, nil
}

// wait blocks on the job's workflow result and shapes the answer: the image
// (thumbnails inline, links to the full images) when done, a tool error when
// failed, the current status when still running. With a progress token it
// reports the job's stages while it waits.
func (s *Server) wait(ctx context.Context, req mcp.CallToolRequest, tool, id string, timeout time.Duration) *mcp.CallToolResult {
	s.waiterAdd(1)
	defer s.waiterAdd(-1)
	progress := s.progressReporter(ctx, req, id)
	job, done, err := s.jobs.Watch(ctx, id, max(timeout, time.Second), progress.stageFunc())
	if err == nil && done {
		progress.done(job)
	}
	return s.waitResult(ctx, tool, id, timeout, job, done, err)
}

// waitResult shapes the answer of a blocking tool from the outcome of its
// wait. It is the one place such a result is made: the tools and their task
// forms (tasks/get, tasks/result, notifications/tasks) all return it.
func (s *Server) waitResult(ctx context.Context, tool, id string, timeout time.Duration, job jobs.Job, done bool, err error) *mcp.CallToolResult {
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return mcp.NewToolResultError("the wait was interrupted; call wait_for_completion with job_id " + id + " to keep waiting")
		}
		return s.toolError(ctx, tool, err)
	}
	view := s.view(job)
	switch {
	case !done:
		return structured(WaitResult{Done: false, Job: view, Message: fmt.Sprintf(
			"The job is still %s after %s. Call wait_for_completion with job_id %q to keep waiting.", job.Status, timeout.Round(time.Second), id)})
	case job.Status == workflows.StatusCompleted:
		msg := "The image is ready: " + job.ImageURL
		if n := len(view.Images); n > 1 {
			msg = fmt.Sprintf("%d images are ready; the first: %s", n, job.ImageURL)
		}
		if view.FailedImages > 0 {
			msg += fmt.Sprintf(" (%d of the requested images failed: %s)", view.FailedImages, strings.Join(view.ImageErrors, "; "))
		}
		if view.Placeholder {
			msg += " (offline PREVIEW placeholder, not an AI image: the service runs without Cloudflare credentials)"
		}
		res := structured(WaitResult{Done: true, Job: view, Message: msg})
		res.Content = append(res.Content, s.imageContent(ctx, job)...)
		return res
	default:
		res := structured(WaitResult{Done: true, Job: view, Message: fmt.Sprintf("The job %s: %s", job.Status, job.Error)})
		res.IsError = true
		return res
	}
}
