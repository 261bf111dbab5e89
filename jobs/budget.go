package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/workflows"
)

// Budget is the spending bound of the jobs a Client starts (see README
// "Budget"). The zero value bounds nothing.
type Budget struct {
	// Daily is what the jobs of one UTC day may cost together (0 = no
	// daily budget). It is held by that day's ledger workflow, shared by
	// every server of the namespace.
	Daily imagegen.USD
	// PerJob is the most one job's estimate may be (0 = no ceiling).
	PerJob imagegen.USD
	// Free says jobs cost nothing here (the preview provider renders every
	// model): they are never refused and reserve nothing.
	Free bool
	// OrphanGrace is how long a reservation waits for its job before the
	// ledger checks that the job runs (0 = workflows.DefaultOrphanGrace).
	OrphanGrace time.Duration
	// Now is the clock that picks the day (nil = time.Now).
	Now func() time.Time
}

// Enabled reports whether the budget bounds anything.
func (b Budget) Enabled() bool { return (b.Daily > 0 || b.PerJob > 0) && !b.Free }

func (b Budget) now() time.Time {
	if b.Now != nil {
		return b.Now().UTC()
	}
	return time.Now().UTC()
}

// resetsAt is the next 00:00 UTC after t.
func resetsAt(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

// until says how long until the reset, in hours and minutes.
func until(from, to time.Time) string {
	d := to.Sub(from).Round(time.Minute)
	if d < time.Minute {
		return "under a minute"
	}
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h == 0:
		return fmt.Sprintf("%d min", m)
	case m == 0:
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}

// budgetError is a refusal the model reads.
func budgetError(msg string) error {
	return &imagegen.Error{Kind: imagegen.KindBudgetExceeded, Message: msg}
}

// estimate prices a job and checks it against the per-job ceiling. It
// returns 0 for jobs that reserve nothing.
func (b Budget) estimate(req imagegen.Request, n int) (imagegen.USD, error) {
	if !b.Enabled() {
		return 0, nil
	}
	// The same figure workflows.NewInput puts in the job's plan.
	est, ok := imagegen.EstimateCost(req, max(n, 1))
	if !ok {
		return 0, budgetError(fmt.Sprintf("Refused: model %s has no published price, so its jobs cannot be charged against the budget the operator set. Use a model with a price (list_models shows them). No job was started.", req.Model))
	}
	if b.PerJob > 0 && est > b.PerJob {
		return 0, budgetError(fmt.Sprintf("Refused: this job is estimated at %s, over the per-job ceiling of %s. Use fewer images (n), a smaller size, fewer steps or a cheaper model (list_models shows prices). No job was started.", est, b.PerJob))
	}
	return est, nil
}

// reserve reserves a job's estimate on today's ledger, starting the ledger
// if it is the day's first job (update-with-start). It returns nil when the
// job reserves nothing (no daily budget, or a job that costs nothing), and
// whether the reservation is new (false: the job already had one).
func (c *Client) reserve(ctx context.Context, jobID string, req imagegen.Request, est imagegen.USD) (res *workflows.BudgetReservation, fresh bool, err error) {
	b := c.budget
	if b.Daily <= 0 || est == 0 {
		return nil, false, nil
	}
	now := b.now()
	day := workflows.BudgetDay(now)
	ledger := workflows.BudgetLedgerID(day)
	out, err := c.reserveOn(ctx, day, workflows.ReserveRequest{JobID: jobID, Model: req.Model, Amount: est, Limit: b.Daily})
	if err != nil {
		return nil, false, c.refusal(err, est, now)
	}
	return &workflows.BudgetReservation{Ledger: ledger, Amount: out.Amount}, !out.Existing, nil
}

// reserveOn sends the reserve Update to the ledger of day, starting it if
// needed.
func (c *Client) reserveOn(ctx context.Context, day string, req workflows.ReserveRequest) (workflows.ReserveResult, error) {
	return ReserveOnLedger(ctx, c.temporal, workflows.BudgetInput{Day: day, OrphanGrace: c.budget.OrphanGrace}, req)
}

// maxNotReady bounds how often a reservation is sent again after Temporal
// answered that the ledger's workflow task failed.
const maxNotReady = 20

// ReserveOnLedger reserves on the ledger of in.Day with update-with-start:
// the day's first reservation starts the ledger (with in), later ones join
// the running one (USE_EXISTING). A ledger that already ended is not started
// again (REJECT_DUPLICATE): a second ledger would have forgotten the day.
//
// An update delivered in a workflow task that the server fails (it does so
// when the ledger continues as new while a settlement arrives) is answered
// with WorkflowNotReady and was not applied: it is sent again. That is safe,
// as a reservation is idempotent by job id.
func ReserveOnLedger(ctx context.Context, c client.Client, in workflows.BudgetInput, req workflows.ReserveRequest) (workflows.ReserveResult, error) {
	for attempt := 1; ; attempt++ {
		start := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
			ID:                       workflows.BudgetLedgerID(in.Day),
			TaskQueue:                workflows.TaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			StaticSummary:            "imagegen daily budget " + in.Day,
		}, workflows.BudgetWorkflowName, in)
		h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: start,
			UpdateOptions: client.UpdateWorkflowOptions{
				UpdateName:   workflows.UpdateReserve,
				Args:         []any{req},
				WaitForStage: client.WorkflowUpdateStageCompleted,
			},
		})
		var out workflows.ReserveResult
		if err == nil {
			err = h.Get(ctx, &out)
		}
		var notReady *serviceerror.WorkflowNotReady
		if !errors.As(err, &notReady) || attempt == maxNotReady {
			return out, err
		}
		select {
		case <-ctx.Done():
			return out, err
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
	}
}

// refusal turns a failed reservation into the error the caller reads.
func (c *Client) refusal(err error, est imagegen.USD, now time.Time) error {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.Type() == workflows.ErrTypeBudgetExceeded {
		var r workflows.BudgetRefusal
		_ = ae.Details(&r)
		reset := resetsAt(now)
		return budgetError(fmt.Sprintf("Refused: this job is estimated at %s but only %s is left of today's budget of %s (%s spent, %s reserved by running jobs). "+
			"The budget resets at 00:00 UTC, in %s. No job was started.", est, r.Left, r.Limit, r.Spent, r.Reserved, until(now, reset)))
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return fmt.Errorf("reserve on the budget ledger: today's ledger has already ended (is this server's clock behind?): %w", err)
	}
	return c.wrap("reserve on the budget ledger", err)
}

// release ends a reservation that no job will settle (its job was not
// started by this call). A failure is logged: the ledger releases the
// reservation itself once it sees that the job does not run.
func (c *Client) release(ctx context.Context, res *workflows.BudgetReservation, jobID, model string) {
	err := c.temporal.SignalWorkflow(ctx, res.Ledger, "", workflows.SignalSettle, workflows.SettleRequest{JobID: jobID, Model: model, Release: true})
	if err != nil {
		c.log.Warn("budget: cannot release a reservation; the ledger releases it after its grace period", "job_id", jobID, "ledger", res.Ledger, "error", err)
	}
}

// reserveRetry reserves again for a job about to be retried (reset): its
// new run has the first run's input and settles on the ledger named there.
// A job that reserved nothing, or on another day's ledger, is refused with
// a budget set: its retry would spend outside today's budget. It returns
// the reservation when a new one was made.
func (c *Client) reserveRetry(ctx context.Context, id, model string) (*workflows.BudgetReservation, error) {
	b := c.budget
	if !b.Enabled() {
		return nil, nil
	}
	in, err := c.startInput(ctx, id)
	if err != nil {
		return nil, err
	}
	est, err := b.estimate(in.Request, in.N)
	if err != nil || b.Daily <= 0 || est == 0 {
		return nil, err
	}
	now := b.now()
	day := workflows.BudgetDay(now)
	switch {
	case in.Budget == nil:
		return nil, budgetError(fmt.Sprintf("Refused: job %s was started before the daily budget was set, and a retry would spend outside it. Start a new job with the same prompt instead. Nothing was retried.", id))
	case in.Budget.Ledger != workflows.BudgetLedgerID(day):
		return nil, budgetError(fmt.Sprintf("Refused: job %s was charged to an earlier day's budget, where a retry would be settled too. Start a new job with the same prompt instead (it is charged to today's). Nothing was retried.", id))
	}
	out, err := c.reserveOn(ctx, day, workflows.ReserveRequest{JobID: id, Model: model, Amount: in.Budget.Amount, Limit: b.Daily})
	if err != nil {
		return nil, c.refusal(err, in.Budget.Amount, now)
	}
	if out.Existing {
		return nil, nil
	}
	return in.Budget, nil
}

// startInput reads the input a job was started with (its first event).
func (c *Client) startInput(ctx context.Context, id string) (workflows.Input, error) {
	it := c.temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return workflows.Input{}, fmt.Errorf("job %s has no history", id)
	}
	ev, err := it.Next()
	if err != nil {
		return workflows.Input{}, c.wrap("read history of "+id, err)
	}
	var in workflows.Input
	if err := c.dc.FromPayloads(ev.GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
		return workflows.Input{}, fmt.Errorf("decode the input of job %s: %w", id, err)
	}
	return in, nil
}

// BudgetStatus is the day's budget as get_budget and `imagegen budget` show it.
type BudgetStatus struct {
	// Configured is false when this server bounds no spending.
	Configured bool   `json:"configured"`
	Day        string `json:"day"`
	// Limit is this server's daily budget (0 = none); PerJob its per-job
	// ceiling (0 = none).
	Limit  imagegen.USD `json:"limit"`
	PerJob imagegen.USD `json:"per_job_ceiling,omitempty"`
	// Spent is what the day's finished jobs cost; Reserved what running
	// jobs reserved; Left = Limit − Spent − Reserved (never below 0 here).
	Spent        imagegen.USD           `json:"spent"`
	Reserved     imagegen.USD           `json:"reserved"`
	Left         imagegen.USD           `json:"left"`
	ByModel      []workflows.ModelSpend `json:"by_model"`
	Reservations int                    `json:"reservations"`
	Settled      int                    `json:"settled"`
	Released     int                    `json:"released"`
	ResetsAt     time.Time              `json:"resets_at"`
	ResetsIn     string                 `json:"resets_in"`
	// Free: jobs cost nothing here (the preview provider).
	Free bool `json:"free,omitempty"`
}

// Budget reads today's ledger through its query. A day without jobs has no
// ledger yet: nothing spent.
func (c *Client) Budget(ctx context.Context) (BudgetStatus, error) {
	b := c.budget
	now := b.now()
	reset := resetsAt(now)
	st := BudgetStatus{Configured: b.Enabled(), Day: workflows.BudgetDay(now), Limit: b.Daily, PerJob: b.PerJob,
		ResetsAt: reset, ResetsIn: until(now, reset), Free: b.Free, ByModel: []workflows.ModelSpend{}}
	v, err := c.Ledger(ctx, st.Day)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return BudgetStatus{}, err
	default:
		st.Spent, st.Reserved, st.ByModel = v.Spent, v.Reserved, v.ByModel
		st.Reservations, st.Settled, st.Released = v.Reservations, v.Settled, v.Released
	}
	if st.Limit > 0 {
		st.Left = max(st.Limit-st.Spent-st.Reserved, 0)
	}
	return st, nil
}

// Ledger queries the ledger of day (YYYY-MM-DD).
func (c *Client) Ledger(ctx context.Context, day string) (workflows.BudgetView, error) {
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return workflows.BudgetView{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("day %q is not a date like 2026-12-01", strings.TrimSpace(day))}
	}
	id := workflows.BudgetLedgerID(day)
	v, err := c.temporal.QueryWorkflow(ctx, id, "", workflows.QueryBudget)
	if err != nil {
		return workflows.BudgetView{}, c.wrap("query budget ledger "+id, err)
	}
	var out workflows.BudgetView
	if err := v.Get(&out); err != nil {
		return workflows.BudgetView{}, fmt.Errorf("decode budget ledger %s: %w", id, err)
	}
	return out, nil
}
