package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	enumspb "go.temporal.io/api/enums/v1"
	sdkclient "go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workersai/workersaitest"
	"github.com/imagegen/imagegen/workflows"
)

// TestFiftyConcurrentJobsAgainstABudgetForTenStartExactlyTen: 50 MCP
// clients, each on its own connection, call generate_image at once against
// a daily budget of exactly ten estimates (the fake Workers AI prices each
// job like the real flux-schnell). Exactly ten start, forty are refused with
// the budget's message and start nothing, and once the ten finish the
// ledger has spent exactly what they report and holds no reservation.
func TestFiftyConcurrentJobsAgainstABudgetForTenStartExactlyTen(t *testing.T) {
	t.Parallel()
	const calls, fits = 50, 10
	req := imagegen.Request{Prompt: "a budgeted lighthouse", Model: "flux-schnell"}
	est, ok := imagegen.EstimateCost(req.WithDefaults(), 1)
	if !ok || est == 0 {
		t.Fatal("flux-schnell has no estimate")
	}
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	cfg := devConfig(t.TempDir(), fake)
	cfg.DailyBudget = (fits * est).String()
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	a, err := testkit.Dev(ctx, cfg, logging.New(logs, "text", "info"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	clients := make([]*client.Client, calls)
	for i := range clients {
		c, err := testkit.StreamableClient(ctx, a.MCPURL, testToken, fmt.Sprintf("budget-client-%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients[i] = c
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		started  []string
		refusals []string
		others   []string
		gate     = make(chan struct{})
	)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			res, out, err := testkit.CallTool(ctx, c, "generate_image", map[string]any{"prompt": fmt.Sprintf("%s %d", req.Prompt, i), "model": req.Model})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				others = append(others, err.Error())
			case res.IsError:
				if text := fmt.Sprint(out["text"]); strings.Contains(text, "Refused") {
					refusals = append(refusals, text)
				} else {
					others = append(others, text)
				}
			default:
				started = append(started, fmt.Sprint(out["job_id"]))
			}
		}()
	}
	close(gate)
	wg.Wait()
	if len(others) > 0 {
		t.Fatalf("%d calls failed otherwise, first: %s", len(others), others[0])
	}
	if len(started) != fits || len(refusals) != calls-fits {
		t.Fatalf("%d started, %d refused; want exactly %d and %d", len(started), len(refusals), fits, calls-fits)
	}
	for _, r := range refusals {
		for _, want := range []string{"estimated at " + est.String(), "is left of today's budget of " + (fits * est).String(), "resets at 00:00 UTC", "No job was started"} {
			if !strings.Contains(r, want) {
				t.Fatalf("refusal %q does not say %q", r, want)
			}
		}
	}

	// The refused calls started nothing: ten provider calls, ten jobs.
	jc := jobs.New(a.Temporal(), jobs.Options{})
	var spent imagegen.USD
	for _, id := range started {
		job, done, err := jc.Wait(ctx, id, time.Minute)
		if err != nil || !done || job.Status != "completed" || job.Result.Cost == nil || job.Result.Cost.Actual == nil {
			t.Fatalf("job %s: %+v, %v, %v", id, job, done, err)
		}
		spent += *job.Result.Cost.Actual
	}
	if fake.Calls() != fits {
		t.Errorf("the provider was called %d times, want %d", fake.Calls(), fits)
	}

	// get_budget, through an MCP client, once every job has settled.
	var budget map[string]any
	deadline := time.Now().Add(time.Minute)
	for {
		_, budget, err = testkit.CallTool(ctx, clients[0], "get_budget", map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		if budget["settled_jobs"] == float64(fits) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if budget["settled_jobs"] != float64(fits) || budget["running_jobs"] != float64(0) || budget["reserved_usd"] != float64(0) ||
		budget["spent_usd"] != spent.Dollars() || budget["limit_usd"] != (fits*est).Dollars() {
		t.Errorf("get_budget after the ten jobs: %v; want %s spent by %d jobs, nothing reserved", budget, spent, fits)
	}

	// The ledger's history per reservation, measured from the real one.
	events, size := historySize(t, ctx, a.Temporal(), workflows.BudgetLedgerID(workflows.BudgetDay(time.Now())))
	t.Logf("measured: %d concurrent generate_image calls through %d MCP clients against a budget of %s (%d × %s): %d started, %d refused; ledger spent $%v (jobs report %s), reserved %v, settled %v",
		calls, calls, fits*est, fits, est, len(started), len(refusals), budget["spent_usd"], spent, budget["reserved_usd"], budget["settled_jobs"])
	t.Logf("measured: the ledger's history after %d reservations and settlements (and %d refused reservations): %d events, %d bytes, %.1f events and %d bytes per reserve+settle",
		fits, calls-fits, events, size, float64(events)/fits, size/fits)
}

// historySize counts a workflow's events and their encoded bytes.
func historySize(t *testing.T, ctx context.Context, c sdkclient.Client, id string) (events, bytes int) {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
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
