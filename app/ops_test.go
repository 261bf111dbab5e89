package app_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/devserver"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workersai/workersaitest"
	"github.com/imagegen/imagegen/workflows"
)

// ownDev starts a stack of the test's own, for tests that change the fake's
// behaviour for every call or count jobs across the whole namespace.
func ownDev(t *testing.T) *stack {
	t.Helper()
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	s, err := startDev(t.TempDir(), fake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.app.Close() })
	return s
}

func TestRetryJobRerunsAFailedJobUnderTheSameID(t *testing.T) {
	s := sharedDev(t)
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	s.fake.FailNext(1, 401, 10000, "Authentication error")
	res, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "retry me"})
	if !res.IsError {
		t.Fatalf("first run did not fail: %v", out)
	}
	id := out["job"].(map[string]any)["job_id"].(string)

	// The operator fixed the credentials (the fake answers again): retry.
	res, out = callTool(t, c, "retry_job", map[string]any{"job_id": id})
	if res.IsError {
		t.Fatalf("retry_job: %v", out)
	}
	res, out = callTool(t, c, "wait_for_completion", map[string]any{"job_id": id})
	if res.IsError || out["job"].(map[string]any)["status"] != "completed" {
		t.Fatalf("after retry: %v", out)
	}
	// One job, listed once, no longer among the failed ones.
	waitFor(t, "retried job to leave the failed list", func() bool {
		_, failed := callTool(t, c, "list_jobs", map[string]any{"status": "failed", "limit": 50})
		_, all := callTool(t, c, "list_jobs", map[string]any{"limit": 50})
		return !containsJob(failed["jobs"], id) && countJob(all["jobs"], id) == 1
	})
	// The failed attempt's history is still there: two runs of one workflow.
	runs, err := s.app.Temporal().ListWorkflow(context.Background(), listRuns(id))
	if err != nil || len(runs.GetExecutions()) != 2 {
		t.Errorf("runs of %s: %d (%v), want 2 (the failed one kept)", id, len(runs.GetExecutions()), err)
	}

	for _, tc := range []struct{ name, want string }{{"completed", "already completed"}} {
		res, out := callTool(t, c, "retry_job", map[string]any{"job_id": id})
		if !res.IsError || !strings.Contains(out["text"].(string), tc.want) {
			t.Errorf("retry of a %s job: %v", tc.name, out)
		}
	}
}

func TestRetryAndCancelRefuseJobsInTheWrongState(t *testing.T) {
	s := ownDev(t)
	s.fake.SetDelay(30 * time.Second)
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	_, started := callTool(t, c, "generate_image", map[string]any{"prompt": "still running"})
	id := started["job_id"].(string)
	res, out := callTool(t, c, "retry_job", map[string]any{"job_id": id})
	if !res.IsError || !strings.Contains(out["text"].(string), "still") {
		t.Errorf("retry of a running job: %v", out)
	}
	callTool(t, c, "cancel_job", map[string]any{"job_id": id})
	callTool(t, c, "wait_for_completion", map[string]any{"job_id": id})
	res, out = callTool(t, c, "cancel_job", map[string]any{"job_id": id})
	if !res.IsError || !strings.Contains(out["text"].(string), "already canceled") {
		t.Errorf("cancel of a canceled job: %v", out)
	}
	res, out = callTool(t, c, "get_job_status", map[string]any{"job_id": "00000000-0000-4000-8000-000000000000"})
	if !res.IsError || !strings.Contains(out["text"].(string), "no job with that job_id") {
		t.Errorf("unknown job: %v", out)
	}
}

func TestCancelJobAbandonsTheProviderCallAndStoresNothing(t *testing.T) {
	s := ownDev(t)
	s.fake.SetDelay(time.Minute)
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	_, started := callTool(t, c, "generate_image", map[string]any{"prompt": "never mind", "model": "sdxl-base"})
	id := started["job_id"].(string)
	waitFor(t, "the provider call to start", func() bool { return s.fake.Calls() == 1 })

	res, out := callTool(t, c, "cancel_job", map[string]any{"job_id": id})
	if res.IsError {
		t.Fatalf("cancel_job: %v", out)
	}
	res, out = callTool(t, c, "wait_for_completion", map[string]any{"job_id": id})
	if !res.IsError || out["job"].(map[string]any)["status"] != "canceled" {
		t.Fatalf("wait after cancel: %v", out)
	}
	waitFor(t, "canceled job in list_jobs", func() bool {
		_, l := callTool(t, c, "list_jobs", map[string]any{"status": "canceled"})
		return containsJob(l["jobs"], id)
	})
	// The provider call ends in an error (abandoned) long before the fake's
	// one-minute answer; the metric records it.
	waitForLong(t, "the provider call to be abandoned", 40*time.Second, func() bool {
		return counterValue(t, scrape(t, s), "imagegen_provider_duration_seconds", map[string]string{"model": "sdxl-base", "outcome": "error"}) == 1
	})
	if files := imagesIn(t, s.cfg.DataDir); len(files) != 0 {
		t.Errorf("a canceled job stored %v", files)
	}
	if got := counterValue(t, scrape(t, s), "imagegen_jobs_finished_total", map[string]string{"model": "sdxl-base", "status": "canceled"}); got != 1 {
		t.Errorf("jobs_finished canceled = %v, want 1", got)
	}
}

func TestRetryFailedRetriesExactlyTheFailedJobs(t *testing.T) {
	s := ownDev(t)
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	var failed []string
	for _, prompt := range []string{"fail one", "fail two"} {
		s.fake.FailNext(1, 400, 5006, "Bad input")
		_, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": prompt})
		failed = append(failed, out["job"].(map[string]any)["job_id"].(string))
	}
	_, ok := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "fine"})
	okID := ok["job"].(map[string]any)["job_id"].(string)

	jc := jobs.New(s.app.Temporal(), jobs.Options{})
	var retried []jobs.Job
	waitFor(t, "failed jobs in visibility", func() bool {
		dry, err := jc.RetryFailed(context.Background(), jobs.RetryFailedOptions{DryRun: true})
		return err == nil && len(dry) == 2
	})
	retried, err := jc.RetryFailed(context.Background(), jobs.RetryFailedOptions{Since: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, j := range retried {
		got[j.ID] = true
	}
	if len(got) != 2 || !got[failed[0]] || !got[failed[1]] || got[okID] {
		t.Fatalf("retried %v, want exactly %v", got, failed)
	}
	for _, id := range failed {
		if _, out := callTool(t, c, "wait_for_completion", map[string]any{"job_id": id}); out["job"].(map[string]any)["status"] != "completed" {
			t.Errorf("retried job %s: %v", id, out)
		}
	}
	if again, err := jc.RetryFailed(context.Background(), jobs.RetryFailedOptions{DryRun: true}); err != nil || len(again) != 0 {
		t.Errorf("after retrying, still failed: %d (%v)", len(again), err)
	}
}

func TestMetricsDescribeJobsProviderStorageAndTools(t *testing.T) {
	s := ownDev(t)
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	s.fake.FailNext(1, 429, 3040, "Capacity temporarily exceeded")
	callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "metrics", "model": "sdxl-lightning"})
	callTool(t, c, "list_jobs", map[string]any{"status": "bogus"})

	families := scrape(t, s)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"imagegen_jobs_started_total", map[string]string{"model": "sdxl-lightning"}, 1},
		{"imagegen_jobs_finished_total", map[string]string{"model": "sdxl-lightning", "status": "completed"}, 1},
		{"imagegen_provider_errors_total", map[string]string{"model": "sdxl-lightning", "kind": "capacity", "code": "3040"}, 1},
		{"imagegen_provider_duration_seconds", map[string]string{"model": "sdxl-lightning", "outcome": "ok"}, 1},
		{"imagegen_activity_retries_total", map[string]string{"activity": "generate"}, 1},
		{"imagegen_storage_duration_seconds", map[string]string{"outcome": "ok"}, 1},
		{"imagegen_mcp_tool_calls_total", map[string]string{"tool": "generate_image_and_wait", "outcome": "ok"}, 1},
		{"imagegen_mcp_tool_calls_total", map[string]string{"tool": "list_jobs", "outcome": "tool_error"}, 1},
		{"imagegen_waiters_in_flight", nil, 0},
	} {
		if got := counterValue(t, families, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	body := get200(t, "http://"+s.app.Addr+"/metrics")
	if strings.Contains(body, testToken) || strings.Contains(body, s.fake.APIToken) {
		t.Error("metrics leak a secret")
	}
}

func TestReadinessFlipsWithStorageAndTemporal(t *testing.T) {
	// Serve against an embedded Temporal we can stop and start.
	dir := t.TempDir()
	ctx := context.Background()
	dev, err := devserver.Start(ctx, devserver.Options{DataDir: filepath.Join(dir, "temporal"), UIPort: -1, SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	port := dev.FrontendAddress()[strings.LastIndex(dev.FrontendAddress(), ":")+1:]
	a, err := testkit.Serve(ctx, config.Config{Addr: "127.0.0.1:0", DataDir: dir, TemporalAddress: dev.FrontendAddress()}, logging.New(io.Discard, "text", "error"))
	if err != nil {
		dev.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ready := func() (int, string) {
		resp, err := http.Get("http://" + a.Addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := ready(); code != 200 {
		t.Fatalf("ready at start: %d %s", code, body)
	}

	images := filepath.Join(dir, "images")
	if err := os.Rename(images, images+".away"); err != nil {
		t.Fatal(err)
	}
	if code, body := ready(); code != 503 || !strings.Contains(body, `"storage":"unavailable"`) || strings.Contains(body, dir) {
		t.Errorf("storage gone: %d %s", code, body)
	}
	os.Rename(images+".away", images)

	dev.Stop()
	if code, body := ready(); code != 503 || !strings.Contains(body, `"temporal":"unavailable"`) {
		t.Errorf("temporal down: %d %s", code, body)
	}
	if code, _ := http.Get("http://" + a.Addr + "/healthz"); code == nil || code.StatusCode != 200 {
		t.Error("healthz must stay up while a dependency is down")
	}
	p := 0
	for _, ch := range port {
		p = p*10 + int(ch-'0')
	}
	dev2, err := devserver.Start(ctx, devserver.Options{DataDir: filepath.Join(dir, "temporal"), Port: p, UIPort: -1, SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev2.Stop() })
	waitForLong(t, "ready again", 30*time.Second, func() bool { code, _ := ready(); return code == 200 })
}

func scrape(t *testing.T, s *stack) map[string]*dto.MetricFamily {
	t.Helper()
	body := get200(t, "http://"+s.app.Addr+"/metrics")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return families
}

// counterValue returns a counter's or gauge's value, or a histogram's sample
// count, for the series with these labels; -1 when there is none.
func counterValue(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f, ok := families[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func get200(t *testing.T, url string) string {
	t.Helper()
	code, _, body := get(t, url)
	if code != 200 {
		t.Fatalf("GET %s: %d", url, code)
	}
	return string(body)
}

func imagesIn(t *testing.T, dataDir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(filepath.Join(dataDir, "images"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

func countJob(list any, id string) int {
	n := 0
	items, _ := list.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["job_id"] == id {
			n++
		}
	}
	return n
}

func waitForLong(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func listRuns(id string) *workflowservice.ListWorkflowExecutionsRequest {
	return &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: "WorkflowId = '" + id + "'"}
}
