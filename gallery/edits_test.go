package gallery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/gallery"
	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/objectstore"
	"github.com/imagegen/imagegen/workflows"
)

const (
	sourceID = "0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d"
	editID   = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
)

// editJobs are a source job and an edit of two of its images plus a URL,
// with a mask and a strength.
func editJobs() map[workflows.Status][]jobs.Job {
	epoch := epochTime()
	strength := 0.6
	return map[workflows.Status][]jobs.Job{
		workflows.StatusCompleted: {
			{
				ID: editID, Status: workflows.StatusCompleted, Prompt: "the same fox, in winter", Model: "flux-2-dev",
				ImageURL: "https://images.example.com/edit.png", CreatedAt: epoch.Add(-5 * time.Minute), UpdatedAt: epoch.Add(-4 * time.Minute),
				Result: &workflows.Result{ImageURL: "https://images.example.com/edit.png", ContentType: "image/png"},
				Inputs: []string{"images://" + sourceID, "images://" + sourceID + "/1", "https://cdn.example.org/snow.png?…"},
				Mask:   "inline:sha256-" + strings.Repeat("0f", 32), Strength: &strength,
			},
			{
				ID: sourceID, Status: workflows.StatusCompleted, Prompt: "a red fox", Model: "flux-2-dev",
				ImageURL: "https://images.example.com/src.png", CreatedAt: epoch.Add(-time.Hour), UpdatedAt: epoch.Add(-time.Hour),
				Result: &workflows.Result{ImageURL: "https://images.example.com/src.png", Images: []workflows.Image{
					{URL: "https://images.example.com/src.png"}, {URL: "https://images.example.com/src-1.png"},
				}},
			},
		},
	}
}

// historyServer is a gallery with an image history in a local store.
func historyServer(t *testing.T, lister *fakeLister, token string) (*httptest.Server, *objectstore.Local) {
	t.Helper()
	store, err := objectstore.NewLocal(t.TempDir(), "https://images.example.com")
	if err != nil {
		t.Fatal(err)
	}
	h := gallery.New(gallery.Options{Jobs: lister, History: store, AuthToken: token, Now: epochTime})
	mux := http.NewServeMux()
	for _, p := range gallery.Patterns() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, store
}

// writeEdit stores the edit's record and its links, as the Store activity does.
func writeEdit(t *testing.T, store *objectstore.Local, j jobs.Job) {
	t.Helper()
	rec := history.Record{JobID: j.ID, CreatedAt: j.CreatedAt, ContentType: "image/png", Key: "2026/03/01/" + j.ID + ".png",
		Request: editRequest(j)}
	b, err := history.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.Put(ctx, history.Key(rec.JobID, 0, rec.CreatedAt), b, history.ContentType); err != nil {
		t.Fatal(err)
	}
	if err := history.WriteLinks(ctx, store, rec); err != nil {
		t.Fatal(err)
	}
}

func TestGalleryLinksAnEditToItsSourceAndBack(t *testing.T) {
	js := editJobs()
	srv, store := historyServer(t, &fakeLister{jobs: js}, "")
	writeEdit(t, store, js[workflows.StatusCompleted][0])
	c := browser(t)

	// The grid (read from the records) marks the edit and links its source.
	grid := getPage(t, c, srv.URL+"/")
	mustContain(t, grid.body,
		`edit of <a href="/job/`+sourceID+`">job 0578872d</a>`,
		`<a href="/job/`+editID+`">details</a>`)
	if n := strings.Count(grid.body, "edit of"); n != 1 {
		t.Errorf("grid marks %d cards as edits, want only the edit", n)
	}

	// The edit's page links each image it was made from to the source's
	// page, shows the URL input as text, the mask and the strength.
	edit := getPage(t, c, srv.URL+"/job/"+editID)
	if edit.status != http.StatusOK {
		t.Fatalf("GET /job/%s = %d", editID, edit.status)
	}
	mustContain(t, edit.body,
		`<img src="https://images.example.com/edit.png" alt="the same fox, in winter"`,
		`<a href="/job/`+sourceID+`">image 1 of job 0578872d</a>`,
		`<a href="/job/`+sourceID+`">image 2 of job 0578872d</a>`,
		`<code title="https://cdn.example.org/snow.png?…">https://cdn.example.org/snow.png?…</code>`,
		`<code title="inline:sha256-`+strings.Repeat("0f", 32)+`">inline:sha256-`+strings.Repeat("0f", 9)+`…</code>`,
		`<dt>Strength</dt><dd>0.6</dd>`)
	if strings.Contains(edit.body, "Edited in") {
		t.Error("the edit's page says it was edited, but nothing took its image")
	}
	if csp := edit.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' https://images.example.com") || strings.Contains(csp, "cdn.example.org") {
		t.Errorf("job page policy %q: want its own images' origin, not the input URL's", csp)
	}

	// The source's page shows both its images and the edit, from one list
	// of its links.
	source := getPage(t, c, srv.URL+"/job/"+sourceID)
	mustContain(t, source.body,
		`<img src="https://images.example.com/src.png"`, `<img src="https://images.example.com/src-1.png" alt="image 2: a red fox"`,
		`<dt>Edited in</dt>`, `<a href="/job/`+editID+`">job 3f2c9a1e</a>`, `5 min ago`)
	if strings.Contains(source.body, "Made from") {
		t.Error("the source's page says it was made from other images")
	}
}

func TestGalleryJobPageAnswersForMissingBadAndUnreachableJobs(t *testing.T) {
	tests := []struct {
		name   string
		lister *fakeLister
		path   string
		status int
		want   string
	}{
		{"an unknown job is not found", &fakeLister{jobs: editJobs()}, "/job/00000000-0000-4000-8000-000000000000", http.StatusNotFound, "No job with that id"},
		{"an id that is not a job id is not found", &fakeLister{jobs: editJobs()}, "/job/..%2f..%2fetc", http.StatusNotFound, "No job with that id"},
		{"an unreachable job service says so", &fakeLister{err: jobs.ErrUnavailable}, "/job/" + editID, http.StatusServiceUnavailable, "the job service is unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := historyServer(t, tt.lister, "")
			r := getPage(t, browser(t), srv.URL+tt.path)
			if r.status != tt.status || !strings.Contains(r.body, tt.want) {
				t.Errorf("GET %s = %d, want %d with %q:\n%s", tt.path, r.status, tt.status, tt.want, r.body)
			}
		})
	}
}

// A job Temporal no longer knows is described from its image record, inputs
// and links included.
func TestGalleryJobPagePastRetentionReadsTheRecord(t *testing.T) {
	js := editJobs()
	edit := js[workflows.StatusCompleted][0]
	srv, store := historyServer(t, &fakeLister{}, "")
	writeEdit(t, store, edit)
	r := getPage(t, browser(t), srv.URL+"/job/"+editID)
	if r.status != http.StatusOK {
		t.Fatalf("GET /job/%s = %d:\n%s", editID, r.status, r.body)
	}
	mustContain(t, r.body, "the same fox, in winter", `<a href="/job/`+sourceID+`">image 2 of job 0578872d</a>`,
		`>https://cdn.example.org/snow.png?…</code>`, "past the Temporal retention period",
		`<img src="https://images.example.com/images/2026/03/01/`+editID+`.png"`)
}

func TestGalleryJobPageNeedsALogin(t *testing.T) {
	srv, _ := historyServer(t, &fakeLister{jobs: editJobs()}, token)
	r := getPage(t, browser(t), srv.URL+"/job/"+editID)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" || strings.Contains(r.body, "winter") {
		t.Errorf("GET /job without a session = %d to %q, want 303 to /login and no job data", r.status, r.header.Get("Location"))
	}
}

func TestGalleryJobPageEscapesHostileInputs(t *testing.T) {
	hostile := `"><script>alert(1)</script>`
	js := editJobs()
	js[workflows.StatusCompleted][0].Inputs = []string{"images://" + hostile, "https://x.example/" + hostile}
	js[workflows.StatusCompleted][0].Mask = "images://" + sourceID + hostile
	srv, _ := historyServer(t, &fakeLister{jobs: js}, "")
	r := getPage(t, browser(t), srv.URL+"/job/"+editID)
	if strings.Contains(r.body, "<script>") || strings.Contains(r.body, `"><script`) {
		t.Errorf("hostile input shown unescaped:\n%s", r.body)
	}
	if !strings.Contains(r.body, "&lt;script&gt;") {
		t.Errorf("hostile input not shown as text:\n%s", r.body)
	}
}

// editRequest is the request a job's record describes.
func editRequest(j jobs.Job) imagegen.Request {
	return imagegen.Request{Prompt: j.Prompt, Model: j.Model, Inputs: j.Inputs, Mask: j.Mask, Strength: j.Strength}
}
