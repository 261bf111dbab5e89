package history_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/history"
)

const (
	sourceA = "0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d"
	sourceB = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	editOne = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	editTwo = "4e3d2c1b-0a9f-4e8d-b7c6-5a4b3c2d1e0f"
)

// An edit's record keeps its inputs, mask and strength through the store,
// shown the safe way: job references as given, URLs without what may hold a
// token. Read back by page and by job.
func TestRecordsKeepTheInputsOfAnEditWithoutURLSecrets(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			ctx := context.Background()
			strength := 0.35
			rec := record(editOne, 0, time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
			rec.Request.Inputs = []string{"images://" + sourceA + "/1", "https://user:pw@cdn.example.com/ref.png?X-Amz-Signature=s3cret"}
			rec.Request.Mask = "inline:sha256-" + strings.Repeat("ab", 32)
			rec.Request.Strength = &strength
			put(t, s, rec)
			put(t, s, record("plain", 0, time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)))

			page, err := history.Page(ctx, s, 10, 0)
			if err != nil {
				t.Fatal(err)
			}
			found, err := history.Find(ctx, s, editOne)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) != 2 || len(found) != 1 {
				t.Fatalf("page %d entries, find %d; want 2 and 1", len(page), len(found))
			}
			wantInputs := []string{"images://" + sourceA + "/1", "https://cdn.example.com/ref.png?…"}
			for name, e := range map[string]history.Entry{"page": page[0], "find": found[0]} {
				r := e.Request
				if !slices.Equal(r.Inputs, wantInputs) || r.Mask != rec.Request.Mask || r.Strength == nil || *r.Strength != strength {
					t.Errorf("%s: inputs %q, mask %q, strength %v; want %q, %q, %v", name, r.Inputs, r.Mask, r.Strength, wantInputs, rec.Request.Mask, strength)
				}
			}
			if page[1].Request.Inputs != nil || page[1].Request.Mask != "" || page[1].Request.Strength != nil {
				t.Errorf("a text-to-image record reads back with inputs: %+v", page[1].Request)
			}
			raw, _, err := s.Get(ctx, history.Key(rec.JobID, 0, rec.CreatedAt))
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"s3cret", "pw@", "X-Amz"} {
				if strings.Contains(string(raw), secret) {
					t.Errorf("the stored record holds %q: %s", secret, raw)
				}
			}
		})
	}
}

// A job's edits are found with one list call of its links, newest first; an
// edit naming two images of one source links to it once, and an edit of two
// sources links to both.
func TestEditLinksListTheEditsOfAJobNewestFirst(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			ctx := context.Background()
			base := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
			one := record(editOne, 0, base)
			one.Request.Inputs = []string{"images://" + sourceA, "images://" + sourceA + "/2", "https://example.com/x.png"}
			two := record(editTwo, 0, base.Add(time.Hour))
			two.Request.Inputs = []string{"images://" + sourceB, "images://" + sourceA + "/1"}
			plain := record("plain", 0, base.Add(2*time.Hour))
			if links := history.EditLinks(plain); len(links) != 0 {
				t.Errorf("a job without job inputs links to %v", links)
			}
			if links := history.EditLinks(one); len(links) != 1 || links[0].Source != sourceA || links[0].Edit != editOne {
				t.Errorf("links of an edit naming one source twice = %+v, want one link to %s", links, sourceA)
			}
			for _, r := range []history.Record{one, two, plain} {
				put(t, s, r)
				// Written twice, as a retried Store attempt would.
				for range 2 {
					if err := history.WriteLinks(ctx, s, r); err != nil {
						t.Fatal(err)
					}
				}
			}
			edits := func(source string) []string {
				t.Helper()
				links, err := history.Edits(ctx, s, source, 10)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, l := range links {
					if l.Source != source || l.CreatedAt.IsZero() {
						t.Errorf("link %+v: want source %s and a time", l, source)
					}
					ids = append(ids, l.Edit)
				}
				return ids
			}
			if got, want := edits(sourceA), []string{editTwo, editOne}; !slices.Equal(got, want) {
				t.Errorf("edits of A = %v, want %v (newest first, each once)", got, want)
			}
			if got, want := edits(sourceB), []string{editTwo}; !slices.Equal(got, want) {
				t.Errorf("edits of B = %v, want %v", got, want)
			}
			if got := edits(editOne); len(got) != 0 {
				t.Errorf("a job nobody edited has edits %v", got)
			}
			if links, _ := history.Edits(ctx, s, sourceA, 10); len(links) == 2 && !links[1].CreatedAt.Equal(base) {
				t.Errorf("link time = %v, want the edit's start %v", links[1].CreatedAt, base)
			}
			// The records themselves are still the only thing the history lists.
			if page, err := history.Page(ctx, s, 10, 0); err != nil || len(page) != 3 {
				t.Errorf("history page = %d entries (%v), want the 3 records", len(page), err)
			}
		})
	}
}

// Rebuilding the records of old jobs writes their edit links too.
func TestBackfillWritesTheEditLinksOfTheRecordsItWrites(t *testing.T) {
	s := newLocal(t)
	ctx := context.Background()
	edit := record(editOne, 0, time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	edit.Request.Inputs = []string{"images://" + sourceA}
	if _, err := history.Backfill(ctx, s, []history.Record{edit}, true); err != nil {
		t.Fatal(err)
	}
	if links, err := history.Edits(ctx, s, sourceA, 10); err != nil || len(links) != 0 {
		t.Fatalf("a dry run wrote links: %v (%v)", links, err)
	}
	if _, err := history.Backfill(ctx, s, []history.Record{edit}, false); err != nil {
		t.Fatal(err)
	}
	links, err := history.Edits(ctx, s, sourceA, 10)
	if err != nil || len(links) != 1 || links[0].Edit != editOne {
		t.Errorf("edits of the source after the backfill = %+v (%v), want %s", links, err, editOne)
	}
}
