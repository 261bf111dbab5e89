package jobs

import (
	"context"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/google/uuid"
	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/workflows"
)

// Cancel asks a running job to stop. The workflow records status canceled,
// abandons an in-flight provider call and stores nothing afterwards.
func (c *Client) Cancel(ctx context.Context, id string) (Job, error) {
	job, err := c.Get(ctx, id)
	if err != nil {
		return Job{}, err
	}
	if job.Status.Terminal() {
		return job, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("job %s is already %s; only pending or processing jobs can be canceled", id, job.Status)}
	}
	if err := c.temporal.CancelWorkflow(ctx, id, ""); err != nil {
		return Job{}, c.wrap("cancel job "+id, err)
	}
	c.log.Info("job cancel requested", "job_id", id)
	return job, nil
}

// Retry runs a failed (or canceled) job again under the same job id by
// resetting its workflow to the first workflow task: Temporal starts a new run
// with the same input, the failed run's history stays inspectable (in the UI
// too), and the new run's outcome becomes the job's status. This is the
// Temporal UI's "Reset → first workflow task", so operators can do the same
// with a click. Running and completed jobs are refused.
func (c *Client) Retry(ctx context.Context, id, reason string) (Job, error) {
	job, err := c.Get(ctx, id)
	if err != nil {
		return Job{}, err
	}
	switch job.Status {
	case workflows.StatusFailed, workflows.StatusCanceled:
	case workflows.StatusCompleted:
		return job, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("job %s already completed; start a new job for another image", id)}
	default:
		return job, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("job %s is still %s; wait for it, or cancel it first", id, job.Status)}
	}
	eventID, err := c.firstWorkflowTask(ctx, id)
	if err != nil {
		return Job{}, err
	}
	// The new run has the same input, so it settles on the ledger the job
	// first reserved on: reserve there again, for today's ledger only.
	reservation, err := c.reserveRetry(ctx, id, job.Model)
	if err != nil {
		return Job{}, err
	}
	if reason == "" {
		reason = "imagegen retry"
	}
	resp, err := c.temporal.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace:                 c.namespace,
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: id},
		Reason:                    reason,
		WorkflowTaskFinishEventId: eventID,
		RequestId:                 uuid.NewString(),
	})
	if err != nil {
		if reservation != nil {
			c.release(ctx, reservation, id, job.Model)
		}
		return Job{}, c.wrap("retry job "+id, err)
	}
	c.log.Info("job retried", "job_id", id, "new_run_id", resp.GetRunId(), "previous_status", job.Status)
	job.Status = workflows.StatusPending
	job.Error, job.ErrorKind, job.ImageURL, job.Result = "", "", "", nil
	job.UpdatedAt = time.Now().UTC()
	return job, nil
}

// firstWorkflowTask finds the event id of the job's first workflow task
// start, the reset point that runs the whole workflow again.
func (c *Client) firstWorkflowTask(ctx context.Context, id string) (int64, error) {
	it := c.temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return 0, c.wrap("read history of "+id, err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED {
			return ev.GetEventId(), nil
		}
	}
	return 0, fmt.Errorf("job %s has no workflow task to reset to", id)
}

// RetryFailedOptions selects failed jobs for RetryFailed.
type RetryFailedOptions struct {
	// Since keeps jobs that failed within this duration (0 = any time).
	Since time.Duration
	Model string
	// Limit bounds how many jobs one call retries (default 100).
	Limit int
	// DryRun lists the jobs without retrying them.
	DryRun bool
}

// RetryFailed retries every job whose current run failed, newest first. It
// returns the jobs retried (or that would be, with DryRun) and per-job errors.
func (c *Client) RetryFailed(ctx context.Context, opts RetryFailedOptions) ([]Job, error) {
	if opts.Limit <= 0 {
		opts.Limit = 100
	}
	query, err := listQuery(ListOptions{Status: workflows.StatusFailed, Model: opts.Model})
	if err != nil {
		return nil, err
	}
	if opts.Since > 0 {
		query += fmt.Sprintf(" AND CloseTime > '%s'", time.Now().Add(-opts.Since).UTC().Format(time.RFC3339))
	}
	var (
		out   []Job
		errs  []error
		seen  = map[string]bool{}
		token []byte
	)
	for len(out) < opts.Limit {
		resp, err := c.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: c.namespace, PageSize: 100, NextPageToken: token, Query: query,
		})
		if err != nil {
			return out, c.wrap("list failed jobs", err)
		}
		// A failed run may have been retried since: keep the current ones.
		rows, err := c.currentRuns(ctx, firstRunOfEach(resp.GetExecutions(), seen))
		if err != nil {
			return out, err
		}
		for _, info := range rows {
			id := info.GetExecution().GetWorkflowId()
			if len(out) >= opts.Limit {
				break
			}
			seen[id] = true
			cur := c.fromInfo(info)
			if cur.Status != workflows.StatusFailed {
				continue
			}
			if !opts.DryRun {
				if _, err := c.Retry(ctx, id, "imagegen retry --all-failed"); err != nil {
					errs = append(errs, fmt.Errorf("retry %s: %w", id, err))
					continue
				}
				cur.Status = workflows.StatusPending
			}
			out = append(out, cur)
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%d of %d retries failed: %w", len(errs), len(errs)+len(out), errs[0])
	}
	return out, nil
}
