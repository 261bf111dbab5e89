package app_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
)

// previewDev is a dev service on the offline preview provider, as a new user
// without Cloudflare credentials gets it.
func previewDev(t *testing.T) *stack {
	t.Helper()
	logs := &syncBuffer{}
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AuthToken: testToken, UIPort: -1, MaxWait: 20 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := testkit.Dev(ctx, cfg, logging.New(logs, "json", "debug"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &stack{app: a, cfg: cfg, logs: logs}
}

// The README's offline walk-through: a slow job is canceled, a failing job
// fails, is retried and completes, all without credentials.
func TestFailureAndCancelCanBeTriedOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own dev service; skipped in -short")
	}
	s := previewDev(t)
	c := newStreamableClient(t, s.app.MCPURL, testToken)

	_, out := callTool(t, c, "generate_image", map[string]any{"prompt": "a slow sunrise [delay:10m]"})
	slow := out["job_id"].(string)
	waitFor(t, "the slow job to be generating", func() bool {
		_, st := callTool(t, c, "get_job_status", map[string]any{"job_id": slow})
		return st["status"] == "processing"
	})
	if res, out := callTool(t, c, "cancel_job", map[string]any{"job_id": slow}); res.IsError {
		t.Fatalf("cancel_job: %v", out)
	}
	_, out = callTool(t, c, "wait_for_completion", map[string]any{"job_id": slow})
	if got := out["job"].(map[string]any)["status"]; got != "canceled" {
		t.Fatalf("slow job after cancel: %v, want canceled", got)
	}

	res, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "a stormy sea [fail:quota_exceeded:1]"})
	if !res.IsError {
		t.Fatalf("the failing job did not fail: %v", out)
	}
	failed := out["job"].(map[string]any)
	want := imagegen.KindQuotaExceeded.Explain("the preview provider simulated a quota_exceeded failure, as the prompt's [fail:quota_exceeded:1] asked")
	if failed["status"] != "failed" || failed["error"] != want {
		t.Fatalf("failing job: %v, want failed with %q", failed, want)
	}
	id := failed["job_id"].(string)
	if res, out := callTool(t, c, "retry_job", map[string]any{"job_id": id}); res.IsError {
		t.Fatalf("retry_job: %v", out)
	}
	res, out = callTool(t, c, "wait_for_completion", map[string]any{"job_id": id})
	if res.IsError || out["job"].(map[string]any)["status"] != "completed" {
		t.Fatalf("retried job: %v, want completed", out)
	}
	if created := out["job"].(map[string]any)["created_at"]; created != failed["created_at"] {
		t.Errorf("created_at moved from %v to %v with the retry; it is when the job was first started", failed["created_at"], created)
	}
	runs, err := s.app.Temporal().ListWorkflow(context.Background(), listRuns(id))
	if err != nil || len(runs.GetExecutions()) != 2 {
		t.Fatalf("runs of the retried job: %d (%v), want 2: the failed run and the retry", len(runs.GetExecutions()), err)
	}
}

// The Temporal Web UI lists jobs by their user metadata: the summary is the
// prompt, the details name the model and parameters.
func TestTemporalUIShowsThePromptAndModelOfAJob(t *testing.T) {
	s := sharedDev(t)
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	_, out := callTool(t, c, "generate_image", map[string]any{"prompt": "a lighthouse\nat dusk", "model": "sdxl-base", "width": 768, "height": 512})
	id := out["job_id"].(string)

	desc, err := s.app.Temporal().DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	meta := desc.GetExecutionConfig().GetUserMetadata()
	var summary, details string
	dc := converter.GetDefaultDataConverter()
	if err := dc.FromPayload(meta.GetSummary(), &summary); err != nil {
		t.Fatalf("summary: %v", err)
	}
	if err := dc.FromPayload(meta.GetDetails(), &details); err != nil {
		t.Fatalf("details: %v", err)
	}
	if summary != "a lighthouse at dusk" {
		t.Errorf("summary %q, want the prompt on one line", summary)
	}
	if want := "**model** sdxl-base · **size** 768×512"; details != want {
		t.Errorf("details %q, want %q", details, want)
	}
}
