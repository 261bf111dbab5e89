package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// budgetHeldAcrossServes: two `imagegen serve` processes of one namespace,
// both with a daily budget of exactly fits flux-schnell estimates, take
// calls concurrent generate_image calls, each from an MCP client of its own,
// half on each. The day's ledger is one workflow both serves reserve on
// (update-with-start), so exactly fits jobs start in all, the rest are
// refused with the budget's message and start nothing, and once the jobs
// have finished `imagegen budget --json` shows the ledger spent exactly what
// the jobs report and holding no reservation, and the namespace holds the
// started jobs and that one ledger, nothing else.
func budgetHeldAcrossServes(t *testing.T, s *stack) {
	const calls, fits = 30, 8
	est, ok := imagegen.EstimateCost(imagegen.Request{Prompt: "p", Model: model}.WithDefaults(), 1)
	if !ok || est == 0 {
		t.Fatalf("%s has no estimate", model)
	}
	limit := fits * est
	s.extra["IMAGEGEN_DAILY_BUDGET_USD"] = limit.String()
	serves := []*service{s.serve("serve 1"), s.serve("serve 2")}
	s.worker("worker")

	type outcome struct {
		serve   int
		c       *client.Client
		job     job
		refusal string
		other   string
	}
	outcomes := make([]outcome, calls)
	for i := range outcomes {
		outcomes[i].serve = i % len(serves)
		outcomes[i].c = newClient(t, serves[i%len(serves)].mcpURL)
	}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range outcomes {
		o := &outcomes[i]
		wg.Go(func() {
			<-gate
			prompt := fmt.Sprintf("budget %d: a lighthouse on a cliff", i)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, out, err := call(ctx, o.c, "generate_image", map[string]any{"prompt": prompt, "model": model})
			text, _ := out["text"].(string)
			id, _ := out["job_id"].(string)
			switch {
			case err != nil:
				o.other = err.Error()
			case res.IsError && strings.Contains(text, "Refused"):
				o.refusal = text
			case res.IsError || id == "":
				o.other = fmt.Sprint(out)
			default:
				o.job = job{id: id, prompt: prompt}
			}
		})
	}
	close(gate)
	wg.Wait()

	var started, refused int
	perServe := make([]int, len(serves))
	for _, o := range outcomes {
		switch {
		case o.other != "":
			t.Fatalf("a generate_image call on serve %d failed otherwise than by the budget: %s", o.serve+1, o.other)
		case o.refusal != "":
			refused++
			for _, want := range []string{"estimated at " + est.String(), "is left of today's budget of " + limit.String(), "resets at 00:00 UTC", "No job was started"} {
				if !strings.Contains(o.refusal, want) {
					t.Errorf("refusal %q does not say %q", o.refusal, want)
				}
			}
		default:
			started++
			perServe[o.serve]++
		}
	}
	if started != fits || refused != calls-fits {
		t.Fatalf("%d calls on %d serves against a budget for %d: %d started (per serve %v), %d refused; want exactly %d and %d",
			calls, len(serves), fits, started, perServe, refused, fits, calls-fits)
	}

	// The started jobs complete and report what they cost; the refused
	// calls started nothing, so the provider was called once per started job.
	var (
		spent imagegen.USD
		ran   []job
	)
	want := s.fake.Image(model)
	for _, o := range outcomes {
		if o.job.id == "" {
			continue
		}
		ran = append(ran, o.job)
		view := waitCompletedView(t, o.c, o.job, recoverWithin)
		url, _ := view["image_url"].(string)
		checkImage(t, url, want)
		cost, _ := view["cost"].(map[string]any)
		actual, _ := cost["actual"].(string)
		a, err := imagegen.ParseUSD(actual)
		if err != nil || a == 0 {
			t.Fatalf("job %s reports actual cost %q (%v): %+v", o.job.id, actual, err, cost)
		}
		spent += a
	}
	if n := s.fake.Calls(); n != fits {
		t.Errorf("the provider was called %d times for %d started jobs, want one call each", n, fits)
	}

	// The ledger, read as an operator reads it. A job waits until its
	// settlement is recorded before it completes; the loop only gives the
	// query time to see the ledger's last workflow task.
	var st jobs.BudgetStatus
	deadline := time.Now().Add(time.Minute)
	for {
		st = budgetJSON(t, s)
		if (st.Settled == fits && st.Reservations == 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("measured: %d concurrent generate_image calls on %d serves (per serve %d) against a shared daily budget of %s (%d × %s): %d started (per serve %v), %d refused; ledger spent %s by %d settled jobs (the jobs report %s), reserved %s by %d, released %d",
		calls, len(serves), calls/len(serves), limit, fits, est, started, perServe, refused, st.Spent, st.Settled, spent, st.Reserved, st.Reservations, st.Released)
	if st.Limit != limit || st.Spent != spent || st.Reserved != 0 || st.Reservations != 0 || st.Settled != fits || st.Released != 0 {
		t.Errorf("imagegen budget after the %d jobs: %+v; want limit %s, %s spent by %d settled jobs, nothing reserved or released", fits, st, limit, spent, fits)
	}
	// The namespace holds the started jobs and the day's one ledger, both
	// serves' reservations in it: no refused call started a workflow.
	s.checkOneWorkflowPerJob(t, ran, workflows.BudgetLedgerID(st.Day))
}

// budgetJSON runs `imagegen budget --json` against the stack's namespace
// with the stack's environment (so with its daily budget).
func budgetJSON(t testing.TB, s *stack) jobs.BudgetStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bins.imagegen, "budget", "--json")
	cmd.Env = hermeticEnv(s.env("127.0.0.1:0"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("imagegen budget --json: %v\n%s", err, stderr.String())
	}
	var st jobs.BudgetStatus
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("imagegen budget --json printed %q: %v", out, err)
	}
	return st
}
