package app_test

import (
	"context"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/proto"

	enumspb "go.temporal.io/api/enums/v1"
)

// TestHistoryStaysSmallAndFreeOfImageBytes checks that image bytes never enter
// workflow history. (The replay test's histories are recorded by
// workflows.TestRecordHistories.)
func TestHistoryStaysSmallAndFreeOfImageBytes(t *testing.T) {
	s := sharedDev(t)
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	record := func(args map[string]any) int {
		_, out := callTool(t, c, "generate_image_and_wait", args)
		id := out["job"].(map[string]any)["job_id"].(string)
		return proto.Size(fetchHistory(t, s, id))
	}
	size := record(map[string]any{"prompt": "a history lesson", "model": "sdxl-base"})
	t.Logf("history of one completed job: %d bytes", size)
	// A 64x64 PNG is ~200 bytes; the real ones are ~1 MB. 16 KB leaves room for
	// metadata while catching any image payload.
	if size > 16<<10 {
		t.Errorf("history of a completed job is %d bytes: is image data in it?", size)
	}
	s.fake.FailNext(1, 400, 5006, "Type mismatch of '/prompt', 'string' not in 'integer'")
	if size := record(map[string]any{"prompt": "a failing lesson"}); size > 16<<10 {
		t.Errorf("history of a failed job is %d bytes", size)
	}
}

func fetchHistory(t *testing.T, s *stack, id string) *historypb.History {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it := s.app.Temporal().GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	return hist
}
