package jobs

import (
	"context"
	"errors"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/imagegen/imagegen/workflows"
)

// Progress is how far a running job has come, as its history tells it.
type Progress struct {
	// Status is pending or processing.
	Status workflows.Status
	// Stage is "" (pending), "fetching inputs" (an edit), "generating" or
	// "storing".
	Stage string
}

// Activity type names as the worker registers them (the methods of
// activities.Activities); the history names the activity each event is about.
const (
	generateActivity    = "Generate"
	storeActivity       = "Store"
	fetchInputsActivity = "FetchInputs"
)

// Wait blocks until the job finishes or timeout passes, whichever is first.
// done is false when the timeout passed first. See Watch.
func (c *Client) Wait(ctx context.Context, id string, timeout time.Duration) (job Job, done bool, err error) {
	return c.Watch(ctx, id, timeout, nil)
}

// Watch is Wait that also reports the job's stages: onProgress (nil for
// none) is called each time the job moves on (pending → generating →
// storing), from the goroutine that called Watch.
//
// It follows the job's history with a long poll (GetWorkflowExecutionHistory
// with WaitNewEvent): Temporal answers when new events are written, so there
// is no timer per waiter. Without onProgress it asks for the close event only,
// one call per long-poll expiry. The close watcher (see closeWatcher) wakes the
// poll when the job's close shows up in visibility first: the server can miss
// waking a blocked long poll, and the watcher bounds how late a waiter hears
// of the close.
func (c *Client) Watch(ctx context.Context, id string, timeout time.Duration, onProgress func(Progress)) (job Job, done bool, err error) {
	if err := ValidateID(id); err != nil {
		return Job{}, false, err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stale string // a closed run the close watcher named, older than the job's current one
	for {
		closed, closedRun, err := c.follow(wctx, id, stale, onProgress)
		switch {
		case err == nil:
		case errors.Is(err, ErrNotFound):
			return Job{}, false, ErrNotFound
		case ctx.Err() != nil:
			return Job{}, false, ctx.Err()
		case wctx.Err() != nil || isTimeout(err):
			// The wait budget is spent: say where the job is now.
			job, err := c.Get(ctx, id)
			return job, job.Status.Terminal(), err
		default:
			return Job{}, false, c.wrap("follow job "+id, err)
		}
		// The history (or the close watcher) says the run closed: read the
		// recorded state with the caller's context, the wait budget may be
		// spent.
		job, err := c.Get(ctx, id)
		if err != nil {
			return Job{}, false, err
		}
		if job.Status.Terminal() || !closed {
			return job, job.Status.Terminal(), nil
		}
		// Closed, yet the job runs on: a retry reset it into a new run. Follow
		// that one, and tell the close watcher to leave the old run be.
		if wctx.Err() != nil {
			return job, false, nil
		}
		stale = closedRun
	}
}

// follow long-polls the current run's history until the run closes. It
// returns closed=true when it saw the close event or the close watcher saw a
// run of the job closed in visibility (closedRun names that run; it may be an
// older run of a retried job, and Watch checks), and an error when the poll
// failed or wctx ended first. The watcher ignores the run named staleRun.
func (c *Client) follow(wctx context.Context, id, staleRun string, onProgress func(Progress)) (closed bool, closedRun string, err error) {
	pctx, stopPoll := context.WithCancel(wctx)
	defer stopPoll()
	w := c.closes.add(id, staleRun, stopPoll)
	defer c.closes.remove(w)

	filter := enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT
	if onProgress != nil {
		filter = enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT
	}
	req := &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace:              c.namespace,
		Execution:              &commonpb.WorkflowExecution{WorkflowId: id},
		WaitNewEvent:           true,
		HistoryEventFilterType: filter,
		SkipArchival:           true,
	}
	var st stages
	reported := Progress{}
	for {
		resp, err := c.temporal.WorkflowService().GetWorkflowExecutionHistory(pctx, req)
		if run, ok := w.fired(); ok {
			return true, run, nil
		}
		if err != nil {
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				return false, "", ErrNotFound
			}
			return false, "", err
		}
		if resp.GetRawHistory() != nil {
			return false, "", errors.New("the server sent raw history, which this client does not read")
		}
		events := resp.GetHistory().GetEvents()
		for _, ev := range events {
			st.add(ev)
		}
		if st.closed || len(resp.GetNextPageToken()) == 0 {
			return true, "", nil
		}
		if onProgress != nil && st.progress != reported {
			reported = st.progress
			onProgress(reported)
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
}

// stages folds history events into a job's progress.
type stages struct {
	progress Progress
	closed   bool
}

func (s *stages) add(ev *historypb.HistoryEvent) {
	switch ev.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
		s.progress = Progress{Status: workflows.StatusPending}
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		switch ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() {
		case fetchInputsActivity:
			s.progress = Progress{Status: workflows.StatusProcessing, Stage: "fetching inputs"}
		case generateActivity:
			// A regeneration after a lost staged image goes back to generating.
			s.progress = Progress{Status: workflows.StatusProcessing, Stage: "generating"}
		case storeActivity:
			s.progress = Progress{Status: workflows.StatusProcessing, Stage: "storing"}
		}
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		s.closed = true
	}
}
