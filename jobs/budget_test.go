package jobs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// onDay is a clock at noon of a fixed day, so that each test has a ledger
// of its own.
func onDay(day string) func() time.Time {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return t.Add(12 * time.Hour) }
}

func estimate(t *testing.T, req imagegen.Request, n int) imagegen.USD {
	t.Helper()
	est, ok := imagegen.EstimateCost(req.WithDefaults(), n)
	if !ok || est <= 0 {
		t.Fatalf("no estimate for %s", req.Model)
	}
	return est
}

func wantRefusal(t *testing.T, err error, says ...string) {
	t.Helper()
	if imagegen.KindOf(err) != imagegen.KindBudgetExceeded {
		t.Fatalf("got %v, want a budget refusal", err)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("refusal %q does not say %q", err, s)
		}
	}
}

// A budget for two and a half jobs starts two; the third is refused before
// it starts, saying what is left, the estimate and when the budget resets;
// the jobs that ran settle, and the budget reads what they cost.
func TestStartReservesTheEstimateAndRefusesWhatDoesNotFit(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	req := imagegen.Request{Prompt: "a budgeted lighthouse", Model: "flux-schnell"}
	est := estimate(t, req, 1)
	jc := s.client(t, jobs.Options{Budget: jobs.Budget{Daily: 2*est + est/2, Now: onDay("2099-02-01")}}, newRPCLog())
	ctx := within(t)

	var started []string
	for range 2 {
		job, err := jc.Start(ctx, req)
		if err != nil {
			t.Fatalf("a job that fits was refused: %v", err)
		}
		started = append(started, job.ID)
	}
	_, err := jc.Start(ctx, req)
	wantRefusal(t, err, "estimated at "+est.String(), "only "+(est/2).String()+" is left", "00:00 UTC, in 12 h", "No job was started")

	st, err := jc.Budget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Reservations+st.Settled != 2 {
		t.Errorf("the ledger knows %d reserved and %d settled jobs, want 2 in all: %+v", st.Reservations, st.Settled, st)
	}
	if st.Spent+st.Reserved > st.Limit {
		t.Errorf("spent %s + reserved %s exceed the limit %s", st.Spent, st.Reserved, st.Limit)
	}
	var paid imagegen.USD
	for _, id := range started {
		job, done, err := jc.Wait(ctx, id, time.Minute)
		if err != nil || !done || job.Status != workflows.StatusCompleted {
			t.Fatalf("job %s: %+v, %v, %v", id, job, done, err)
		}
		if job.Result == nil || job.Result.Cost == nil || job.Result.Cost.Actual == nil {
			t.Fatalf("job %s reports no actual cost: %+v", id, job.Result)
		}
		paid += *job.Result.Cost.Actual
	}
	st = waitBudget(t, jc, "both settlements", func(st jobs.BudgetStatus) bool { return st.Settled == 2 })
	if st.Spent != paid || paid == 0 {
		t.Errorf("the ledger spent %s, the jobs report %s", st.Spent, paid)
	}
	if st.Reserved != 0 || st.Reservations != 0 || st.Left != st.Limit-st.Spent {
		t.Errorf("after both jobs: %+v, want nothing reserved and left = limit − spent", st)
	}
	t.Logf("measured: estimate %s per job, %s spent by 2 jobs, %s left", est, st.Spent, st.Left)
}

func waitBudget(t *testing.T, jc *jobs.Client, what string, cond func(jobs.BudgetStatus) bool) jobs.BudgetStatus {
	t.Helper()
	ctx := within(t)
	for {
		st, err := jc.Budget(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cond(st) {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %+v", what, st)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// What the ledger is never asked about: jobs over the per-job ceiling,
// models without a price, and jobs that cost nothing.
func TestBudgetRefusalsThatNeedNoLedger(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	ctx := within(t)
	req := imagegen.Request{Prompt: "a ceiling", Model: "flux-schnell"}
	est4 := estimate(t, req, 4)

	ceiling := s.client(t, jobs.Options{Budget: jobs.Budget{PerJob: est4 - 1, Now: onDay("2099-02-02")}}, newRPCLog())
	_, _, err := ceiling.StartWith(ctx, req, jobs.StartOptions{N: 4})
	wantRefusal(t, err, "estimated at "+est4.String(), "per-job ceiling of "+(est4-1).String(), "No job was started")
	if _, _, err := ceiling.StartWith(ctx, req, jobs.StartOptions{N: 1}); err != nil {
		t.Errorf("a job under the ceiling was refused: %v", err)
	}

	unpriced := s.client(t, jobs.Options{Budget: jobs.Budget{Daily: imagegen.Dollar, Now: onDay("2099-02-03")}}, newRPCLog())
	_, err = unpriced.Start(ctx, imagegen.Request{Prompt: "a ceiling", Model: "sdxl-lightning"})
	wantRefusal(t, err, "sdxl-lightning has no published price")

	free := s.client(t, jobs.Options{Budget: jobs.Budget{Daily: 1, Free: true, Now: onDay("2099-02-04")}}, newRPCLog())
	for range 3 {
		if _, err := free.Start(ctx, req); err != nil {
			t.Fatalf("a free job was refused: %v", err)
		}
	}
	st, err := free.Budget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Configured || st.Reservations != 0 || st.Spent != 0 || !st.Free {
		t.Errorf("free jobs touched the budget: %+v", st)
	}
}

// A call retried with its idempotency key reserves once; so does a retried
// start whose first try reserved but never started the job.
func TestARetriedCallReservesOnce(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	ctx := within(t)
	req := imagegen.Request{Prompt: "asked twice", Model: "flux-schnell"}
	est := estimate(t, req, 1)
	jc := s.client(t, jobs.Options{Budget: jobs.Budget{Daily: 10 * est, Now: onDay("2099-02-05")}}, newRPCLog())

	entered, release := s.provider.hold(req.Prompt)
	defer release()
	first, existing, err := jc.StartWith(ctx, req, jobs.StartOptions{IdempotencyKey: "order-7"})
	if err != nil || existing {
		t.Fatalf("first call: %v, existing %v", err, existing)
	}
	awaitClosed(t, ctx, entered, "the job's provider call")
	again, existing, err := jc.StartWith(ctx, req, jobs.StartOptions{IdempotencyKey: "order-7"})
	if err != nil || !existing || again.ID != first.ID {
		t.Fatalf("retried call: %+v, existing %v, %v; want the first job", again, existing, err)
	}
	st, err := jc.Budget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Reserved != est || st.Reservations != 1 {
		t.Errorf("after a retried call: %s reserved in %d reservations, want one of %s", st.Reserved, st.Reservations, est)
	}
	release()
	if _, done, err := jc.Wait(ctx, first.ID, time.Minute); err != nil || !done {
		t.Fatal(done, err)
	}
	waitBudget(t, jc, "the settlement", func(st jobs.BudgetStatus) bool { return st.Settled == 1 })

	// The key's job has settled: another call with the key reserves, finds
	// the job and releases what it reserved.
	if _, existing, err := jc.StartWith(ctx, req, jobs.StartOptions{IdempotencyKey: "order-7"}); err != nil || !existing {
		t.Fatalf("call after the job ended: existing %v, %v", existing, err)
	}
	st = waitBudget(t, jc, "the release", func(st jobs.BudgetStatus) bool { return st.Released == 1 })
	if st.Reserved != 0 || st.Settled != 1 {
		t.Errorf("after a call for a finished job: %+v, want nothing reserved", st)
	}
}

// retry_job reserves again on today's ledger: refused when the budget does
// not cover it, settled again when it runs.
func TestRetryReservesAgain(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	ctx := within(t)
	req := imagegen.Request{Prompt: "fails, then is retried", Model: "flux-schnell"}
	est := estimate(t, req, 1)
	day := onDay("2099-02-06")
	jc := s.client(t, jobs.Options{Budget: jobs.Budget{Daily: 2*est + est/2, Now: day}}, newRPCLog())

	s.provider.fail(req.Prompt, true)
	job, err := jc.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got, done, err := jc.Wait(ctx, job.ID, time.Minute); err != nil || !done || got.Status != workflows.StatusFailed {
		t.Fatalf("wait = %+v, %v, %v; want failed", got, done, err)
	}
	waitBudget(t, jc, "the failed job's settlement", func(st jobs.BudgetStatus) bool { return st.Settled == 1 })
	s.provider.fail(req.Prompt, false)

	// A server whose limit leaves less than the estimate refuses the retry.
	tight := s.client(t, jobs.Options{Budget: jobs.Budget{Daily: est / 2, Now: day}}, newRPCLog())
	_, err = tight.Retry(ctx, job.ID, "test")
	wantRefusal(t, err, "estimated at "+est.String(), "00:00 UTC")
	if got, err := jc.Get(ctx, job.ID); err != nil || got.Status != workflows.StatusFailed {
		t.Fatalf("after a refused retry the job is %+v, %v; want it still failed", got, err)
	}

	if _, err := jc.Retry(ctx, job.ID, "test"); err != nil {
		t.Fatalf("retry within the budget: %v", err)
	}
	if got, done, err := jc.Wait(ctx, job.ID, time.Minute); err != nil || !done || got.Status != workflows.StatusCompleted {
		t.Fatalf("retried job = %+v, %v, %v; want completed", got, done, err)
	}
	st := waitBudget(t, jc, "the retried run's settlement", func(st jobs.BudgetStatus) bool { return st.Settled == 2 })
	if st.Reserved != 0 || st.Reservations != 0 {
		t.Errorf("after the retry: %+v, want nothing reserved", st)
	}
}
