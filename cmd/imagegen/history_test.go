package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/objectstore"
	"github.com/imagegen/imagegen/workflows"
)

// Images stored before image records existed (simulated by removing the
// records a dev stack wrote) come back into the history with
// `imagegen history rebuild`, once each, newest first; a second run writes
// nothing.
func TestHistoryRebuildRecordsImagesStoredWithoutRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dataDir := t.TempDir()
	quiet := logging.New(io.Discard, "text", "error")
	a, err := testkit.Dev(ctx, config.Config{Addr: "127.0.0.1:0", DataDir: dataDir, UIPort: -1}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	jobsOpts, err := config.Config{TemporalAddress: a.TemporalAddress, TemporalAPIKey: a.TemporalAPIKey()}.Defaults().Options(quiet)
	if err != nil {
		t.Fatal(err)
	}
	jc, closeJC, err := app.ConnectJobs(ctx, jobsOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer closeJC()
	var ids []string
	for _, prompt := range []string{"an old lighthouse", "an old harbour"} {
		job, err := jc.Start(ctx, imagegen.Request{Prompt: prompt})
		if err != nil {
			t.Fatal(err)
		}
		if _, done, err := jc.Wait(ctx, job.ID, time.Minute); err != nil || !done {
			t.Fatalf("wait: done=%v err=%v", done, err)
		}
		ids = append(ids, job.ID)
	}
	slices.Reverse(ids) // newest first
	images := filepath.Join(dataDir, "images")
	if err := os.RemoveAll(filepath.Join(images, strings.TrimSuffix(history.Prefix, "/"))); err != nil {
		t.Fatal(err)
	}
	store, err := objectstore.NewLocal(images, "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	listed := func() []string {
		page, err := history.Page(ctx, store, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range page {
			got = append(got, e.JobID)
		}
		return got
	}
	if got := listed(); len(got) != 0 {
		t.Fatalf("records left after removing them: %v", got)
	}

	getenv := env(map[string]string{"TEMPORAL_ADDRESS": a.TemporalAddress, "IMAGEGEN_DATA_DIR": dataDir})
	cli := func(args ...string) string {
		t.Helper()
		var out strings.Builder
		if err := run(ctx, append([]string{"history"}, args...), getenv, strings.NewReader(""), &out, io.Discard); err != nil {
			t.Fatalf("history %v: %v", args, err)
		}
		return out.String()
	}
	// Visibility lags the close a little: wait until both jobs are listed.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(cli("rebuild", "--dry-run"), "would write 2 record(s)") {
		if time.Now().After(deadline) {
			t.Fatalf("dry run never saw both jobs: %s", cli("rebuild", "--dry-run"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := listed(); len(got) != 0 {
		t.Fatalf("a dry run wrote records: %v", got)
	}
	if out := cli("rebuild"); !strings.Contains(out, "0 already recorded; wrote 2 record(s)") {
		t.Errorf("rebuild: %s", out)
	}
	if got := listed(); !slices.Equal(got, ids) {
		t.Errorf("history after rebuild lists %v, want %v", got, ids)
	}
	page, err := history.Page(ctx, store, 10, 0)
	if err != nil || len(page) != 2 || page[0].Request.Prompt != "an old harbour" || page[0].ContentType != "image/png" || page[0].Key == "" {
		t.Errorf("rebuilt records: %+v (%v), want the job's prompt, type and key", page, err)
	}
	if out := cli("rebuild"); !strings.Contains(out, "2 already recorded; wrote 0 record(s)") {
		t.Errorf("second rebuild: %s", out)
	}
}

// A rebuilt record of an edit keeps the inputs, mask and strength the job
// layer shows, as the Store activity's record would.
func TestHistoryRebuildCarriesTheInputsOfAnEdit(t *testing.T) {
	strength := 0.5
	edit := jobs.Job{ID: "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd", Status: workflows.StatusCompleted, Prompt: "make it blue", Model: "sdxl-base",
		Inputs: []string{"images://0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d", "https://cdn.example.com/a.png?…"}, Mask: "inline:sha256-00", Strength: &strength,
		Result: &workflows.Result{Key: "2026/12/01/3f2c9a1e-8b7d-4c6e-9f01-23456789abcd.png", ContentType: "image/png"}}
	plain := edit
	plain.Inputs, plain.Mask, plain.Strength = nil, "", nil
	for name, tc := range map[string]struct {
		job  jobs.Job
		want imagegen.Request
	}{
		"an edit keeps its inputs":           {edit, imagegen.Request{Prompt: "make it blue", Model: "sdxl-base", Inputs: edit.Inputs, Mask: edit.Mask, Strength: &strength}},
		"a text-to-image job gains no input": {plain, imagegen.Request{Prompt: "make it blue", Model: "sdxl-base"}},
	} {
		t.Run(name, func(t *testing.T) {
			recs := recordsOf(tc.job)
			if len(recs) != 1 {
				t.Fatalf("records = %+v, want one", recs)
			}
			got := recs[0].Request
			if !slices.Equal(got.Inputs, tc.want.Inputs) || (got.Inputs == nil) != (tc.want.Inputs == nil) || got.Mask != tc.want.Mask ||
				(got.Strength == nil) != (tc.want.Strength == nil) || got.Prompt != tc.want.Prompt || got.Model != tc.want.Model {
				t.Errorf("rebuilt request = %+v, want %+v", got, tc.want)
			}
		})
	}
}
