package workflows_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/history"
)

// A Store attempt whose record upload fails is retried by Temporal; the
// retry rewrites the same record key with the same bytes, so the image has
// exactly one record, and it describes the image.
func TestStoreRetryWritesTheHistoryRecordOnce(t *testing.T) {
	h := newHarness(t)
	h.store.failRecords = 1
	req := imagegen.Request{Prompt: "a lighthouse at dusk", Model: "sdxl-lightning", Width: 512, Height: 512}
	res, err := h.run(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if h.store.recordPuts != 2 {
		t.Fatalf("record puts = %d, want 2 (one failed attempt, one retry)", h.store.recordPuts)
	}
	var keys []string
	for k := range h.store.objects {
		if strings.HasPrefix(k, history.Prefix) {
			keys = append(keys, k)
		}
	}
	if len(keys) != 1 {
		t.Fatalf("records = %v, want exactly one", keys)
	}
	var rec history.Record
	if err := json.Unmarshal(h.store.objects[keys[0]], &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Request.Prompt != req.Prompt || rec.Request.Model != req.Model || rec.Request.Width != 512 ||
		rec.Key != res.Key || rec.ContentType != res.ContentType || rec.SizeBytes != res.SizeBytes || rec.Index != 0 ||
		rec.JobID == "" || rec.CreatedAt.IsZero() || h.store.types[keys[0]] != history.ContentType {
		t.Errorf("record = %+v (type %q), want the stored image %+v", rec, h.store.types[keys[0]], res)
	}
	if want := history.Key(rec.JobID, 0, rec.CreatedAt); keys[0] != want {
		t.Errorf("record key = %s, want %s", keys[0], want)
	}
}
