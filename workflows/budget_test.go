package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workersai/workersaitest"
	"github.com/imagegen/imagegen/workflows"
)

const cent = imagegen.USD(10_000_000) // $0.01 in nano-dollars

// The reserve Update's validator decides alone what is refused: a table of
// the cases that matter, on a ledger that has spent 3 cents and holds a
// reservation of 2 for job "held", against a limit of 10.
func TestReserveValidator(t *testing.T) {
	st := func() *workflows.BudgetState {
		return &workflows.BudgetState{Limit: 10 * cent, Spent: 3 * cent,
			Reservations: map[string]workflows.Reservation{"held": {Amount: 2 * cent, Model: "flux-schnell"}}}
	}
	overspent := &workflows.BudgetState{Limit: 10 * cent, Spent: 12 * cent}
	tests := []struct {
		name  string
		state *workflows.BudgetState
		req   workflows.ReserveRequest
		// refused: the error type wanted, "" = accepted
		refused string
		left    imagegen.USD // what a refusal says is left
	}{
		{"an estimate that fits is accepted", st(), workflows.ReserveRequest{JobID: "a", Amount: 4 * cent, Limit: 10 * cent}, "", 0},
		{"an exact fit is accepted", st(), workflows.ReserveRequest{JobID: "a", Amount: 5 * cent, Limit: 10 * cent}, "", 0},
		{"one nano-dollar over is refused", st(), workflows.ReserveRequest{JobID: "a", Amount: 5*cent + 1, Limit: 10 * cent}, workflows.ErrTypeBudgetExceeded, 5 * cent},
		{"over the budget is refused with what is left", st(), workflows.ReserveRequest{JobID: "a", Amount: 9 * cent, Limit: 10 * cent}, workflows.ErrTypeBudgetExceeded, 5 * cent},
		{"a retried reservation of a reserved job is accepted, whatever its amount", st(), workflows.ReserveRequest{JobID: "held", Amount: 50 * cent, Limit: 10 * cent}, "", 0},
		{"a zero-cost job is accepted on a full budget", overspent, workflows.ReserveRequest{JobID: "a", Amount: 0, Limit: 10 * cent}, "", 0},
		{"an overspent budget refuses and says nothing is left", overspent, workflows.ReserveRequest{JobID: "a", Amount: 1, Limit: 10 * cent}, workflows.ErrTypeBudgetExceeded, 0},
		{"the request's limit counts, not the ledger's last one", st(), workflows.ReserveRequest{JobID: "a", Amount: 9 * cent, Limit: 20 * cent}, "", 0},
		{"a lowered limit refuses at once", st(), workflows.ReserveRequest{JobID: "a", Amount: 1 * cent, Limit: 5 * cent}, workflows.ErrTypeBudgetExceeded, 0},
		{"a request without a job id is malformed", st(), workflows.ReserveRequest{Amount: 1, Limit: 10 * cent}, workflows.ErrTypeBadReservation, 0},
		{"a negative amount is malformed", st(), workflows.ReserveRequest{JobID: "a", Amount: -1, Limit: 10 * cent}, workflows.ErrTypeBadReservation, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fmt.Sprintf("%+v", *tt.state)
			err := tt.state.ValidateReserve(tt.req)
			if after := fmt.Sprintf("%+v", *tt.state); after != before {
				t.Errorf("the validator changed the ledger: %s → %s", before, after)
			}
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae *temporal.ApplicationError
			if !errors.As(err, &ae) || ae.Type() != tt.refused {
				t.Fatalf("got %v, want an application error of type %s", err, tt.refused)
			}
			if tt.refused == workflows.ErrTypeBudgetExceeded {
				var r workflows.BudgetRefusal
				if err := ae.Details(&r); err != nil {
					t.Fatal(err)
				}
				if r.Left != tt.left || r.Estimate != tt.req.Amount || r.Limit != tt.req.Limit {
					t.Errorf("refusal %+v, want left %s, estimate %s, limit %s", r, tt.left, tt.req.Amount, tt.req.Limit)
				}
			}
		})
	}
}

// ledgerStack is an embedded Temporal server with a worker running both
// workflows, the activities (Workers AI fake) and the ledger's orphan check.
type ledgerStack struct {
	c    client.Client
	fake *workersaitest.Server
}

func startLedgerStack(t *testing.T) *ledgerStack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, fake, provider := startTemporal(t, ctx)
	w := startWorkers(t, c, provider, true)
	t.Cleanup(w.stop)
	return &ledgerStack{c: c, fake: fake}
}

// reserve is the start path's update-with-start (package jobs).
func (s *ledgerStack) reserve(ctx context.Context, in workflows.BudgetInput, req workflows.ReserveRequest) (workflows.ReserveResult, error) {
	return jobs.ReserveOnLedger(ctx, s.c, in, req)
}

func (s *ledgerStack) settle(t *testing.T, ctx context.Context, day string, req workflows.SettleRequest) {
	t.Helper()
	if err := s.c.SignalWorkflow(ctx, workflows.BudgetLedgerID(day), "", workflows.SignalSettle, req); err != nil {
		t.Fatal(err)
	}
}

func (s *ledgerStack) view(t *testing.T, ctx context.Context, day string) workflows.BudgetView {
	t.Helper()
	v, err := s.c.QueryWorkflow(ctx, workflows.BudgetLedgerID(day), "", workflows.QueryBudget)
	if err != nil {
		t.Fatal(err)
	}
	var out workflows.BudgetView
	if err := v.Get(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitView polls the ledger until cond holds (or the test's context ends).
func (s *ledgerStack) waitView(t *testing.T, ctx context.Context, day, what string, cond func(workflows.BudgetView) bool) workflows.BudgetView {
	t.Helper()
	var v workflows.BudgetView
	waitFor(t, ctx, what, func() bool { v = s.view(t, ctx, day); return cond(v) })
	return v
}

// history counts a workflow's events and their encoded bytes.
func (s *ledgerStack) history(t *testing.T, ctx context.Context, id string) (events, bytes int) {
	t.Helper()
	it := s.c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events++
		bytes += proto.Size(ev)
	}
	return events, bytes
}

func isRefusal(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.Type() == workflows.ErrTypeBudgetExceeded
}

// The ledger on a real Temporal server: concurrent reservations against a
// budget for exactly some of them, idempotent retries, settlement,
// continue-as-new under concurrent updates, and orphan release.
func TestBudgetLedger(t *testing.T) {
	s := startLedgerStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	t.Run("concurrent reservations against a budget for 5 accept exactly 5", func(t *testing.T) {
		in := workflows.BudgetInput{Day: "2099-01-01"}
		const calls, fits = 20, 5
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			accepted []string
			refused  int
			other    []error
		)
		for i := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("job-%02d", i)
				_, err := s.reserve(ctx, in, workflows.ReserveRequest{JobID: id, Model: "flux-schnell", Amount: cent, Limit: fits * cent})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					accepted = append(accepted, id)
				case isRefusal(err):
					refused++
				default:
					other = append(other, err)
				}
			}()
		}
		wg.Wait()
		if len(other) > 0 {
			t.Fatalf("%d reservations failed otherwise, first: %v", len(other), other[0])
		}
		if len(accepted) != fits || refused != calls-fits {
			t.Fatalf("%d accepted, %d refused; want %d and %d", len(accepted), refused, fits, calls-fits)
		}
		v := s.view(t, ctx, in.Day)
		if v.Reserved != fits*cent || v.Reservations != fits || v.Left != 0 || v.Spent != 0 {
			t.Errorf("ledger %+v, want %d reservations of 1 cent and nothing left", v, fits)
		}
		t.Logf("measured: %d concurrent reservations, %d accepted, %d refused", calls, len(accepted), refused)
	})

	t.Run("a retried reservation reserves once and settling moves it to spent", func(t *testing.T) {
		in := workflows.BudgetInput{Day: "2099-01-02"}
		req := workflows.ReserveRequest{JobID: "job-a", Model: "sdxl-base", Amount: 4 * cent, Limit: 10 * cent}
		first, err := s.reserve(ctx, in, req)
		if err != nil || first.Existing || first.Amount != 4*cent {
			t.Fatalf("first reservation %+v, %v", first, err)
		}
		again, err := s.reserve(ctx, in, req)
		if err != nil || !again.Existing || again.Amount != 4*cent || again.Budget.Reserved != 4*cent {
			t.Fatalf("retried reservation %+v, %v; want the existing one and 4 cents reserved", again, err)
		}
		s.settle(t, ctx, in.Day, workflows.SettleRequest{JobID: "job-a", Model: "sdxl-base", Actual: 3 * cent})
		v := s.waitView(t, ctx, in.Day, "the settlement", func(v workflows.BudgetView) bool { return v.Settled == 1 })
		if v.Spent != 3*cent || v.Reserved != 0 || v.Left != 7*cent || len(v.ByModel) != 1 || v.ByModel[0].Spent != 3*cent {
			t.Errorf("after settling: %+v, want 3 cents spent on sdxl-base, 7 left", v)
		}
		// Released: the call that reserved did not start its job.
		if _, err := s.reserve(ctx, in, workflows.ReserveRequest{JobID: "job-b", Model: "sdxl-base", Amount: 7 * cent, Limit: 10 * cent}); err != nil {
			t.Fatalf("an exact fit was refused: %v", err)
		}
		s.settle(t, ctx, in.Day, workflows.SettleRequest{JobID: "job-b", Release: true})
		v = s.waitView(t, ctx, in.Day, "the release", func(v workflows.BudgetView) bool { return v.Released == 1 })
		if v.Spent != 3*cent || v.Reserved != 0 || v.Settled != 1 {
			t.Errorf("after the release: %+v, want 3 cents spent and nothing reserved", v)
		}
	})

	t.Run("continue-as-new under concurrent reservations keeps every one", func(t *testing.T) {
		in := workflows.BudgetInput{Day: "2099-01-03", MaxMessages: 4}
		const calls = 30
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for i := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("job-%02d", i)
				if _, err := s.reserve(ctx, in, workflows.ReserveRequest{JobID: id, Model: "flux-schnell", Amount: cent, Limit: 100 * cent}); err != nil {
					errs <- fmt.Errorf("reserve %s: %w", id, err)
					return
				}
				if err := s.c.SignalWorkflow(ctx, workflows.BudgetLedgerID(in.Day), "", workflows.SignalSettle,
					workflows.SettleRequest{JobID: id, Model: "flux-schnell", Actual: cent / 2}); err != nil {
					errs <- fmt.Errorf("settle %s: %w", id, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		v := s.waitView(t, ctx, in.Day, "every settlement", func(v workflows.BudgetView) bool { return v.Settled == calls })
		if v.Spent != calls*cent/2 || v.Reserved != 0 || v.Reservations != 0 {
			t.Errorf("ledger %+v, want %d settlements of half a cent and nothing reserved", v, calls)
		}
		if v.Runs < 5 {
			t.Errorf("the ledger ran %d times before this run; with 4 messages a run it must have continued as new at least 5 times for 60 messages", v.Runs)
		}
		t.Logf("measured: %d reservations and settlements across %d runs of the ledger", calls, v.Runs+1)
	})

	t.Run("a reservation and its settlement cost a few events and no timer", func(t *testing.T) {
		in := workflows.BudgetInput{Day: "2099-01-05"}
		pair := func(i int) {
			id := fmt.Sprintf("job-%02d", i)
			if _, err := s.reserve(ctx, in, workflows.ReserveRequest{JobID: id, Model: "flux-schnell", Amount: cent, Limit: 100 * cent}); err != nil {
				t.Fatal(err)
			}
			s.settle(t, ctx, in.Day, workflows.SettleRequest{JobID: id, Model: "flux-schnell", Actual: cent})
			s.waitView(t, ctx, in.Day, "the settlement", func(v workflows.BudgetView) bool { return v.Settled == i+1 })
		}
		pair(0) // the ledger's start and first timer
		events0, bytes0 := s.history(t, ctx, workflows.BudgetLedgerID(in.Day))
		const pairs = 10
		for i := 1; i <= pairs; i++ {
			pair(i)
		}
		events, bytes := s.history(t, ctx, workflows.BudgetLedgerID(in.Day))
		perEvents, perBytes := float64(events-events0)/pairs, (bytes-bytes0)/pairs
		t.Logf("measured: one reserve + settle after the other: %.1f events and %d bytes per pair (%d events, %d bytes for %d pairs and the start)", perEvents, perBytes, events, bytes, pairs+1)
		// Update accepted + completed and a signal, each with its workflow
		// task (3 events): 9. A timer started and canceled per message
		// would add 2 each.
		if perEvents > 9 {
			t.Errorf("%.1f events per reservation and settlement, want at most 9", perEvents)
		}
	})

	t.Run("orphan reservations are released, a running job's is kept", func(t *testing.T) {
		in := workflows.BudgetInput{Day: "2099-01-04", OrphanGrace: time.Second}
		// A job that runs until canceled: the fake stalls on its prompt.
		const stall = "a job that keeps running"
		s.fake.SetPromptFailFunc(func(model, prompt string, call int) *workersaitest.Failure {
			if prompt == stall {
				return &workersaitest.Failure{Status: 200, ContentType: "image/png", Body: s.fake.Image(model), Stall: time.Hour}
			}
			return nil
		})
		running := uuid.NewString()
		if _, err := s.reserve(ctx, in, workflows.ReserveRequest{JobID: running, Model: "flux-schnell", Amount: cent, Limit: 10 * cent}); err != nil {
			t.Fatal(err)
		}
		jin, err := workflows.NewInput(imagegen.Request{Prompt: stall, Model: "flux-schnell"}, 1)
		if err != nil {
			t.Fatal(err)
		}
		jin.Budget = &workflows.BudgetReservation{Ledger: workflows.BudgetLedgerID(in.Day), Amount: cent}
		run, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: running, TaskQueue: workflows.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.StatusKey.ValueSet(string(workflows.StatusPending)))}, workflows.WorkflowName, jin)
		if err != nil {
			t.Fatal(err)
		}
		// Reserved, never started (the server died in between).
		if _, err := s.reserve(ctx, in, workflows.ReserveRequest{JobID: uuid.NewString(), Model: "flux-schnell", Amount: 2 * cent, Limit: 10 * cent}); err != nil {
			t.Fatal(err)
		}
		v := s.waitView(t, ctx, in.Day, "the orphan's release", func(v workflows.BudgetView) bool { return v.Released == 1 })
		if v.Reserved != cent || v.Reservations != 1 {
			t.Errorf("after the orphan check: %+v, want only the running job's cent reserved", v)
		}
		// Canceled while generating: nothing paid, the reservation is
		// settled (to what it cost) when the job ends.
		if err := s.c.CancelWorkflow(ctx, running, ""); err != nil {
			t.Fatal(err)
		}
		if err := run.Get(ctx, nil); !temporal.IsCanceledError(err) {
			t.Fatalf("job ended with %v, want canceled", err)
		}
		v = s.waitView(t, ctx, in.Day, "the canceled job's settlement", func(v workflows.BudgetView) bool { return v.Settled == 1 })
		if v.Reserved != 0 || v.Reservations != 0 || v.Released != 1 {
			t.Errorf("after the canceled job: %+v, want nothing reserved", v)
		}
	})
}
