package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// recordingJobs is the job layer of the fuzz targets: it records what the
// tools passed it, so that the targets can check that only valid requests
// ever get past the tools' validation.
type recordingJobs struct {
	mu      sync.Mutex
	started []imagegen.Request
	opts    []jobs.StartOptions
	ids     []string
	waits   []time.Duration
	lists   []jobs.ListOptions
}

const fuzzJobID = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"

func (r *recordingJobs) StartWith(_ context.Context, req imagegen.Request, opts jobs.StartOptions) (jobs.Job, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, req)
	r.opts = append(r.opts, opts)
	return jobs.Job{ID: fuzzJobID, Status: workflows.StatusPending, Prompt: req.Prompt, Model: req.Model}, false, nil
}

func (r *recordingJobs) id(id string) jobs.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
	return jobs.Job{ID: id, Status: workflows.StatusFailed, Error: "scripted"}
}

func (r *recordingJobs) Get(_ context.Context, id string) (jobs.Job, error) { return r.id(id), nil }
func (r *recordingJobs) Cancel(_ context.Context, id string) (jobs.Job, error) {
	return r.id(id), nil
}
func (r *recordingJobs) Retry(_ context.Context, id, _ string) (jobs.Job, error) {
	return r.id(id), nil
}

func (r *recordingJobs) Wait(ctx context.Context, id string, timeout time.Duration) (jobs.Job, bool, error) {
	return r.Watch(ctx, id, timeout, nil)
}

func (r *recordingJobs) Watch(_ context.Context, id string, timeout time.Duration, _ func(jobs.Progress)) (jobs.Job, bool, error) {
	job := r.id(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, timeout)
	job.Status = workflows.StatusProcessing
	return job, false, nil
}

func (r *recordingJobs) List(_ context.Context, opts jobs.ListOptions) ([]jobs.Job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lists = append(r.lists, opts)
	return nil, nil
}

func (r *recordingJobs) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started, r.opts, r.ids, r.waits, r.lists = nil, nil, nil, nil, nil
}

// fuzzSeeds are argument objects for every tool: valid ones, each kind of
// bad value, and the shapes a careless or hostile client sends.
var fuzzSeeds = []string{
	`{}`,
	`null`,
	`[]`,
	`"prompt"`,
	`42`,
	`{"prompt":"a cat"}`,
	`{"prompt":"  a cat  ","model":"sdxl-base","width":768,"height":512,"steps":12,"seed":7,"negative_prompt":"fog","guidance":6.5,"n":3,"idempotency_key":"req-42"}`,
	`{"prompt":"a cat","model":"sdxl-lightning","n":4}`,
	`{"prompt":"a cat","model":"leonardo-phoenix","width":1024,"height":1024}`,
	`{"prompt":""}`,
	`{"prompt":"\u0000"}`,
	`{"prompt":"\u202eevil\u202c"}`,
	`{"prompt":"👨‍👩‍👧"}`,
	`{"prompt":"\u200b\u200d"}`,
	`{"prompt":"\ud800"}`,
	"{\"prompt\":\"a\xffb\"}",
	"{\"prompt\":\"\xc0\xaf\"}",
	`{"prompt":"a","model":"sdxl-base","negative_prompt":"a\u0000b"}`,
	`{"prompt":42}`,
	`{"prompt":"a","n":1e30}`,
	`{"prompt":"a","n":-1}`,
	`{"prompt":"a","seed":9223372036854775807}`,
	`{"prompt":"a","seed":-1,"model":"sdxl-base"}`,
	`{"prompt":"a","guidance":1e400,"model":"sdxl-base"}`,
	`{"prompt":"a","idempotency_key":"   "}`,
	`{"prompt":"a","idempotency_key":"k\u0000"}`,
	`{"prompt":"a","extra":{"deep":[[[[1]]]]}}`,
	`{"prompt":"a","prompt":"b"}`,
	`{"job_id":"3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"}`,
	`{"job_id":"3F2C9A1E-8B7D-4C6E-9F01-23456789ABCD"}`,
	`{"job_id":"../../etc/passwd"}`,
	`{"job_id":"3f2c9a1e-8b7d-4c6e-9f01-23456789abcd\n"}`,
	`{"job_id":null}`,
	`{"job_id":7}`,
	`{"job_id":"3f2c9a1e-8b7d-4c6e-9f01-23456789abcd","timeout_seconds":1}`,
	`{"job_id":"3f2c9a1e-8b7d-4c6e-9f01-23456789abcd","timeout_seconds":0}`,
	`{"job_id":"3f2c9a1e-8b7d-4c6e-9f01-23456789abcd","timeout_seconds":9223372036854775807}`,
	`{"job_id":"3f2c9a1e-8b7d-4c6e-9f01-23456789abcd","timeout_seconds":"10"}`,
	`{"limit":50,"offset":10000}`,
	`{"limit":0}`,
	`{"limit":-1,"offset":-1}`,
	`{"limit":1e30}`,
	`{"limit":"10"}`,
	`{"offset":10001}`,
	`{"limit":10.0}`,
	`{"status":"failed","limit":5}`,
	`{"status":"done"}`,
	`{"status":""}`,
	`{"verbose":true}`,
}

// FuzzToolArguments sends arbitrary JSON as the arguments of every tool,
// through the same decoding mcp-go applies to a wire message, and checks that
// no input panics, that every refusal is a tool error with a sentence, and
// that whatever reaches the job layer is valid: a trimmed prompt of 1 to 2048
// characters, a known model with parameters it takes, a job id that is a
// UUID, a list page within bounds.
func FuzzToolArguments(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	long := strings.Repeat("é", imagegen.MaxPromptLength)
	f.Add([]byte(`{"prompt":"` + long + `"}`))
	f.Add([]byte(`{"prompt":"` + long + `x"}`))
	f.Add([]byte(`{"prompt":"a","model":"sdxl-base","negative_prompt":"` + long + `x"}`))
	rec := &recordingJobs{}
	s := New(Options{Jobs: rec, MaxWait: 20 * time.Second})
	tools := s.tools()
	f.Fuzz(func(t *testing.T, args []byte) {
		// What mcp-go does with a tools/call from the wire: arguments kept
		// raw when present. Input that is not one JSON value never gets
		// this far.
		if !json.Valid(args) {
			return
		}
		var wire mcp.CallToolParams
		if err := json.Unmarshal(append(append([]byte(`{"name":"x","arguments":`), args...), '}'), &wire); err != nil {
			return
		}
		// What an in-process client passes: arguments already decoded.
		var inProcess mcp.CallToolParams
		if err := json.Unmarshal(args, &inProcess.Arguments); err != nil {
			t.Fatalf("arguments %q decode on the wire but not in process: %v", args, err)
		}
		for _, params := range []mcp.CallToolParams{wire, inProcess} {
			for _, tool := range tools {
				rec.reset()
				res := checkToolCall(t, s, tool, params, args, rec)
				// Bytes that are not UTF-8 are refused, not replaced.
				if len(params.RawArguments) > 0 && !utf8.Valid(args) && !res.IsError {
					t.Fatalf("%s(%q): arguments that are not UTF-8 were accepted", tool.Tool.Name, args)
				}
			}
			checkArgStructs(t, params, args)
		}
	})
}

// checkToolCall runs one tool's real handler and checks what it did.
func checkToolCall(t *testing.T, s *Server, tool server.ServerTool, params mcp.CallToolParams, args []byte, rec *recordingJobs) *mcp.CallToolResult {
	t.Helper()
	name := tool.Tool.Name
	req := mcp.CallToolRequest{}
	req.Params = params
	req.Params.Name = name
	res, err := tool.Handler(context.Background(), req)
	if err != nil || res == nil {
		t.Fatalf("%s(%q): protocol error %v (result %v); want a tool result", name, args, err, res)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	reached := len(rec.started) + len(rec.ids) + len(rec.lists)
	if res.IsError {
		msg := resultText(res)
		if !plausibleSentence(msg) {
			t.Fatalf("%s(%q): tool error without a readable sentence: %q", name, args, msg)
		}
		if reached > 0 {
			t.Fatalf("%s(%q): refused (%q) after reaching the job layer", name, args, msg)
		}
	}
	for i, r := range rec.started {
		checkRequest(t, name, args, r, rec.opts[i])
	}
	for _, id := range rec.ids {
		if err := jobs.ValidateID(id); err != nil {
			t.Fatalf("%s(%q): job id %q reached the job layer: %v", name, args, id, err)
		}
	}
	for _, w := range rec.waits {
		if w < time.Second || w > s.maxWait {
			t.Fatalf("%s(%q): wait of %s reached the job layer (want 1s..%s)", name, args, w, s.maxWait)
		}
	}
	for _, l := range rec.lists {
		if l.Limit < 1 || l.Limit > maxLimit || l.Offset < 0 || l.Offset > jobs.MaxOffset {
			t.Fatalf("%s(%q): list page %+v reached the job layer", name, args, l)
		}
		if l.Status != "all" && l.Status != "" && !slices.Contains(listStatuses, string(l.Status)) {
			t.Fatalf("%s(%q): list status %q reached the job layer", name, args, l.Status)
		}
	}
	switch name {
	case "list_models", "get_budget": // answered from the models table, the budget reader
		if reached > 0 {
			t.Fatalf("%s reached the job layer", name)
		}
	case "generate_image", "generate_image_and_wait":
		if len(rec.started) > 1 {
			t.Fatalf("%s(%q) started %d jobs", name, args, len(rec.started))
		}
	}
	if !res.IsError && name != "list_models" && name != "get_budget" && reached == 0 {
		t.Fatalf("%s(%q): success without asking the job layer: %s", name, args, resultText(res))
	}
	return res
}

// checkArgStructs runs each argument struct's own validation method and
// checks its promise on success.
func checkArgStructs(t *testing.T, params mcp.CallToolParams, args []byte) {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params = params

	var g generateArgs
	if decodeArgs(req, &g) == nil {
		if r, opts, err := g.request(); err == nil {
			checkRequest(t, "generateArgs.request", args, r, opts)
			if opts.N == 0 && g.N != nil {
				t.Fatalf("generateArgs.request(%q): n=%d accepted as 0", args, *g.N)
			}
		} else if !plausibleSentence(err.Error()) {
			t.Fatalf("generateArgs.request(%q): error without a sentence: %q", args, err)
		}
	}

	var j jobArgs
	if decodeArgs(req, &j) == nil {
		if id, err := j.id(); err == nil {
			if jobs.ValidateID(id) != nil || len(id) != 36 {
				t.Fatalf("jobArgs.id(%q) accepted %q", args, id)
			}
		} else if id != "" && j.JobID == nil {
			t.Fatalf("jobArgs.id(%q): missing id returned %q", args, id)
		}
	}

	// waitArgs has no method of its own: its handling (id first, then
	// timeout_seconds within 1..maxWait) is checked through the
	// wait_for_completion handler in checkToolCall.

	var p pageArgs
	if decodeArgs(req, &p) == nil {
		if limit, offset, err := p.page(); err == nil {
			if limit < 1 || limit > maxLimit || offset < 0 || offset > jobs.MaxOffset {
				t.Fatalf("pageArgs.page(%q) = %d, %d", args, limit, offset)
			}
			if p.Limit == nil && limit != defaultLimit || p.Offset == nil && offset != 0 {
				t.Fatalf("pageArgs.page(%q) defaults = %d, %d", args, limit, offset)
			}
		}
	}

	var l listJobsArgs
	if err := decodeArgs(req, &l); err != nil && !plausibleSentence(err.Error()) {
		t.Fatalf("decodeArgs(%q): error without a sentence: %q", args, err)
	}
}

// checkRequest holds a generation request that passed validation to every
// promise the tool schema makes.
func checkRequest(t *testing.T, where string, args []byte, r imagegen.Request, opts jobs.StartOptions) {
	t.Helper()
	fail := func(format string, a ...any) {
		t.Helper()
		t.Fatalf("%s(%q) accepted %+v: %s", where, args, r, fmt.Sprintf(format, a...))
	}
	if r.Prompt == "" || r.Prompt != strings.TrimSpace(r.Prompt) {
		fail("prompt %q is empty or untrimmed", r.Prompt)
	}
	if !utf8.ValidString(r.Prompt) || strings.ContainsRune(r.Prompt, 0) {
		fail("prompt is not NUL-free UTF-8")
	}
	if n := utf8.RuneCountInString(r.Prompt); n > imagegen.MaxPromptLength {
		fail("prompt of %d characters", n)
	}
	if r.NegativePrompt != strings.TrimSpace(r.NegativePrompt) || !utf8.ValidString(r.NegativePrompt) || strings.ContainsRune(r.NegativePrompt, 0) {
		fail("negative_prompt is untrimmed or not NUL-free UTF-8")
	}
	if n := utf8.RuneCountInString(r.NegativePrompt); n > imagegen.MaxPromptLength {
		fail("negative_prompt of %d characters (the schema says at most %d)", n, imagegen.MaxPromptLength)
	}
	m, ok := imagegen.LookupModel(r.Model)
	if !ok {
		fail("unknown model")
	}
	if err := r.Validate(); err != nil {
		fail("it does not validate again: %v", err)
	}
	if r.Width != 0 && (!m.SupportsSize || r.Width < m.MinSide || r.Width > m.MaxSide) ||
		r.Height != 0 && (!m.SupportsSize || r.Height < m.MinSide || r.Height > m.MaxSide) {
		fail("size outside the model's")
	}
	if r.Steps < 0 || r.Steps > m.MaxSteps {
		fail("steps outside 0..%d", m.MaxSteps)
	}
	if r.Seed != nil && (!m.SupportsSeed || *r.Seed < 0) {
		fail("seed")
	}
	if r.Guidance != nil && (!m.SupportsGuide || *r.Guidance < m.MinGuidance || *r.Guidance > m.MaxGuidance) {
		fail("guidance")
	}
	if r.NegativePrompt != "" && !m.SupportsNeg {
		fail("negative_prompt for a model without it")
	}
	if opts.N < 0 || opts.N > workflows.MaxImages {
		fail("n=%d", opts.N)
	}
	if k := opts.IdempotencyKey; k != "" && (len(k) > jobs.MaxIdempotencyKeyLength || strings.TrimSpace(k) == "") {
		fail("idempotency_key %q", k)
	}
}

// plausibleSentence: an error a model can read, not an empty string or a
// Go value dump.
func plausibleSentence(s string) bool {
	return len(strings.Fields(s)) >= 3 && !strings.Contains(s, "%!") && !strings.Contains(s, "of type struct") && !strings.Contains(s, "Args.")
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// FuzzParseImageURI checks that no URI panics the resource parser and that
// whatever it accepts names a real job id and an image index in range, is
// the very URI the server hands out for that image (up to the scheme's case
// and an explicit /0), and is what an edit input accepts.
func FuzzParseImageURI(f *testing.F) {
	for _, s := range []string{
		"images://" + fuzzJobID,
		"images://" + fuzzJobID + "/0",
		"images://" + fuzzJobID + "/3",
		"images://" + fuzzJobID + "/4",
		"images://" + fuzzJobID + "/-1",
		"images://" + fuzzJobID + "/01",
		"images://" + fuzzJobID + "/+1",
		"images://" + fuzzJobID + "/1/2",
		"images://" + fuzzJobID + "/",
		"images://" + fuzzJobID + "/99999999999999999999",
		"images://../../etc/passwd",
		"images://",
		"image://" + fuzzJobID,
		"https://example.com/x.png",
		"",
		"images://" + strings.ToUpper(fuzzJobID),
		"images://" + fuzzJobID + "/1\x00",
		"images://" + fuzzJobID + "/99",
		"images://" + fuzzJobID + "/100",
		"IMAGES://" + fuzzJobID + "/2",
		"images://" + strings.Repeat("-", 36),
		"inline:sha256-" + strings.Repeat("ab", 32),
		"%!0000",
		"images://%!d/1",
		"%%!!",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		id, index, err := parseImageURI(uri)
		if err != nil {
			if id != "" || index != 0 {
				t.Fatalf("parseImageURI(%q) failed (%v) yet returned %q, %d", uri, err, id, index)
			}
			// The error quotes the URI; a "%!" in it is the caller's, not
			// a formatting mistake, so the sentence is judged without it.
			msg := err.Error()
			if i := strings.Index(msg, `"`); i >= 0 {
				if q, err := strconv.QuotedPrefix(msg[i:]); err == nil {
					msg = msg[:i] + msg[i+len(q):]
				}
			}
			if !plausibleSentence(msg) {
				t.Fatalf("parseImageURI(%q): error without a sentence: %q", uri, err)
			}
			return
		}
		if jobs.ValidateID(id) != nil {
			t.Fatalf("parseImageURI(%q) accepted job id %q", uri, id)
		}
		if index < 0 || index > imagegen.MaxRefIndex {
			t.Fatalf("parseImageURI(%q) accepted index %d", uri, index)
		}
		if canon := "images://" + uri[len("images://"):]; canon != imageURI(id, index) && canon != fmt.Sprintf("images://%s/%d", id, index) {
			t.Fatalf("parseImageURI(%q) = %q, %d: not the URI of that image", uri, id, index)
		}
		if r, err := imagegen.ParseRef("input_images[0]", uri); err != nil || r.Kind != imagegen.RefJob || r.JobID != id || r.Index != index {
			t.Fatalf("parseImageURI(%q) = %q, %d, but as an edit input it is %+v, %v", uri, id, index, r, err)
		}
		if id2, index2, err := parseImageURI(imageURI(id, index)); err != nil || id2 != id || index2 != index {
			t.Fatalf("imageURI(%q, %d) does not parse back: %q, %d, %v", id, index, id2, index2, err)
		}
	})
}
