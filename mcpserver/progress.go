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

// progressTotal is the last step of a job: pending (1) → fetching inputs
// (1.5, edits only) → generating (2) → storing (3) → done (4).
const progressTotal = 4

// stageProgress numbers the stages a running job reports.
func stageProgress(p jobs.Progress) (float64, string) {
	switch {
	case p.Stage == "storing":
		return 3, "storing"
	case p.Stage == "fetching inputs":
		return 1.5, "fetching inputs"
	case p.Status == workflows.StatusProcessing:
		return 2, "generating"
	default:
		return 1, "pending"
	}
}

// progressReporter sends notifications/progress for one waiting call whose
// client asked for them (a progress token); without a token it sends
// nothing. The job layer tells it each stage as the job's history moves on:
// there is no timer here.
type progressReporter struct {
	s     *Server
	ctx   context.Context
	srv   *server.MCPServer
	token mcp.ProgressToken
	id    string
	start time.Time
	last  float64
}

func (s *Server) progressReporter(ctx context.Context, req mcp.CallToolRequest, id string) *progressReporter {
	p := &progressReporter{s: s, ctx: ctx, srv: server.ServerFromContext(ctx), id: id, start: time.Now()}
	if req.Params.Meta != nil {
		p.token = req.Params.Meta.ProgressToken
	}
	return p
}

// stageFunc returns what reports a stage further than the last one; it has
// the signature of jobs.Watch's onProgress, and is nil when nobody listens,
// so the job layer does not follow every event for nothing.
func (p *progressReporter) stageFunc() func(jobs.Progress) {
	if p.token == nil || p.srv == nil {
		return nil
	}
	return func(pr jobs.Progress) {
		if n, stage := stageProgress(pr); n > p.last {
			p.last = n
			p.send(n, stage)
		}
	}
}

// done sends the final report. Clients must not rely on it (mcp-go can drop
// the notification sent just before a Streamable HTTP response): the tool
// result carries the final state, and every earlier stage is reported as it
// happens.
func (p *progressReporter) done(job jobs.Job) {
	if p.token == nil || p.srv == nil {
		return
	}
	p.send(progressTotal, "done: "+string(job.Status))
}

func (p *progressReporter) send(progress float64, stage string) {
	err := p.srv.SendNotificationToClient(p.ctx, "notifications/progress", map[string]any{
		"progressToken": p.token,
		"progress":      progress,
		"total":         progressTotal,
		"message":       fmt.Sprintf("%s (%.1f s)", stage, time.Since(p.start).Seconds()),
	})
	if err != nil {
		p.s.log.DebugContext(p.ctx, "progress notification not sent", "job_id", p.id, "error", err)
	}
}
