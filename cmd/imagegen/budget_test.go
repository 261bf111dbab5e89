package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// TestBudgetCommand runs a paid job (against the fake Workers AI) on a dev
// stack with a daily budget and reads the day's ledger with the CLI.
func TestBudgetCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	dataDir := t.TempDir()
	a, err := testkit.Dev(ctx, config.Config{Addr: "127.0.0.1:0", DataDir: dataDir, UIPort: -1, DailyBudget: "1",
		CloudflareAccountID: fake.AccountID, CloudflareAPIToken: fake.APIToken, CloudflareBaseURL: fake.URL}, logging.New(io.Discard, "text", "error"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	getenv := env(map[string]string{"TEMPORAL_ADDRESS": a.TemporalAddress, "IMAGEGEN_DATA_DIR": dataDir, "IMAGEGEN_DAILY_BUDGET_USD": "1"})
	cli := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(ctx, append([]string{"budget"}, args...), getenv, strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("imagegen budget %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String()
	}
	// Before any job: no ledger yet, nothing spent.
	if out := cli(); !strings.Contains(out, "$1.00") || !strings.Contains(out, "$0.00 by 0 settled job(s)") {
		t.Errorf("budget before any job:\n%s", out)
	}

	opts, err := config.Config{TemporalAddress: a.TemporalAddress, TemporalAPIKey: a.TemporalAPIKey(), DailyBudget: "1"}.Defaults().Options(logging.New(io.Discard, "text", "error"))
	if err != nil {
		t.Fatal(err)
	}
	jc, closeJC, err := app.ConnectJobs(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer closeJC()
	started, err := jc.Start(ctx, imagegen.Request{Prompt: "a paid lighthouse", Model: "flux-schnell"})
	if err != nil {
		t.Fatal(err)
	}
	done, ok, err := jc.Wait(ctx, started.ID, time.Minute)
	if err != nil || !ok || done.Result == nil || done.Result.Cost == nil || done.Result.Cost.Actual == nil {
		t.Fatalf("job: %+v, %v, %v", done, ok, err)
	}
	job := *done.Result.Cost.Actual
	var st jobs.BudgetStatus
	deadline := time.Now().Add(time.Minute)
	for {
		if err := json.Unmarshal([]byte(cli("--json")), &st); err != nil {
			t.Fatal(err)
		}
		if st.Settled == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Settled != 1 || st.Spent != job || st.Spent == 0 || st.Left != imagegen.Dollar-job || len(st.ByModel) != 1 {
		t.Fatalf("budget --json after one job of %s: %+v", job, st)
	}
	out := cli()
	t.Logf("imagegen budget:\n%s", out)
	for _, want := range []string{"limit", "$1.00", "spent", job.String() + " by 1 settled job(s)", "left", "MODEL", "flux-schnell", "resets at 00:00 UTC"} {
		if !strings.Contains(out, want) {
			t.Errorf("budget table lacks %q:\n%s", want, out)
		}
	}
}
