package workflows_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	_ "unsafe" // go:linkname, to change the real models table in one test

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/workflows"
)

// savedHistories lists every recorded history in testdata (see
// TestRecordHistories), checking that none of the known scenarios is missing.
func savedHistories(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "history_*.json"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range files {
		have[filepath.Base(f)] = true
	}
	for _, name := range recordedScenarios {
		if !have[name] {
			t.Errorf("testdata lacks %s: re-record with go test ./workflows -run TestRecordHistories -record", name)
		}
	}
	return files
}

// recordedScenarios are the histories the replay test must find: the two
// legacy ones (inputs without a plan, n = 1 only) and those TestRecordHistories
// writes.
var recordedScenarios = []string{
	"history_completed.json", "history_failed.json",
	"history_n1_completed.json", "history_n3_one_failed.json", "history_canceled_while_generating.json",
	"history_staged_image_lost.json", "history_unknown_model.json", "history_provider_failure.json",
	"history_edit_completed.json", "history_edit_input_gone.json",
	"history_budget_ledger_continued.json", "history_budget_ledger_ended.json",
	"history_budget_job_completed.json", "history_budget_job_canceled.json",
}

func replayAll(t *testing.T) {
	t.Helper()
	for _, f := range savedHistories(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			workflows.Register(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}

// TestSavedEditHistoryHoldsNoImageBytes: the edit's recorded history runs
// FetchInputs once for its two images and carries only references and
// metadata: it was recorded with a 1 MiB input image (see
// TestRecordHistories, which also checks the live history's size).
func TestSavedEditHistoryHoldsNoImageBytes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "history_edit_completed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 64<<10 {
		t.Errorf("the edit's saved history is %d bytes: image data in it?", len(b))
	}
	// PNG and JPEG signatures, base64-encoded (as payloads are).
	for _, sig := range []string{"iVBORw0KGgo", "/9j/"} {
		if bytes.Contains(b, []byte(sig)) {
			t.Errorf("the edit's saved history contains %q: an encoded image", sig)
		}
	}
	var hist historypb.History
	if err := protojson.Unmarshal(b, &hist); err != nil {
		t.Fatal(err)
	}
	scheduled := map[string]int{}
	for _, ev := range hist.GetEvents() {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[a.GetActivityType().GetName()]++
		}
	}
	if scheduled["FetchInputs"] != 1 || scheduled["Generate"] != 2 || scheduled["Store"] != 2 {
		t.Errorf("the edit's history schedules %v, want FetchInputs once, Generate and Store twice", scheduled)
	}
}

// TestReplaySavedHistories replays every history recorded from real runs. A
// change to the workflow that would break running jobs fails here with a
// non-determinism error.
func TestReplaySavedHistories(t *testing.T) {
	replayAll(t)
}

// modelsTable is the root package's models table itself, so that this test
// can change it as an edit of models.go would.
//
//go:linkname modelsTable github.com/imagegen/imagegen.models
var modelsTable []imagegen.Model

// TestReplayDoesNotDependOnTheModelsTable renames every row of the models
// table, moves it to another provider and changes its timeout, then replays
// every saved history: the workflow reads what it needs from its input (or,
// for inputs recorded before plans, from its frozen legacy copy), never from
// the table. It must not run in parallel with other tests (it changes a
// package variable), so it does not call t.Parallel, and no test in this
// package runs at the top level in parallel.
func TestReplayDoesNotDependOnTheModelsTable(t *testing.T) {
	saved := modelsTable
	changed := make([]imagegen.Model, len(saved))
	for i, m := range saved {
		m.Name += "-renamed"
		m.Provider = "elsewhere"
		m.Timeout *= 3
		changed[i] = m
	}
	modelsTable = changed
	t.Cleanup(func() { modelsTable = saved })
	if _, ok := imagegen.LookupModel(imagegen.DefaultModel); ok {
		t.Fatalf("the table still has %s after the rename: the test changes nothing", imagegen.DefaultModel)
	}
	replayAll(t)
}
