package mcpserver

import (
	"context"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// progressEvery is how often a waiting call with a progress token looks at
// the job's stage (one describe call each time).
const progressEvery = 500 * time.Millisecond

// stageProgress orders the stages a job reports: pending → generating →
// storing → done.
func stageProgress(j jobs.Job) (float64, string) {
	switch {
	case j.Status.Terminal():
		return 4, string(j.Status)
	case j.Stage == "storing":
		return 3, "storing"
	case j.Status == workflows.StatusProcessing:
		return 2, "generating"
	default:
		return 1, "pending"
	}
}

// reportProgress sends notifications/progress while a tool waits, when the
// client asked for them. The returned stop sends the final "done" report.
// Clients must not rely on that last one (mcp-go can drop the notification
// sent just before a Streamable HTTP response): the tool result carries the
// final state, and every earlier stage is reported as it happens.
func (s *Server) reportProgress(ctx context.Context, req mcp.CallToolRequest, id string) (stop func(job jobs.Job, done bool)) {
	var token mcp.ProgressToken
	if req.Params.Meta != nil {
		token = req.Params.Meta.ProgressToken
	}
	srv := server.ServerFromContext(ctx)
	if token == nil || srv == nil {
		return func(jobs.Job, bool) {}
	}
	start := time.Now()
	send := func(progress float64, stage string) {
		err := srv.SendNotificationToClient(ctx, "notifications/progress", map[string]any{
			"progressToken": token,
			"progress":      progress,
			"total":         4,
			"message":       fmt.Sprintf("%s (%.1f s)", stage, time.Since(start).Seconds()),
		})
		if err != nil {
			s.log.DebugContext(ctx, "progress notification not sent", "job_id", id, "error", err)
		}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		last := 0.0
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			if job, err := s.jobs.Get(ctx, id); err == nil {
				if p, stage := stageProgress(job); p > last && p < 4 {
					last = p
					send(p, stage)
				}
			}
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func(job jobs.Job, done bool) {
		close(quit)
		<-finished
		if done {
			send(4, "done: "+string(job.Status))
		}
	}
}
