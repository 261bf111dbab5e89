package gallery_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

func usdp(v imagegen.USD) *imagegen.USD { return &v }

func TestGalleryShowsWhatJobsCost(t *testing.T) {
	js := sampleJobs()
	done := &js[workflows.StatusCompleted][1] // sdxl-lightning: no published price
	done.Cost = &workflows.Cost{PaidCalls: 2}
	preview := &js[workflows.StatusCompleted][0]
	preview.Cost = &workflows.Cost{Estimate: usdp(633_600), Actual: usdp(0), Preview: true}
	js[workflows.StatusProcessing][0].Cost = &workflows.Cost{Estimate: usdp(633_600)}
	js[workflows.StatusFailed][0].Cost = &workflows.Cost{Estimate: usdp(633_600), Actual: usdp(633_600), PaidCalls: 1, PaidWithoutImage: 1}
	s := newServer(t, "", &fakeLister{jobs: js})
	r := getPage(t, browser(t), s.URL+"/")
	if r.status != http.StatusOK {
		t.Fatalf("GET / = %d", r.status)
	}
	mustContain(t, r.body,
		`>no cost (preview)</span>`,
		`title="unknown: sdxl-lightning has no published price (2 paid provider calls)">cost unknown</span>`,
		`>est. $0.0006336</span>`,
		`title="$0.0006336 for 1 paid provider call, 1 of them without an image; estimated $0.0006336">$0.0006336</span>`,
	)
	// A job from before costs (the pending one) claims nothing.
	if strings.Count(r.body, `class="cost"`) != 4 {
		t.Errorf("%d cost labels, want 4 (one job has no cost data)", strings.Count(r.body, `class="cost"`))
	}

	page := getPage(t, browser(t), s.URL+"/job/"+js[workflows.StatusFailed][0].ID)
	mustContain(t, page.body, `<dt>Cost</dt><dd class="cost">$0.0006336 for 1 paid provider call, 1 of them without an image; estimated $0.0006336</dd>`)
}

func TestGalleryReadsCostsFromTheImageRecords(t *testing.T) {
	epoch := epochTime()
	srv, store := historyServer(t, &fakeLister{jobs: map[workflows.Status][]jobs.Job{}}, "")
	const id = "66666666-6666-4666-8666-666666666666"
	ctx := context.Background()
	for i, cost := range []imagegen.USD{633_600, 1_267_200} {
		rec := history.Record{JobID: id, Index: i, CreatedAt: epoch.Add(-time.Hour), ContentType: "image/jpeg",
			Key: "2026/03/01/" + id + ".jpg", Request: imagegen.Request{Prompt: "two castles", Model: "flux-schnell"},
			PaidCalls: i + 1, Cost: usdp(cost)}
		b, err := history.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Put(ctx, history.Key(id, i, rec.CreatedAt), b, history.ContentType); err != nil {
			t.Fatal(err)
		}
	}
	// The grid card is the job's first image: its cost.
	grid := getPage(t, browser(t), srv.URL+"/")
	mustContain(t, grid.body, `title="$0.0006336 for 1 paid provider call">$0.0006336</span>`)
	// The job page of a job Temporal no longer knows sums every record.
	page := getPage(t, browser(t), srv.URL+"/job/"+id)
	mustContain(t, page.body, `<dd class="cost">$0.0019008 for 3 paid provider calls, 1 of them without an image</dd>`)
}
