package mcpserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// The gallery's source of truth. With a history store configured,
// list_generations reads the image records the Store activity writes beside
// each image (package history), not Temporal visibility: every completed
// image has a record from the moment it is stored, records outlive the
// namespace retention, and their keys sort newest first, so one source gives
// one ordering and paging cannot skip or repeat an image at a seam between
// two sources. Visibility stays the source of everything that is not a
// stored image (running, failed and canceled jobs: list_jobs). Images stored
// before records existed are listed once `imagegen history rebuild` has
// written their records (while visibility still has them).
//
// The order is the job's start time, newest first (visibility ordered
// completed jobs by close time; for jobs that run in seconds the two agree
// except between jobs that overlap).

// historyGenerations is a list_generations page from the records.
func (s *Server) historyGenerations(ctx context.Context, limit, offset int) ([]Generation, error) {
	entries, err := history.Page(ctx, s.opts.History, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list image history: %w", err)
	}
	out := make([]Generation, 0, len(entries))
	for _, e := range entries {
		done := e.GeneratedAt
		if done.IsZero() {
			done = e.CreatedAt
		}
		out = append(out, Generation{
			JobID: e.JobID, ImageURL: safeURL(e.URL), Prompt: e.Request.Prompt, Model: e.Request.Model,
			ContentType: e.ContentType, Placeholder: e.Placeholder,
			CreatedAt: formatTime(e.CreatedAt), CompletedAt: formatTime(done),
		})
	}
	return out, nil
}

// pastRetention is the note on a job Temporal no longer knows.
const pastRetention = "This job is past the Temporal retention period: its workflow and history are gone, " +
	"so it can no longer be inspected, retried or canceled; its image survives and is described from its image record."

// getJob is jobs.Get, falling back to the image records for a job Temporal
// no longer knows.
func (s *Server) getJob(ctx context.Context, id string) (JobView, error) {
	job, err := s.jobs.Get(ctx, id)
	if err == nil {
		return s.view(job), nil
	}
	if !errors.Is(err, jobs.ErrNotFound) || s.opts.History == nil {
		return JobView{}, err
	}
	entries, herr := history.Find(ctx, s.opts.History, id)
	if herr != nil {
		s.log.ErrorContext(ctx, "image history lookup failed", "job_id", id, "error", herr)
		return JobView{}, err
	}
	if len(entries) == 0 {
		return JobView{}, errPastRetention
	}
	return historyView(entries), nil
}

// errPastRetention: neither Temporal nor the records know the job.
var errPastRetention = errors.New("no job with that job_id: check the id (list_jobs shows recent jobs). " +
	"If it is older than the Temporal retention period, its workflow is gone and it left no image record (it failed, or it predates image records)")

func historyView(entries []history.Entry) JobView {
	first := entries[0]
	done := first.GeneratedAt
	for _, e := range entries {
		if e.GeneratedAt.After(done) {
			done = e.GeneratedAt
		}
	}
	if done.IsZero() {
		done = first.CreatedAt
	}
	v := JobView{
		JobID: first.JobID, Status: string(workflows.StatusCompleted), Prompt: first.Request.Prompt, Model: first.Request.Model,
		ImageURL: safeURL(first.URL), ContentType: first.ContentType, SizeBytes: first.SizeBytes,
		Width: first.Width, Height: first.Height, Provider: first.Provider, Placeholder: first.Placeholder,
		CreatedAt: formatTime(first.CreatedAt), UpdatedAt: formatTime(done), Note: pastRetention,
		InputImages: imagegen.ShowRefs(first.Request.Inputs), Mask: imagegen.ShowRef(first.Request.Mask), Strength: first.Request.Strength,
	}
	if len(entries) > 1 {
		for _, e := range entries {
			v.Images = append(v.Images, ImageView{ImageURL: safeURL(e.URL), ContentType: e.ContentType, SizeBytes: e.SizeBytes, Width: e.Width, Height: e.Height})
		}
	}
	return v
}

// safeURL drops a URL that is not absolute http(s).
func safeURL(u string) string {
	if jobs.SafeURL(u) {
		return u
	}
	return ""
}
