package activities_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/history"
)

// Storing an image of an edit writes its record with the inputs shown the
// safe way, and a link from each source job back to the edit.
func TestStoreOfAnEditRecordsItsInputsAndLinksItsSource(t *testing.T) {
	const source = "0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d"
	tests := []struct {
		name       string
		inputs     []string
		wantInputs []string
		wantLinks  []string
	}{
		{"a text-to-image job writes no link", nil, nil, nil},
		{"an edit of an earlier job links that job to it",
			[]string{"images://" + source + "/1", "https://cdn.example.com/a.png?token=s3cret"},
			[]string{"images://" + source + "/1", "https://cdn.example.com/a.png?…"},
			[]string{history.EditKey(source, request.JobID, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			// The image itself is generated plainly: only Store's input
			// (what the record describes) names the inputs.
			staged, err := f.generate(t, request)
			if err != nil {
				t.Fatal(err)
			}
			in := request
			in.Request.Inputs = tt.inputs
			created := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
			key := activities.ImageKey(in.JobID, 0, created, staged.ContentType)
			stored, err := f.store1(t, activities.StoreInput{JobID: in.JobID, Key: key, Staged: staged, Request: &in.Request, Created: created})
			if err != nil {
				t.Fatal(err)
			}
			var rec history.Record
			if err := json.Unmarshal(f.store.objects[stored.RecordKey], &rec); err != nil {
				t.Fatalf("record %s: %v", stored.RecordKey, err)
			}
			if !slices.Equal(rec.Request.Inputs, tt.wantInputs) {
				t.Errorf("record inputs = %q, want %q", rec.Request.Inputs, tt.wantInputs)
			}
			var links []string
			for k, v := range f.store.objects {
				if strings.HasPrefix(k, history.EditsPrefix) {
					links = append(links, k)
				}
				if strings.Contains(string(v), "s3cret") {
					t.Errorf("the store holds a URL secret under %s", k)
				}
			}
			if !slices.Equal(links, tt.wantLinks) {
				t.Errorf("edit links = %v, want %v", links, tt.wantLinks)
			}
		})
	}
}
