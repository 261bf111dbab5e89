package mcpserver_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/mcpserver"
	"github.com/imagegen/imagegen/workflows"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fakeJobs records what the tools asked of the job layer.
type fakeJobs struct {
	mu        sync.Mutex
	started   []imagegen.Request
	startOpts []jobs.StartOptions
	waits     []time.Duration
	lists     []jobs.ListOptions
	job       jobs.Job
	done      bool
	err       error
	// stages are reported to a Watch that listens; listened records, per
	// wait, whether it did.
	stages   []jobs.Progress
	listened []bool
}

func (f *fakeJobs) StartWith(ctx context.Context, req imagegen.Request, opts jobs.StartOptions) (jobs.Job, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, req)
	f.startOpts = append(f.startOpts, opts)
	if opts.Prepare != nil && f.err == nil { // as jobs.Client does, once the request checked out
		if err := opts.Prepare(ctx); err != nil {
			return jobs.Job{}, false, err
		}
	}
	return jobs.Job{ID: "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd", Status: workflows.StatusPending, Prompt: req.Prompt, Model: req.Model}, false, f.err
}

func (f *fakeJobs) Get(ctx context.Context, id string) (jobs.Job, error) {
	if err := jobs.ValidateID(id); err != nil {
		return jobs.Job{}, err
	}
	return f.job, f.err
}

func (f *fakeJobs) Wait(ctx context.Context, id string, timeout time.Duration) (jobs.Job, bool, error) {
	return f.Watch(ctx, id, timeout, nil)
}

// Watch reports the scripted stages (when someone listens) and returns the
// scripted outcome.
func (f *fakeJobs) Watch(ctx context.Context, id string, timeout time.Duration, onProgress func(jobs.Progress)) (jobs.Job, bool, error) {
	f.mu.Lock()
	f.waits = append(f.waits, timeout)
	f.listened = append(f.listened, onProgress != nil)
	stages := f.stages
	f.mu.Unlock()
	if err := jobs.ValidateID(id); err != nil {
		return jobs.Job{}, false, err
	}
	if onProgress != nil {
		for _, p := range stages {
			onProgress(p)
		}
	}
	return f.job, f.done, f.err
}

func (f *fakeJobs) List(ctx context.Context, opts jobs.ListOptions) ([]jobs.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, opts)
	return []jobs.Job{f.job}, f.err
}

func (f *fakeJobs) Cancel(ctx context.Context, id string) (jobs.Job, error) {
	if err := jobs.ValidateID(id); err != nil {
		return jobs.Job{}, err
	}
	return f.job, f.err
}

func (f *fakeJobs) Retry(ctx context.Context, id, reason string) (jobs.Job, error) {
	if err := jobs.ValidateID(id); err != nil {
		return jobs.Job{}, err
	}
	return f.job, f.err
}

func (f *fakeJobs) calls() (starts, lists int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started), len(f.lists)
}

func inProcess(t *testing.T, j mcpserver.JobService) *client.Client {
	t.Helper()
	return inProcessWith(t, mcpserver.Options{Jobs: j, Version: "test"})
}

func call(t *testing.T, c *client.Client, name string, args any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(context.Background(), req)
	if err != nil {
		t.Fatalf("%s: protocol error %v", name, err)
	}
	return res
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestToolSchemasMatchGolden pins every tool's name, description and schemas:
// an API change must be deliberate (go test ./mcpserver -run Golden -update).
func TestToolSchemasMatchGolden(t *testing.T) {
	c := inProcess(t, &fakeJobs{})
	list, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(list.Tools, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "tools.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if strings.TrimSpace(string(want)) != strings.TrimSpace(string(got)) {
		t.Errorf("tool schemas changed; if deliberate, run: go test ./mcpserver -run Golden -update\n%s", got)
	}
}

func TestServerOffersTheSixOriginalToolsWithStrictSchemas(t *testing.T) {
	c := inProcess(t, &fakeJobs{})
	list, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]mcp.Tool{}
	for _, tool := range list.Tools {
		names[tool.Name] = tool
	}
	for _, want := range originalTools {
		tool, ok := names[want]
		if !ok {
			t.Errorf("tool %s missing", want)
			continue
		}
		if tool.Description == "" || tool.OutputSchema.Type != "object" {
			t.Errorf("tool %s lacks a description or output schema", want)
		}
		if ap, ok := tool.InputSchema.AdditionalProperties.(bool); !ok || ap {
			t.Errorf("tool %s input schema allows unknown arguments", want)
		}
	}
	if p := names["generate_image"].InputSchema.Properties["model"].(map[string]any); p["default"] != "flux-schnell" {
		t.Errorf("model default = %v, want flux-schnell", p["default"])
	}
}

func TestBadInputGetsAToolErrorAndStartsNothing(t *testing.T) {
	long := strings.Repeat("a", imagegen.MaxPromptLength+1)
	cases := []struct {
		tool string
		args any
		want string
	}{
		{"generate_image", map[string]any{}, "prompt is required"},
		{"generate_image", map[string]any{"prompt": ""}, "prompt is empty"},
		{"generate_image", map[string]any{"prompt": "   \n\t"}, "prompt is empty"},
		{"generate_image", map[string]any{"prompt": long}, "limit is 2048"},
		{"generate_image", map[string]any{"prompt": "cat", "model": "dall-e-3"}, "unknown model"},
		{"generate_image", map[string]any{"prompt": 42}, `"prompt" must be of type string`},
		{"generate_image", map[string]any{"prompt": "cat", "size": "1024x1024"}, `unknown argument "size"`},
		{"generate_image", map[string]any{"prompt": "a\x00b"}, "NUL"},
		{"generate_image_and_wait", map[string]any{"prompt": ""}, "prompt is empty"},
		{"generate_image_and_wait", map[string]any{"model": "flux-schnell"}, "prompt is required"},
		{"get_job_status", map[string]any{}, "job_id is required"},
		{"get_job_status", map[string]any{"job_id": "../../etc/passwd"}, "is not a job id"},
		{"get_job_status", map[string]any{"job_id": strings.Repeat("f", 10000)}, "is not a job id"},
		{"get_job_status", map[string]any{"job_id": 7}, "must be of type string"},
		{"wait_for_completion", map[string]any{"job_id": "nope"}, "is not a job id"},
		{"wait_for_completion", map[string]any{"job_id": "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd", "timeout_seconds": 61}, "between 1 and 60"},
		{"wait_for_completion", map[string]any{"job_id": "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd", "timeout_seconds": 0}, "between 1 and 60"},
		{"list_generations", map[string]any{"limit": 0}, "limit must be between 1 and 50"},
		{"list_generations", map[string]any{"limit": 51}, "limit must be between 1 and 50"},
		{"list_generations", map[string]any{"offset": -1}, "offset must be between 0"},
		{"list_generations", map[string]any{"limit": "ten"}, "must be of type integer"},
		{"list_jobs", map[string]any{"status": "done"}, "unknown status"},
		{"list_jobs", map[string]any{"limit": 1e12}, "limit"},
		{"list_jobs", map[string]any{"offset": 1.5}, "must be of type integer"},
		{"generate_image", map[string]any{"prompt": "cat", "width": 512}, "fixed size"},
		{"generate_image", map[string]any{"prompt": "cat", "steps": 9}, "use 1 to 8"},
		{"generate_image", map[string]any{"prompt": "cat", "model": "sdxl-base", "width": 100}, "out of range"},
		{"generate_image", map[string]any{"prompt": "cat", "negative_prompt": "dogs"}, "takes no negative_prompt"},
		{"generate_image", map[string]any{"prompt": "cat", "n": 5}, "n must be between 1 and 4"},
		{"generate_image", map[string]any{"prompt": "cat", "n": 0}, "n must be between 1 and 4"},
		{"generate_image_and_wait", map[string]any{"prompt": "cat", "idempotency_key": strings.Repeat("k", 201)}, "idempotency_key must be"},
		{"generate_image", map[string]any{"prompt": "cat", "model": "sdxl-base", "guidance": "high"}, "must be of type number"},
		{"list_models", map[string]any{"verbose": true}, `unknown argument "verbose"`},
		{"cancel_job", map[string]any{}, "job_id is required"},
		{"cancel_job", map[string]any{"job_id": "'; DROP TABLE jobs"}, "is not a job id"},
		{"retry_job", map[string]any{"job_id": "x", "force": true}, `unknown argument "force"`},
	}
	f := &fakeJobs{}
	c := inProcess(t, f)
	for _, tc := range cases {
		res := call(t, c, tc.tool, tc.args)
		if !res.IsError {
			t.Errorf("%s %v: not an error: %s", tc.tool, tc.args, text(res))
			continue
		}
		if got := text(res); !strings.Contains(got, tc.want) {
			t.Errorf("%s %.80v: error %q does not say %q", tc.tool, tc.args, got, tc.want)
		}
	}
	if starts, lists := f.calls(); starts != 0 || lists != 0 {
		t.Errorf("bad input reached the job layer: %d starts, %d lists", starts, lists)
	}
}

func TestUnknownToolIsAnError(t *testing.T) {
	c := inProcess(t, &fakeJobs{})
	req := mcp.CallToolRequest{}
	req.Params.Name = "delete_everything"
	if res, err := c.CallTool(context.Background(), req); err == nil && !res.IsError {
		t.Fatalf("unknown tool succeeded: %s", text(res))
	}
}

func TestGenerateImageStartsAPendingJobWithTheDefaultModel(t *testing.T) {
	f := &fakeJobs{}
	c := inProcess(t, f)
	res := call(t, c, "generate_image", map[string]any{"prompt": "  a cyberpunk city at night  "})
	if res.IsError {
		t.Fatal(text(res))
	}
	var out mcpserver.StartResult
	if err := json.Unmarshal([]byte(text(res)), &out); err != nil {
		t.Fatal(err)
	}
	if out.Status != "pending" || out.JobID == "" || out.Model != "flux-schnell" {
		t.Errorf("result = %+v", out)
	}
	if len(f.started) != 1 || f.started[0].Prompt != "a cyberpunk city at night" {
		t.Errorf("started %+v", f.started)
	}
	if res.StructuredContent == nil {
		t.Error("no structured content")
	}
}

func TestWaitToolsShapeEachOutcome(t *testing.T) {
	completed := jobs.Job{ID: "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd", Status: workflows.StatusCompleted, ImageURL: "http://x/1.png"}
	failed := jobs.Job{ID: completed.ID, Status: workflows.StatusFailed, Error: "quota used up. try again tomorrow"}
	running := jobs.Job{ID: completed.ID, Status: workflows.StatusProcessing}
	for _, tc := range []struct {
		name      string
		job       jobs.Job
		done      bool
		err       error
		wantError bool
		want      string
	}{
		{"completed returns the url", completed, true, nil, false, "http://x/1.png"},
		{"failed is a tool error with the reason", failed, true, nil, true, "tomorrow"},
		{"timeout returns status and says to call again", running, false, nil, false, "Call wait_for_completion"},
		{"unknown job", jobs.Job{}, false, jobs.ErrNotFound, true, "no job with that job_id"},
		{"temporal down", jobs.Job{}, false, jobs.ErrUnavailable, true, "temporarily unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeJobs{job: tc.job, done: tc.done, err: tc.err}
			c := inProcess(t, f)
			res := call(t, c, "wait_for_completion", map[string]any{"job_id": completed.ID, "timeout_seconds": 5})
			if res.IsError != tc.wantError || !strings.Contains(text(res), tc.want) {
				t.Errorf("isError=%v text=%s; want isError=%v containing %q", res.IsError, text(res), tc.wantError, tc.want)
			}
			if len(f.waits) != 1 || f.waits[0] != 5*time.Second {
				t.Errorf("waits = %v, want one of 5s", f.waits)
			}
		})
	}
}

func TestListToolsPassDefaultsAndFilters(t *testing.T) {
	f := &fakeJobs{job: jobs.Job{ID: "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd", Status: workflows.StatusCompleted}}
	c := inProcess(t, f)
	call(t, c, "list_generations", map[string]any{})
	call(t, c, "list_jobs", map[string]any{"status": "failed", "limit": 50, "offset": 20})
	want := []jobs.ListOptions{{Status: workflows.StatusCompleted, Limit: 10}, {Status: workflows.StatusFailed, Limit: 50, Offset: 20}}
	if len(f.lists) != 2 || f.lists[0] != want[0] || f.lists[1] != want[1] {
		t.Errorf("lists = %+v, want %+v", f.lists, want)
	}
}

// originalTools are the six tools of the original system, kept exactly.
var originalTools = []string{"generate_image", "get_job_status", "list_generations", "list_jobs", "wait_for_completion", "generate_image_and_wait"}

func missingOriginalTools(tools []mcp.Tool) []string {
	have := map[string]bool{}
	for _, t := range tools {
		have[t.Name] = true
	}
	var missing []string
	for _, name := range originalTools {
		if !have[name] {
			missing = append(missing, name)
		}
	}
	return missing
}

func TestGenerateParametersReachTheJobLayer(t *testing.T) {
	f := &fakeJobs{}
	c := inProcess(t, f)
	res := call(t, c, "generate_image", map[string]any{
		"prompt": "a lighthouse", "model": "sdxl-base", "width": 768, "height": 512, "steps": 12, "seed": 7,
		"negative_prompt": "fog", "guidance": 6.5, "n": 3, "idempotency_key": "req-42",
	})
	if res.IsError {
		t.Fatal(text(res))
	}
	r, o := f.started[0], f.startOpts[0]
	if r.Width != 768 || r.Height != 512 || r.Steps != 12 || r.Seed == nil || *r.Seed != 7 || r.NegativePrompt != "fog" || r.Guidance == nil || *r.Guidance != 6.5 {
		t.Errorf("request = %+v", r)
	}
	if o.N != 3 || o.IdempotencyKey != "req-42" {
		t.Errorf("start options = %+v", o)
	}
}

func TestListModelsDescribesEveryModel(t *testing.T) {
	c := inProcess(t, &fakeJobs{})
	res := call(t, c, "list_models", map[string]any{})
	var out mcpserver.ModelList
	if err := json.Unmarshal([]byte(text(res)), &out); err != nil {
		t.Fatal(err)
	}
	if out.Default != "flux-schnell" || len(out.Models) != len(imagegen.Models()) {
		t.Fatalf("list_models = %+v", out)
	}
	for _, m := range out.Models {
		if m.Name == "flux-schnell" && strings.Contains(strings.Join(m.Parameters, ","), "width") {
			t.Errorf("flux-schnell advertises width: %v", m.Parameters)
		}
		if m.Name == "sdxl-base" && !strings.Contains(strings.Join(m.Parameters, ","), "negative_prompt") {
			t.Errorf("sdxl-base lacks negative_prompt: %v", m.Parameters)
		}
	}
}
