package mcpserver

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// ManageResult is what cancel_job and retry_job return.
type ManageResult struct {
	JobID   string  `json:"job_id"`
	Status  string  `json:"status"`
	Message string  `json:"message"`
	Job     JobView `json:"job"`
}

func (s *Server) cancelJobTool() server.ServerTool {
	tool := mcp.NewTool("cancel_job",
		mcp.WithDescription("Cancel a pending or processing image job, e.g. when the user changed their mind or it was started by mistake. "+
			"The job ends with status canceled and no image is stored. Finished jobs cannot be canceled."),
		mcp.WithTitleAnnotation("Cancel a job"),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
		jobIDOption(),
		mcp.WithOutputSchema[ManageResult](),
	)
	return server.ServerTool{Tool: tool, Handler: s.onJob("cancel_job", func(ctx context.Context, id string) (*mcp.CallToolResult, error) {
		job, err := s.jobs.Cancel(ctx, id)
		if err != nil {
			return nil, err
		}
		return structured(ManageResult{JobID: id, Status: "canceling", Job: s.view(job),
			Message: fmt.Sprintf("Cancellation requested; job %s will end as canceled. get_job_status shows it.", id)}), nil
	})}
}

func (s *Server) retryJobTool() server.ServerTool {
	tool := mcp.NewTool("retry_job",
		mcp.WithDescription("Run a failed or canceled image job again under the same job_id, with the same prompt and model. "+
			"Use it after a transient failure (provider overloaded, timeouts). Completed and running jobs are refused. "+
			"Then call wait_for_completion with the same job_id."),
		mcp.WithTitleAnnotation("Retry a failed job"),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(true),
		jobIDOption(),
		mcp.WithOutputSchema[ManageResult](),
	)
	return server.ServerTool{Tool: tool, Handler: s.onJob("retry_job", func(ctx context.Context, id string) (*mcp.CallToolResult, error) {
		job, err := s.jobs.Retry(ctx, id, "retry_job tool")
		if err != nil {
			return nil, err
		}
		return structured(ManageResult{JobID: id, Status: string(job.Status), Job: s.view(job),
			Message: fmt.Sprintf("Job %s is running again. Call wait_for_completion with this job_id.", id)}), nil
	})}
}
