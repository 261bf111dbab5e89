package workflows_test

import (
	"path/filepath"
	"testing"
	_ "unsafe" // go:linkname, to change the real models table in one test

	"go.temporal.io/sdk/worker"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/workflows"
)

// savedHistories lists the recorded histories (see TestRecordHistories).
func savedHistories(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "history_*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no saved histories in testdata")
	}
	return files
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
