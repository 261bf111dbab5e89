package workflows_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image"
	"image/png"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/google/uuid"
	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/devserver"
	"github.com/imagegen/imagegen/imagefetch"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workersai"
	"github.com/imagegen/imagegen/workersai/workersaitest"
	"github.com/imagegen/imagegen/workflows"
)

var recordHistories = flag.Bool("record", false, "re-record the saved workflow histories in testdata (TestRecordHistories)")

// TestRecordHistories re-records the histories TestReplaySavedHistories
// replays, by running each scenario on the real embedded Temporal server
// (devserver) with the real activities, the Workers AI client and its fake:
//
//	go test ./workflows -run TestRecordHistories -record
//
// Re-record after a deliberate change of the workflow's commands, and keep
// the old files that still matter as history_legacy_*.json: running jobs
// were started by the old code. history_completed.json and
// history_failed.json are such legacy files (recorded before inputs carried
// a plan and before n > 1) and are never overwritten.
func TestRecordHistories(t *testing.T) {
	if !*recordHistories {
		t.Skip("records histories only with -record: go test ./workflows -run TestRecordHistories -record")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, fake, provider := startTemporal(t, ctx)

	// Scripted faults, by prompt.
	const (
		promptOneFails = "three images, one fails"
		promptCancel   = "canceled while generating"
		promptQuota    = "the daily quota is used up"
	)
	fake.SetPromptFailFunc(func(model, prompt string, call int) *workersaitest.Failure {
		switch {
		case prompt == promptOneFails && call == 2:
			return &workersaitest.Failure{Status: 400, Code: 5006, Message: "AiError: Bad input: Type mismatch of '/prompt'"}
		case prompt == promptCancel:
			return &workersaitest.Failure{Status: 200, ContentType: "image/png", Body: fake.Image("sdxl-lightning"), Stall: time.Hour}
		case prompt == promptQuota:
			return &workersaitest.Failure{Status: 429, Code: 4006, Message: "you have used up your daily free allocation of 10,000 neurons"}
		}
		return nil
	})

	start := func(t *testing.T, in workflows.Input) client.WorkflowRun {
		t.Helper()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: uuid.NewString(), TaskQueue: workflows.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.StatusKey.ValueSet(string(workflows.StatusPending))),
		}, workflows.WorkflowName, in)
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	history := func(t *testing.T, run client.WorkflowRun) *historypb.History {
		t.Helper()
		it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		hist := &historypb.History{}
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			hist.Events = append(hist.Events, ev)
		}
		return hist
	}
	save := func(t *testing.T, name string, run client.WorkflowRun) {
		t.Helper()
		hist := history(t, run)
		b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(hist)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", name), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %s: %d events", name, len(hist.Events))
	}
	wantStatus := func(t *testing.T, run client.WorkflowRun, want workflows.Status) {
		t.Helper()
		v, err := c.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.QueryState)
		if err != nil {
			t.Fatal(err)
		}
		var rec workflows.Record
		if err := v.Get(&rec); err != nil {
			t.Fatal(err)
		}
		if rec.Status != want {
			t.Fatalf("job ended %s (%s), want %s", rec.Status, rec.Error, want)
		}
	}
	input := func(t *testing.T, prompt, model string, n int) workflows.Input {
		t.Helper()
		in, err := workflows.NewInput(imagegen.Request{Prompt: prompt, Model: model}, n)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}

	t.Run("n=1 completed", func(t *testing.T) {
		w := startWorkers(t, c, provider, true)
		defer w.stop()
		run := start(t, input(t, "a lighthouse at dawn", "flux-schnell", 1))
		if err := run.Get(ctx, nil); err != nil {
			t.Fatal(err)
		}
		save(t, "history_n1_completed.json", run)
	})
	t.Run("n=3 with one failed image", func(t *testing.T) {
		w := startWorkers(t, c, provider, true)
		defer w.stop()
		run := start(t, input(t, promptOneFails, "sdxl-lightning", 3))
		var res workflows.Result
		if err := run.Get(ctx, &res); err != nil || res.Failed != 1 || len(res.Images) != 2 {
			t.Fatalf("result %+v, %v; want 2 images and 1 failure", res, err)
		}
		save(t, "history_n3_one_failed.json", run)
	})
	t.Run("canceled while generating", func(t *testing.T) {
		w := startWorkers(t, c, provider, true)
		defer w.stop()
		run := start(t, input(t, promptCancel, "sdxl-lightning", 1))
		waitFor(t, ctx, "the provider call", func() bool { return fake.CallsForPrompt(promptCancel) > 0 })
		if err := c.CancelWorkflow(ctx, run.GetID(), run.GetRunID()); err != nil {
			t.Fatal(err)
		}
		var canceled *temporal.CanceledError
		if err := run.Get(ctx, nil); !errors.As(err, &canceled) {
			t.Fatalf("workflow ended with %v, want canceled", err)
		}
		save(t, "history_canceled_while_generating.json", run)
	})
	t.Run("staged image lost and regenerated", func(t *testing.T) {
		// The store worker starts only after the staged image is wiped, as if
		// the worker that staged it lost its disk.
		w := startWorkers(t, c, provider, false)
		defer w.stop()
		run := start(t, input(t, "a staged image that gets lost", "flux-schnell", 1))
		waitFor(t, ctx, "the staged image", func() bool {
			meta, _ := filepath.Glob(filepath.Join(w.stagingDir, "*.json"))
			return len(meta) > 0
		})
		files, _ := filepath.Glob(filepath.Join(w.stagingDir, "*_*"))
		for _, f := range files {
			os.Remove(f)
		}
		w.startStore(t)
		if err := run.Get(ctx, nil); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, run, workflows.StatusCompleted)
		save(t, "history_staged_image_lost.json", run)
	})
	t.Run("unknown model", func(t *testing.T) {
		// The start path refuses unknown models; a start that bypasses it
		// (no plan) fails in the workflow.
		w := startWorkers(t, c, provider, true)
		defer w.stop()
		run := start(t, workflows.Input{Request: imagegen.Request{Prompt: "x", Model: "dall-e"}})
		if err := run.Get(ctx, nil); err == nil {
			t.Fatal("a job of an unknown model completed")
		}
		save(t, "history_unknown_model.json", run)
	})
	t.Run("edit of a job's image and a URL", func(t *testing.T) {
		// Two images (FetchInputs runs once for both) from a 1 MiB earlier
		// image in the store and a URL on a loopback site the fetcher is
		// allowed to reach. The history must stay free of their bytes.
		source, photo := noisePNG(t, 600, 600), noisePNG(t, 64, 48)
		site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Write(photo)
		}))
		defer site.Close()
		store := newMemStore()
		w := startWorkers(t, c, provider, true, func(a *activities.Activities) {
			a.ImageStore = store
			a.Fetcher = imagefetch.New(imagefetch.Options{Policy: imagefetch.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})
		})
		defer w.stop()
		const sourceJob = "0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d"
		sourceKey := "2026/12/01/" + sourceJob + ".png"
		if err := store.Put(ctx, sourceKey, source, "image/png"); err != nil {
			t.Fatal(err)
		}
		in := input(t, "the same lighthouse in snow", "flux-2-klein-4b", 2)
		in.Request.Inputs = []string{"images://" + sourceJob, site.URL + "/photo.png"}
		in.Inputs = []workflows.InputSource{{Ref: in.Request.Inputs[0], Key: sourceKey}, {Ref: in.Request.Inputs[1]}}
		run := start(t, in)
		var res workflows.Result
		if err := run.Get(ctx, &res); err != nil || len(res.Images) != 2 {
			t.Fatalf("edit: %+v, %v", res, err)
		}
		hist := history(t, run)
		size := proto.Size(hist)
		t.Logf("history of an edit with a %d-byte input image: %d bytes", len(source), size)
		if len(source) < 1<<20 || size > 64<<10 {
			t.Fatalf("history of an edit is %d bytes with a %d-byte input: image bytes in it?", size, len(source))
		}
		save(t, "history_edit_completed.json", run)
	})
	t.Run("edit whose input is gone", func(t *testing.T) {
		w := startWorkers(t, c, provider, true)
		defer w.stop()
		in := input(t, "an edit of a deleted image", "flux-2-klein-4b", 1)
		in.Request.Inputs = []string{"images://0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d"}
		in.Inputs = []workflows.InputSource{{Ref: in.Request.Inputs[0], Key: "2026/12/01/0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d.png"}}
		run := start(t, in)
		if err := run.Get(ctx, nil); err == nil {
			t.Fatal("an edit of a missing image completed")
		}
		wantStatus(t, run, workflows.StatusFailed)
		save(t, "history_edit_input_gone.json", run)
	})
	t.Run("provider failure", func(t *testing.T) {
		w := startWorkers(t, c, provider, true)
		defer w.stop()
		run := start(t, input(t, promptQuota, "flux-schnell", 1))
		if err := run.Get(ctx, nil); err == nil {
			t.Fatal("a job over quota completed")
		}
		wantStatus(t, run, workflows.StatusFailed)
		save(t, "history_provider_failure.json", run)
	})

	// The budget ledger: one run that continues as new, and the next run,
	// which releases an orphan reservation and ends (its day is over).
	currentRun := func(t *testing.T, id string) client.WorkflowRun {
		t.Helper()
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		return c.GetWorkflow(ctx, id, d.GetWorkflowExecutionInfo().GetExecution().GetRunId())
	}
	ledgerView := func(t *testing.T, id string) workflows.BudgetView {
		t.Helper()
		v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryBudget)
		if err != nil {
			t.Fatal(err)
		}
		var out workflows.BudgetView
		if err := v.Get(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	const cent = imagegen.Dollar / 100
	t.Run("budget ledger continued as new", func(t *testing.T) {
		w := startWorkers(t, c, provider, true)
		defer w.stop()
		in := workflows.BudgetInput{Day: "2026-11-30", MaxMessages: 4, OrphanGrace: time.Second}
		id := workflows.BudgetLedgerID(in.Day)
		reserve := func(job string, amount imagegen.USD) error {
			_, err := jobs.ReserveOnLedger(ctx, c, in, workflows.ReserveRequest{JobID: job, Model: "flux-schnell", Amount: amount, Limit: 10 * cent})
			return err
		}
		settle := func(job string, actual imagegen.USD) {
			if err := c.SignalWorkflow(ctx, id, "", workflows.SignalSettle, workflows.SettleRequest{JobID: job, Model: "flux-schnell", Actual: actual}); err != nil {
				t.Fatal(err)
			}
		}
		for _, job := range []string{"job-a", "job-b", "job-c"} {
			if err := reserve(job, 3*cent); err != nil {
				t.Fatal(err)
			}
		}
		first := currentRun(t, id)
		if err := reserve("job-d", 2*cent); err == nil {
			t.Fatal("a reservation over the budget was accepted")
		}
		settle("job-a", 3*cent) // the fourth message: the run continues as new
		var cont *workflow.ContinueAsNewError
		if err := first.GetWithOptions(ctx, nil, client.WorkflowRunGetOptions{DisableFollowingRuns: true}); !errors.As(err, &cont) {
			t.Fatalf("first run ended with %v, want continue-as-new", err)
		}
		save(t, "history_budget_ledger_continued.json", first)

		second := currentRun(t, id)
		if err := reserve("job-never-started", 1*cent); err != nil {
			t.Fatal(err)
		}
		settle("job-b", 2*cent)
		settle("job-c", 0) // failed without a paid call
		var end workflows.BudgetView
		if err := second.Get(ctx, &end); err != nil {
			t.Fatal(err)
		}
		if end.Spent != 5*cent || end.Settled != 3 || end.Released != 1 || end.Reservations != 0 || end.Runs != 1 {
			t.Fatalf("ledger ended as %+v", end)
		}
		save(t, "history_budget_ledger_ended.json", second)
	})
	t.Run("budgeted job settles", func(t *testing.T) {
		w := startWorkers(t, c, provider, true)
		defer w.stop()
		ledger := workflows.BudgetInput{Day: "2099-12-31"}
		id := workflows.BudgetLedgerID(ledger.Day)
		budgeted := func(t *testing.T, prompt string) (workflows.Input, string) {
			job := uuid.NewString()
			in := input(t, prompt, "flux-schnell", 1)
			r, err := jobs.ReserveOnLedger(ctx, c, ledger, workflows.ReserveRequest{JobID: job, Model: "flux-schnell", Amount: *in.Plan.Cost.Estimate, Limit: imagegen.Dollar})
			if err != nil {
				t.Fatal(err)
			}
			in.Budget = &workflows.BudgetReservation{Ledger: id, Amount: r.Amount}
			return in, job
		}
		startAs := func(t *testing.T, job string, in workflows.Input) client.WorkflowRun {
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID: job, TaskQueue: workflows.TaskQueue,
				TypedSearchAttributes: temporal.NewSearchAttributes(workflows.StatusKey.ValueSet(string(workflows.StatusPending))),
			}, workflows.WorkflowName, in)
			if err != nil {
				t.Fatal(err)
			}
			return run
		}
		in, job := budgeted(t, "a budgeted lighthouse")
		run := startAs(t, job, in)
		var res workflows.Result
		if err := run.Get(ctx, &res); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, "the settlement", func() bool { return ledgerView(t, id).Settled == 1 })
		if v := ledgerView(t, id); v.Spent != *res.Cost.Actual || v.Reservations != 0 {
			t.Fatalf("ledger %+v after a job that cost %s", v, *res.Cost.Actual)
		}
		save(t, "history_budget_job_completed.json", run)

		in, job = budgeted(t, promptCancel)
		run = startAs(t, job, in)
		waitFor(t, ctx, "the provider call", func() bool { return fake.CallsForPrompt(promptCancel) > 0 })
		if err := c.CancelWorkflow(ctx, job, ""); err != nil {
			t.Fatal(err)
		}
		var canceled *temporal.CanceledError
		if err := run.Get(ctx, nil); !errors.As(err, &canceled) {
			t.Fatalf("workflow ended with %v, want canceled", err)
		}
		waitFor(t, ctx, "the canceled job's settlement", func() bool { return ledgerView(t, id).Settled == 2 })
		save(t, "history_budget_job_canceled.json", run)
	})
}

// recordWorkers are a worker's two Temporal workers, as the service runs
// them: the main queue (workflow and Generate) and the staging area's own
// queue (Store).
// startTemporal starts the real embedded Temporal server (devserver) and
// the Workers AI fake, and returns a client of the one and the Workers AI
// client of the other; all are stopped when t ends.
func startTemporal(t *testing.T, ctx context.Context) (client.Client, *workersaitest.Server, *workersai.Client) {
	t.Helper()
	srv, err := devserver.Start(ctx, devserver.Options{UIPort: -1, SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	opts := srv.ClientOptions()
	opts.Logger = sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	c, err := client.Dial(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	provider, err := workersai.New(fake.Config())
	if err != nil {
		t.Fatal(err)
	}
	return c, fake, provider
}

type recordWorkers struct {
	c          client.Client
	acts       *activities.Activities
	stagingDir string
	workers    []worker.Worker
}

// startWorkers starts a worker's queues with the real activities; each
// configure, if any, changes the activities first.
func startWorkers(t *testing.T, c client.Client, p activities.Provider, withStore bool, configure ...func(*activities.Activities)) *recordWorkers {
	t.Helper()
	dir := t.TempDir()
	staging, err := activities.OpenStaging(dir, "imagegen-store")
	if err != nil {
		t.Fatal(err)
	}
	r := &recordWorkers{c: c, stagingDir: dir, acts: &activities.Activities{
		Provider: p, ImageStore: newMemStore(), ProviderName: "workersai", Staging: staging, HeartbeatEvery: 200 * time.Millisecond,
	}}
	for _, f := range configure {
		f(r.acts)
	}
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	workflows.Register(w)
	w.RegisterActivity(r.acts)
	w.RegisterActivity(&activities.Ledger{Temporal: c})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	r.workers = append(r.workers, w)
	if withStore {
		r.startStore(t)
	}
	return r
}

func (r *recordWorkers) startStore(t *testing.T) {
	t.Helper()
	w := worker.New(r.c, r.acts.Staging.Queue(), worker.Options{})
	w.RegisterActivity(r.acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	r.workers = append(r.workers, w)
}

func (r *recordWorkers) stop() {
	for _, w := range r.workers {
		w.Stop()
	}
}

// waitFor waits until cond holds, checking every 20 ms, or fails when ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// noisePNG is an opaque PNG of random pixels: it does not compress, so it
// is about w×h×3 bytes.
func noisePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(r.Uint32()), uint8(r.Uint32()), uint8(r.Uint32()), 255
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
