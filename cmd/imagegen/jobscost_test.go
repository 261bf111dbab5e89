package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

func TestJobsShowPrintsTheCost(t *testing.T) {
	usd := func(v imagegen.USD) *imagegen.USD { return &v }
	const id = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	base := jobs.Job{ID: id, Model: "flux-schnell", Prompt: "a red fox"}
	running := base
	running.Status, running.Cost = workflows.StatusProcessing, &workflows.Cost{Estimate: usd(633_600)}
	done := base
	done.Status = workflows.StatusCompleted
	done.Result = &workflows.Result{Provider: "workersai"}
	done.Cost = &workflows.Cost{Estimate: usd(633_600), Actual: usd(1_267_200), PaidCalls: 2, PaidWithoutImage: 1}
	failed := base
	failed.Status, failed.Error = workflows.StatusFailed, "quota"
	failed.Cost = &workflows.Cost{Estimate: usd(633_600), Actual: usd(633_600), PaidCalls: 1, PaidWithoutImage: 1}
	unpriced := done
	unpriced.Model, unpriced.Cost = "sdxl-base", &workflows.Cost{PaidCalls: 1}
	preview := done
	preview.Result = &workflows.Result{Provider: "preview", Placeholder: true}
	preview.Cost = &workflows.Cost{Estimate: usd(633_600), Actual: usd(0), Preview: true}
	old := done
	old.Cost = nil
	tests := []struct {
		name string
		job  jobs.Job
		want string // the cost row's value; "" = no cost row
	}{
		{"running: the estimate", running, "estimated $0.0006336 at the published price; the actual cost is known when the job has finished"},
		{"completed: every paid call", done, "$0.0012672 for 2 paid provider calls, 1 of them without an image; estimated $0.0006336"},
		{"failed: what it paid for", failed, "$0.0006336 for 1 paid provider call, 1 of them without an image; estimated $0.0006336"},
		{"no published price", unpriced, "unknown: sdxl-base has no published price (1 paid provider call)"},
		{"preview", preview, "preview: no cost (offline placeholders, not a paid model)"},
		{"a job from before costs", old, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := (printer{w: &buf}).job(tt.job); err != nil {
				t.Fatal(err)
			}
			got := regexp.MustCompile(`(?m)^cost {2,}(.*)$`).FindStringSubmatch(buf.String())
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("a cost row for a job without costs:\n%s", buf.String())
			case tt.want != "" && (got == nil || got[1] != tt.want):
				t.Errorf("cost row %q, want %q:\n%s", got, tt.want, buf.String())
			}
		})
	}
}
