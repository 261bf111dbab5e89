package history_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/imagegen/imagegen/history"
)

// Images stored before records existed get records; a job that already has
// one (written by the Store activity, perhaps under another start time) is
// left alone, so a backfill never lists a job twice, and a second run writes
// nothing.
func TestBackfillRecordsOnlyJobsWithoutRecords(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			ctx := context.Background()
			base := time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC)
			// "recorded" already has a record, keyed by its run's start.
			put(t, s, record("recorded", 0, base.Add(time.Hour)))
			candidates := []history.Record{
				record("old-a", 0, base),
				record("old-b", 0, base.Add(2*time.Hour)),
				record("old-b", 1, base.Add(2*time.Hour)),
				// The backfill knows it by its first start: another key.
				record("recorded", 0, base.Add(30*time.Minute)),
			}

			dry, err := history.Backfill(ctx, s, candidates, true)
			if err != nil {
				t.Fatal(err)
			}
			if dry != (history.BackfillStats{Jobs: 3, Recorded: 1, Written: 3}) {
				t.Errorf("dry run: %+v, want 3 jobs, 1 recorded, 3 records to write", dry)
			}
			if page, _ := history.Page(ctx, s, 10, 0); len(page) != 1 {
				t.Fatalf("a dry run wrote records: %d listed", len(page))
			}

			st1, err := history.Backfill(ctx, s, candidates, false)
			if err != nil {
				t.Fatal(err)
			}
			if st1.Written != 3 {
				t.Errorf("first run: %+v, want 3 records written", st1)
			}
			page, err := history.Page(ctx, s, 10, 0)
			if err != nil {
				t.Fatal(err)
			}
			var jobs []string
			for _, e := range page {
				jobs = append(jobs, e.JobID)
			}
			if want := []string{"old-b", "recorded", "old-a"}; !slices.Equal(jobs, want) {
				t.Errorf("after the backfill the history lists %v, want %v (each job once, newest first)", jobs, want)
			}
			st2, err := history.Backfill(ctx, s, candidates, false)
			if err != nil {
				t.Fatal(err)
			}
			if st2.Written != 0 || st2.Recorded != 3 {
				t.Errorf("second run: %+v, want nothing written, 3 jobs recorded", st2)
			}
		})
	}
}
