package mcpserver_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/mcpserver"
	"github.com/imagegen/imagegen/objectstore"
	"github.com/imagegen/imagegen/workflows"
)

const (
	editID   = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	sourceID = "0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d"
)

// statusOf calls get_job_status and returns its text and structured content
// as plain JSON maps.
func statusOf(t *testing.T, f *fakeJobs) (body string, view map[string]any) {
	t.Helper()
	res := call(t, inProcess(t, f), "get_job_status", map[string]any{"job_id": editID})
	if res.IsError {
		t.Fatalf("get_job_status: %s", text(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &view); err != nil {
		t.Fatal(err)
	}
	return text(res), view
}

func TestGetJobStatusShowsTheInputsOfAnEditAndNothingMoreForOtherJobs(t *testing.T) {
	strength := 0.6
	plain := jobs.Job{ID: editID, Status: workflows.StatusCompleted, Prompt: "a red fox", Model: "flux-schnell", ImageURL: "http://x/1.png"}
	edit := plain
	edit.Inputs = []string{"images://" + sourceID, "images://" + sourceID + "/1", "https://example.com/fox.png?…"}
	edit.Mask = "inline:sha256-" + strings.Repeat("0f", 32)
	edit.Strength = &strength
	tests := []struct {
		name         string
		job          jobs.Job
		wantInputs   []any
		wantMask     any
		wantStrength any
	}{
		{"a text-to-image job has no input fields at all", plain, nil, nil, nil},
		{"an edit shows its references, mask and strength", edit,
			[]any{"images://" + sourceID, "images://" + sourceID + "/1", "https://example.com/fox.png?…"},
			"inline:sha256-" + strings.Repeat("0f", 32), 0.6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, view := statusOf(t, &fakeJobs{job: tt.job})
			fields := map[string]any{"input_images": tt.wantInputs, "mask": tt.wantMask, "strength": tt.wantStrength}
			for key, want := range fields {
				got, present := view[key]
				if want == nil || key == "input_images" && tt.wantInputs == nil {
					if present || strings.Contains(text, `"`+key+`"`) {
						t.Errorf("a job without inputs shows %s (structured %v): %s", key, got, text)
					}
					continue
				}
				if gb, wb := mustJSON(t, got), mustJSON(t, want); gb != wb {
					t.Errorf("structured %s = %s, want %s", key, gb, wb)
				}
				if !strings.Contains(text, `"`+key+`"`) {
					t.Errorf("the text the model reads lacks %s: %s", key, text)
				}
			}
			for _, ref := range tt.wantInputs {
				if !strings.Contains(text, ref.(string)) {
					t.Errorf("the text the model reads lacks input %s: %s", ref, text)
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A job past Temporal's retention is described from its image record: the
// record's inputs are shown the same way, URL secrets dropped.
func TestGetJobStatusPastRetentionShowsTheRecordedInputs(t *testing.T) {
	store, err := objectstore.NewLocal(t.TempDir(), "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	strength := 0.25
	created := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	rec := history.Record{JobID: editID, CreatedAt: created, ContentType: "image/png", SizeBytes: 10, Key: "2026/11/30/" + editID + ".png",
		Request: imagegen.Request{Prompt: "make it blue", Model: "sdxl-base", Strength: &strength,
			Inputs: []string{"images://" + sourceID, "https://user:pw@example.com/in.png?sig=s3cret"}}}
	b, err := history.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(context.Background(), history.Key(editID, 0, created), b, history.ContentType); err != nil {
		t.Fatal(err)
	}
	c := inProcessWith(t, mcpserver.Options{Jobs: &fakeJobs{err: jobs.ErrNotFound}, History: store, Version: "test"})
	res := call(t, c, "get_job_status", map[string]any{"job_id": editID})
	if res.IsError {
		t.Fatalf("get_job_status: %s", text(res))
	}
	var view mcpserver.JobView
	if err := json.Unmarshal([]byte(text(res)), &view); err != nil {
		t.Fatal(err)
	}
	want := []string{"images://" + sourceID, "https://example.com/in.png?…"}
	if strings.Join(view.InputImages, " ") != strings.Join(want, " ") || view.Strength == nil || *view.Strength != 0.25 || view.Note == "" {
		t.Errorf("view = inputs %q strength %v note %q; want inputs %q, strength 0.25 and the retention note", view.InputImages, view.Strength, view.Note, want)
	}
	for _, secret := range []string{"s3cret", "pw@"} {
		if strings.Contains(text(res), secret) {
			t.Errorf("get_job_status shows %q: %s", secret, text(res))
		}
	}
}
