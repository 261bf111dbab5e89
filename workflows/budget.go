package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
)

// The daily budget ledger: one long-lived workflow per UTC day holds what
// the day's jobs reserved and spent. Jobs reserve their estimate through an
// Update (validated, so a reservation over what is left is refused before
// anything is written to history), started with update-with-start so that
// the first job of a day creates the ledger; a job settles its reservation to
// what it actually cost with a signal when it ends. See README "Budget".
const (
	// BudgetWorkflowName is the ledger's registered workflow type.
	BudgetWorkflowName = "ImagegenBudget"
	// UpdateReserve reserves a job's estimate (ReserveRequest → ReserveResult).
	UpdateReserve = "reserve"
	// SignalSettle settles or releases a job's reservation (SettleRequest).
	SignalSettle = "settle"
	// QueryBudget returns the ledger's BudgetView.
	QueryBudget = "budget"
	// ErrTypeBudgetExceeded is the application error type of a refused
	// reservation; its details are a BudgetRefusal.
	ErrTypeBudgetExceeded = "BudgetExceeded"
	// ErrTypeBadReservation: a malformed reservation request.
	ErrTypeBadReservation = "BadReservation"
)

// Ledger defaults; BudgetInput may override them (tests do).
const (
	// DefaultOrphanGrace is how long a reservation waits for its job before
	// the ledger checks whether the job exists: the time between reserving
	// and starting a job is one RPC, so a reservation older than this whose
	// job does not run was left by a server that died in between.
	DefaultOrphanGrace = 2 * time.Minute
	// defaultMaxMessages bounds the reservations and settlements one run of
	// the ledger handles before it continues as new (each costs about five
	// history events; see README "Budget" for the measured bytes).
	defaultMaxMessages = 500
)

// BudgetLedgerID is the workflow id of a day's ledger (day as BudgetDay
// writes it).
func BudgetLedgerID(day string) string {
	return "imagegen-budget-" + day
}

// BudgetDay names the UTC day of t, as ledgers do: 2026-12-01.
func BudgetDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// BudgetInput starts a day's ledger, or continues it as new.
type BudgetInput struct {
	// Day is the UTC day the ledger counts, as BudgetDay writes it.
	Day string `json:"day"`
	// OrphanGrace overrides DefaultOrphanGrace (0 = the default).
	OrphanGrace time.Duration `json:"orphan_grace,omitempty"`
	// MaxMessages overrides how many reservations and settlements one run
	// handles before continuing as new (0 = the default).
	MaxMessages int `json:"max_messages,omitempty"`
	// State is the ledger carried over by continue-as-new (nil: a new day).
	State *BudgetState `json:"state,omitempty"`
}

// BudgetState is the ledger itself.
type BudgetState struct {
	// Limit is the daily limit the last reservation was checked against
	// (each server sends its own configured limit with every reservation).
	Limit imagegen.USD `json:"limit"`
	// Spent is what settled jobs actually cost, by model in SpentByModel.
	Spent        imagegen.USD            `json:"spent"`
	SpentByModel map[string]imagegen.USD `json:"spent_by_model,omitempty"`
	// Reservations are the running jobs' estimates, by job id.
	Reservations map[string]Reservation `json:"reservations,omitempty"`
	// Settled counts jobs settled; Released, reservations released because
	// their job never ran (or ended without settling).
	Settled  int `json:"settled,omitempty"`
	Released int `json:"released,omitempty"`
	// Runs counts the ledger's earlier runs (continue-as-new) this day.
	Runs int `json:"runs,omitempty"`
}

// Reservation is one job's reserved estimate.
type Reservation struct {
	Amount imagegen.USD `json:"amount"`
	Model  string       `json:"model"`
	// At is when it was reserved (ledger time), for the orphan check.
	At time.Time `json:"at"`
}

// ReserveRequest asks the ledger to reserve a job's estimate.
type ReserveRequest struct {
	JobID  string       `json:"job_id"`
	Model  string       `json:"model"`
	Amount imagegen.USD `json:"amount"`
	// Limit is the daily limit configured on the server asking.
	Limit imagegen.USD `json:"limit"`
}

// ReserveResult is what a reservation returns.
type ReserveResult struct {
	// Amount is what is reserved for the job: the request's, or an earlier
	// reservation's when Existing.
	Amount imagegen.USD `json:"amount"`
	// Existing: the job already had a reservation (a retried call); nothing
	// new was reserved.
	Existing bool       `json:"existing,omitempty"`
	Budget   BudgetView `json:"budget"`
}

// BudgetRefusal is the detail of a refused reservation.
type BudgetRefusal struct {
	Estimate imagegen.USD `json:"estimate"`
	Left     imagegen.USD `json:"left"`
	Limit    imagegen.USD `json:"limit"`
	Spent    imagegen.USD `json:"spent"`
	Reserved imagegen.USD `json:"reserved"`
}

// SettleRequest ends a job's reservation: Actual is what the job cost. A
// settlement for a job without a reservation still counts what it cost.
// Release ends a reservation whose job was never started by the call that
// reserved it (nothing was spent).
type SettleRequest struct {
	JobID   string       `json:"job_id"`
	Model   string       `json:"model"`
	Actual  imagegen.USD `json:"actual"`
	Release bool         `json:"release,omitempty"`
}

// BudgetView is the ledger as operators and assistants read it.
type BudgetView struct {
	Day      string       `json:"day"`
	Limit    imagegen.USD `json:"limit"`
	Spent    imagegen.USD `json:"spent"`
	Reserved imagegen.USD `json:"reserved"`
	// Left is Limit − Spent − Reserved; negative when jobs cost more than
	// their estimates.
	Left         imagegen.USD `json:"left"`
	ByModel      []ModelSpend `json:"by_model"`
	Reservations int          `json:"reservations"`
	Settled      int          `json:"settled"`
	Released     int          `json:"released"`
	Runs         int          `json:"runs"`
}

// ModelSpend is one model's share of the day.
type ModelSpend struct {
	Model    string       `json:"model"`
	Spent    imagegen.USD `json:"spent"`
	Reserved imagegen.USD `json:"reserved"`
}

// reserved sums the open reservations.
func (s *BudgetState) reserved() imagegen.USD {
	var sum imagegen.USD
	for _, r := range s.Reservations {
		sum += r.Amount
	}
	return sum
}

// View is the ledger's state as a BudgetView of day.
func (s *BudgetState) View(day string) BudgetView {
	v := BudgetView{Day: day, Limit: s.Limit, Spent: s.Spent, Reserved: s.reserved(),
		Reservations: len(s.Reservations), Settled: s.Settled, Released: s.Released, Runs: s.Runs, ByModel: []ModelSpend{}}
	v.Left = v.Limit - v.Spent - v.Reserved
	by := map[string]*ModelSpend{}
	get := func(m string) *ModelSpend {
		if by[m] == nil {
			by[m] = &ModelSpend{Model: m}
		}
		return by[m]
	}
	for m, usd := range s.SpentByModel {
		get(m).Spent += usd
	}
	for _, r := range s.Reservations {
		get(r.Model).Reserved += r.Amount
	}
	for _, m := range by {
		v.ByModel = append(v.ByModel, *m)
	}
	slices.SortFunc(v.ByModel, func(a, b ModelSpend) int { return strings.Compare(a.Model, b.Model) })
	return v
}

// ValidateReserve is the reserve Update's validator: it accepts a request
// that fits in what is left of the request's limit, a job that already has
// a reservation (a retried call: the handler returns the earlier one) and a
// job that costs nothing; it refuses everything else with a BudgetRefusal.
// It changes nothing.
func (s *BudgetState) ValidateReserve(req ReserveRequest) error {
	if req.JobID == "" || req.Amount < 0 || req.Limit < 0 {
		return temporal.NewApplicationError(fmt.Sprintf("bad reservation: job %q, amount %d, limit %d", req.JobID, req.Amount, req.Limit), ErrTypeBadReservation)
	}
	if _, ok := s.Reservations[req.JobID]; ok || req.Amount == 0 {
		return nil
	}
	reserved := s.reserved()
	left := req.Limit - s.Spent - reserved
	if req.Amount > left {
		r := BudgetRefusal{Estimate: req.Amount, Left: max(left, 0), Limit: req.Limit, Spent: s.Spent, Reserved: reserved}
		return temporal.NewApplicationError(fmt.Sprintf("the job's estimate %s exceeds the %s left of the daily budget %s", req.Amount, r.Left, req.Limit),
			ErrTypeBudgetExceeded, r)
	}
	return nil
}

// reserve applies a validated request.
func (s *BudgetState) reserve(req ReserveRequest, now time.Time) (amount imagegen.USD, existing bool) {
	if r, ok := s.Reservations[req.JobID]; ok {
		return r.Amount, true
	}
	s.Limit = req.Limit
	if s.Reservations == nil {
		s.Reservations = map[string]Reservation{}
	}
	s.Reservations[req.JobID] = Reservation{Amount: req.Amount, Model: req.Model, At: now}
	return req.Amount, false
}

// settle ends a job's reservation with what the job cost.
func (s *BudgetState) settle(req SettleRequest) {
	if req.Release {
		s.release([]string{req.JobID})
		return
	}
	model := req.Model
	if r, ok := s.Reservations[req.JobID]; ok {
		delete(s.Reservations, req.JobID)
		if model == "" {
			model = r.Model
		}
	}
	if req.Actual > 0 {
		s.Spent += req.Actual
		if s.SpentByModel == nil {
			s.SpentByModel = map[string]imagegen.USD{}
		}
		s.SpentByModel[model] += req.Actual
	}
	s.Settled++
}

// release drops reservations whose jobs will never settle.
func (s *BudgetState) release(jobIDs []string) {
	for _, id := range jobIDs {
		if _, ok := s.Reservations[id]; ok {
			delete(s.Reservations, id)
			s.Released++
		}
	}
}

// stale lists the reservations older than grace at now, sorted.
func (s *BudgetState) stale(now time.Time, grace time.Duration) []string {
	var ids []string
	for id, r := range s.Reservations {
		if now.Sub(r.At) >= grace {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// BudgetLedger is the ledger workflow of one UTC day. It runs until the
// day is over and no reservation is open, continuing as new every
// MaxMessages reservations and settlements (or when Temporal suggests it).
func BudgetLedger(ctx workflow.Context, in BudgetInput) (BudgetView, error) {
	st := BudgetState{}
	if in.State != nil {
		st = *in.State
	}
	grace := in.OrphanGrace
	if grace <= 0 {
		grace = DefaultOrphanGrace
	}
	maxMessages := in.MaxMessages
	if maxMessages <= 0 {
		maxMessages = defaultMaxMessages
	}
	dayStart, err := time.Parse(time.DateOnly, in.Day)
	if err != nil {
		return BudgetView{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("ledger day %q: %v", in.Day, err), ErrTypeBadReservation, nil)
	}
	dayEnd := dayStart.Add(24 * time.Hour)
	handled := 0

	// Handlers first: an update-with-start's update arrives in the first
	// workflow task, before the function yields.
	if err := workflow.SetQueryHandler(ctx, QueryBudget, func() (BudgetView, error) { return st.View(in.Day), nil }); err != nil {
		return BudgetView{}, err
	}
	// Settlements are applied by this function's own coroutine only, at
	// points it chooses: one applied by another coroutine after the
	// continue-as-new input was taken would be lost.
	settles := workflow.GetSignalChannel(ctx, SignalSettle)
	drain := func() {
		var req SettleRequest
		for settles.ReceiveAsync(&req) {
			handled++
			st.settle(req)
		}
	}
	// poke wakes the loop after a reservation.
	poke := workflow.NewBufferedChannel(ctx, 1)
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateReserve,
		func(ctx workflow.Context, req ReserveRequest) (ReserveResult, error) {
			handled++
			amount, existing := st.reserve(req, workflow.Now(ctx))
			poke.SendAsync(true)
			return ReserveResult{Amount: amount, Existing: existing, Budget: st.View(in.Day)}, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req ReserveRequest) error { return st.ValidateReserve(req) }},
	); err != nil {
		return BudgetView{}, err
	}

	checkCtx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var ledger *activities.Ledger
	log := workflow.GetLogger(ctx)
	// One timer at a time, kept across wake-ups so that a message costs no
	// timer events: until the day ends while nothing is reserved, else
	// until the next orphan check.
	var (
		timer       workflow.Future
		cancelTimer workflow.CancelFunc
		timerIdle   bool
	)
	for {
		drain()
		if err := ctx.Err(); err != nil {
			return st.View(in.Day), err
		}
		now := workflow.Now(ctx)
		if len(st.Reservations) == 0 && !now.Before(dayEnd) {
			return st.View(in.Day), nil
		}
		if handled >= maxMessages || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Synchronous handlers finish in the task that delivers them;
			// wait anyway, as the SDK asks before continuing as new.
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return BudgetView{}, err
			}
			drain()
			st.Runs++
			next := in
			next.State = &st
			return BudgetView{}, workflow.NewContinueAsNewError(ctx, BudgetWorkflowName, next)
		}
		idle := len(st.Reservations) == 0
		if timer == nil || (timerIdle && !idle) {
			if cancelTimer != nil {
				cancelTimer()
			}
			wait := grace
			if idle {
				wait = dayEnd.Sub(now)
			}
			var tctx workflow.Context
			tctx, cancelTimer = workflow.WithCancel(ctx)
			timer, timerIdle = workflow.NewTimer(tctx, wait), idle
		}
		fired := false
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(timer, func(workflow.Future) { fired = true })
		sel.AddReceive(settles, func(c workflow.ReceiveChannel, _ bool) {
			var req SettleRequest
			c.Receive(ctx, &req)
			handled++
			st.settle(req)
		})
		sel.AddReceive(poke, func(c workflow.ReceiveChannel, _ bool) {
			var poked bool
			c.Receive(ctx, &poked)
		})
		sel.Select(ctx)
		if !fired {
			continue
		}
		timer, cancelTimer = nil, nil
		if timerIdle {
			continue
		}
		stale := st.stale(workflow.Now(ctx), grace)
		if len(stale) == 0 {
			continue
		}
		var gone []string
		if err := workflow.ExecuteLocalActivity(checkCtx, ledger.JobsGone, stale).Get(ctx, &gone); err != nil {
			log.Warn("budget: cannot check whether reserved jobs run; checking again later", "error", err)
			continue
		}
		// A job that ended settled before it ended (its signal is earlier in
		// this history than the check's result): what is still reserved for
		// a job that is gone will never be settled.
		drain()
		if len(gone) > 0 {
			log.Info("budget: released reservations of jobs that never ran", "jobs", gone)
			st.release(gone)
		}
	}
}
