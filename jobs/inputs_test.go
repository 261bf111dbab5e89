package jobs_test

import (
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// A job's inputs come from its memo as they may be shown: job references as
// given, URLs without the query string or user info that may hold a token.
func TestJobsShowTheirInputsFromTheMemoWithoutURLSecrets(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	jc := s.client(t, jobs.Options{CloseWatchEvery: -1}, newRPCLog())
	ctx := within(t)
	raw, err := client.DialContext(ctx, s.srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	const source = "0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d"
	strength := 0.4
	tests := []struct {
		name         string
		id           string
		req          imagegen.Request
		wantInputs   []string
		wantMask     string
		wantStrength *float64
	}{
		{"a text-to-image job has no inputs", "11111111-2222-4333-8444-555555555555",
			imagegen.Request{Prompt: "plain", Model: "flux-schnell"}, nil, "", nil},
		{"an edit shows its references, mask and strength", "11111111-2222-4333-8444-666666666666",
			imagegen.Request{Prompt: "edit", Model: "flux-schnell", Strength: &strength,
				Inputs: []string{"images://" + source + "/1", "https://u:pw@cdn.example.com/a.png?X-Amz-Signature=s3cret"},
				Mask:   "https://cdn.example.com/mask.png?token=s3cret"},
			[]string{"images://" + source + "/1", "https://cdn.example.com/a.png?…"}, "https://cdn.example.com/mask.png?…", &strength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Started on a queue no worker polls: the memo is what the job
			// layer reads, whatever the workflow would do with it.
			rec := workflows.Record{Status: workflows.StatusPending, Request: tt.req}
			if _, err := raw.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: tt.id, TaskQueue: "nobody-polls-" + tt.id,
				Memo: map[string]any{workflows.MemoKey: rec}}, workflows.WorkflowName, workflows.Input{Request: tt.req}); err != nil {
				t.Fatal(err)
			}
			job, err := jc.Get(ctx, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(job.Inputs, " ") != strings.Join(tt.wantInputs, " ") || (job.Inputs == nil) != (tt.wantInputs == nil) ||
				job.Mask != tt.wantMask || (job.Strength == nil) != (tt.wantStrength == nil) ||
				(job.Strength != nil && *job.Strength != *tt.wantStrength) {
				t.Errorf("job inputs %q, mask %q, strength %v; want %q, %q, %v", job.Inputs, job.Mask, job.Strength, tt.wantInputs, tt.wantMask, tt.wantStrength)
			}
		})
	}
}
