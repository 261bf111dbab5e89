package mcpserver_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/mcpserver"
	"github.com/imagegen/imagegen/workflows"
)

const costJobID = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"

func usdp(v imagegen.USD) *imagegen.USD { return &v }

func statusCost(t *testing.T, c *client.Client) *mcpserver.CostView {
	t.Helper()
	res := call(t, c, "get_job_status", map[string]any{"job_id": costJobID})
	if res.IsError {
		t.Fatalf("get_job_status: %s", text(res))
	}
	var v mcpserver.JobView
	if err := json.Unmarshal([]byte(text(res)), &v); err != nil {
		t.Fatal(err)
	}
	return v.Cost
}

func TestGetJobStatusShowsTheEstimateWhileRunningAndTheCostWhenDone(t *testing.T) {
	running := jobs.Job{ID: costJobID, Status: workflows.StatusProcessing, Model: "flux-schnell", CreatedAt: time.Now(),
		Cost: &workflows.Cost{Estimate: usdp(633_600)}}
	done := running
	done.Status = workflows.StatusCompleted
	done.Result = &workflows.Result{ImageURL: "https://images.test/a.jpg", Provider: "workersai"}
	done.Cost = &workflows.Cost{Estimate: usdp(633_600), Actual: usdp(1_267_200), PaidCalls: 2, PaidWithoutImage: 1}
	unpriced := done
	unpriced.Model = "sdxl-lightning"
	unpriced.Cost = &workflows.Cost{PaidCalls: 1}
	preview := done
	preview.Result = &workflows.Result{ImageURL: "https://images.test/a.png", Provider: "preview", Placeholder: true}
	preview.Cost = &workflows.Cost{Estimate: usdp(633_600), Actual: usdp(0), Preview: true}
	old := done
	old.Cost = nil

	tests := []struct {
		name string
		job  jobs.Job
		want *mcpserver.CostView
	}{
		{"running: the estimate", running, &mcpserver.CostView{Estimate: "$0.0006336",
			Summary: "estimated $0.0006336 at the published price; the actual cost is known when the job has finished"}},
		{"done: the actual cost, retries included", done, &mcpserver.CostView{Estimate: "$0.0006336", Actual: "$0.0012672", PaidCalls: 2, PaidCallsWithoutImage: 1,
			Summary: "$0.0012672 for 2 paid provider calls, 1 of them without an image; estimated $0.0006336"}},
		{"no published price: unknown, never 0", unpriced, &mcpserver.CostView{Estimate: "unknown", Actual: "unknown", PaidCalls: 1,
			Summary: "unknown: sdxl-lightning has no published price (1 paid provider call)"}},
		{"preview: no cost", preview, &mcpserver.CostView{Estimate: "$0.00", Actual: "$0.00", Preview: true,
			Summary: "preview: no cost (offline placeholders, not a paid model)"}},
		{"a job from before costs: nothing claimed", old, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := statusCost(t, inProcess(t, &fakeJobs{job: tt.job}))
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("cost = %+v, want none", got)
			case tt.want != nil && (got == nil || *got != *tt.want):
				t.Errorf("cost = %+v\nwant   %+v", got, tt.want)
			}
		})
	}
}

func TestARunningJobOnAPreviewServiceCostsNothingInEveryTool(t *testing.T) {
	running := jobs.Job{ID: costJobID, Status: workflows.StatusProcessing, Model: "flux-schnell", CreatedAt: time.Now(),
		Cost: &workflows.Cost{Estimate: usdp(633_600)}}
	c := inProcessWith(t, mcpserver.Options{Jobs: &fakeJobs{job: running}, Version: "test", Placeholder: true})
	jobArgs := map[string]any{"job_id": costJobID}
	tests := []struct {
		tool string
		args map[string]any
		cost func(t *testing.T, body []byte) *mcpserver.CostView
	}{
		{"get_job_status", jobArgs, func(t *testing.T, b []byte) *mcpserver.CostView {
			var v mcpserver.JobView
			mustUnmarshal(t, b, &v)
			return v.Cost
		}},
		{"list_jobs", map[string]any{}, func(t *testing.T, b []byte) *mcpserver.CostView {
			var l mcpserver.JobList
			mustUnmarshal(t, b, &l)
			if len(l.Jobs) != 1 {
				t.Fatalf("list_jobs gave %d jobs, want 1", len(l.Jobs))
			}
			return l.Jobs[0].Cost
		}},
		{"cancel_job", jobArgs, func(t *testing.T, b []byte) *mcpserver.CostView {
			var m mcpserver.ManageResult
			mustUnmarshal(t, b, &m)
			return m.Job.Cost
		}},
		{"retry_job", jobArgs, func(t *testing.T, b []byte) *mcpserver.CostView {
			var m mcpserver.ManageResult
			mustUnmarshal(t, b, &m)
			return m.Job.Cost
		}},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			res := call(t, c, tt.tool, tt.args)
			if res.IsError {
				t.Fatalf("%s: %s", tt.tool, text(res))
			}
			got := tt.cost(t, []byte(text(res)))
			if got == nil || !got.Preview || got.Estimate != "$0.00" || !strings.HasPrefix(got.Summary, "preview: no cost") {
				t.Errorf("cost = %+v, want preview: no cost", got)
			}
		})
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func TestMultiImageJobShowsEachImagesCost(t *testing.T) {
	job := jobs.Job{ID: costJobID, Status: workflows.StatusCompleted, Model: "flux-schnell", CreatedAt: time.Now(),
		Result: &workflows.Result{ImageURL: "https://images.test/a.jpg", Images: []workflows.Image{
			{URL: "https://images.test/a.jpg", PaidCalls: 1, Cost: usdp(633_600)},
			{URL: "https://images.test/b.jpg", PaidCalls: 2, Cost: usdp(1_267_200)},
		}},
		Cost: &workflows.Cost{Estimate: usdp(1_267_200), Actual: usdp(1_900_800), PaidCalls: 3, PaidWithoutImage: 1}}
	res := call(t, inProcess(t, &fakeJobs{job: job}), "get_job_status", map[string]any{"job_id": costJobID})
	var v mcpserver.JobView
	if err := json.Unmarshal([]byte(text(res)), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Images) != 2 || v.Images[0].Cost != "$0.0006336" || v.Images[1].Cost != "$0.0012672" || v.Cost.Actual != "$0.0019008" {
		t.Errorf("images %+v, cost %+v", v.Images, v.Cost)
	}
}

func TestListModelsGivesEachModelsTypicalPrice(t *testing.T) {
	res := call(t, inProcess(t, &fakeJobs{}), "list_models", map[string]any{})
	var out mcpserver.ModelList
	if err := json.Unmarshal([]byte(text(res)), &out); err != nil {
		t.Fatal(err)
	}
	if out.CostNote != "" {
		t.Errorf("cost note %q on a service with real models", out.CostNote)
	}
	byName := map[string]mcpserver.ModelView{}
	for _, m := range out.Models {
		byName[m.Name] = m
		if m.TypicalCost == "" || m.Price == "" {
			t.Errorf("%s: no typical cost or price", m.Name)
		}
	}
	flux := byName["flux-schnell"]
	if flux.TypicalCost != "$0.0006336 per image at 1024x1024, 4 steps" ||
		flux.Price != "$0.0000528 per 512x512 output tile + $0.0001056 per step" ||
		flux.PriceAsOf != "2026-08-28" || flux.PriceSource != "https://developers.cloudflare.com/workers-ai/platform/pricing/" {
		t.Errorf("flux-schnell: %q, %q, %q, %q", flux.TypicalCost, flux.Price, flux.PriceAsOf, flux.PriceSource)
	}
	if lucid := byName["leonardo-lucid-origin"]; lucid.TypicalCost != "$0.068244 per image at 1120x1120, up to 40 steps" {
		t.Errorf("lucid-origin: %q", lucid.TypicalCost)
	}
	for _, name := range []string{"sdxl-lightning", "sdxl-base", "openai-image"} {
		if m := byName[name]; m.TypicalCost != "unknown" || !strings.HasPrefix(m.Price, "unknown: ") {
			t.Errorf("%s: typical %q, price %q; want unknown and why", name, m.TypicalCost, m.Price)
		}
	}

	preview := call(t, inProcessWith(t, mcpserver.Options{Jobs: &fakeJobs{}, Version: "test", Placeholder: true}), "list_models", map[string]any{})
	if err := json.Unmarshal([]byte(text(preview)), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.CostNote, "preview: ") {
		t.Errorf("preview service: cost note %q", out.CostNote)
	}
}

// pricedStarts is fakeJobs whose started jobs carry the estimate, as
// jobs.Client's do.
type pricedStarts struct{ fakeJobs }

func (p *pricedStarts) StartWith(ctx context.Context, req imagegen.Request, opts jobs.StartOptions) (jobs.Job, bool, error) {
	job, existing, err := p.fakeJobs.StartWith(ctx, req, opts)
	if est, ok := imagegen.EstimateCost(req, max(opts.N, 1)); ok {
		job.Cost = &workflows.Cost{Estimate: &est}
	} else {
		job.Cost = &workflows.Cost{}
	}
	return job, existing, err
}

func TestGenerateImageAnswersWithTheEstimate(t *testing.T) {
	c := inProcess(t, &pricedStarts{})
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"prompt": "a fox", "n": 4}, "$0.0025344"},
		{map[string]any{"prompt": "a fox", "model": "sdxl-base"}, "unknown"},
	} {
		res := call(t, c, "generate_image", tc.args)
		var out mcpserver.StartResult
		if err := json.Unmarshal([]byte(text(res)), &out); err != nil {
			t.Fatal(err)
		}
		if out.Cost == nil || out.Cost.Estimate != tc.want {
			t.Errorf("generate_image(%v) cost = %+v, want the estimate %s", tc.args, out.Cost, tc.want)
		}
	}
}
