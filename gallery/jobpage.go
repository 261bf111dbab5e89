package gallery

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"time"

	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/jobs"
)

// maxEdits bounds the "edited in" list of a job page (one list call).
const maxEdits = 24

// editCard is a later job that took an image of this one as an input.
type editCard struct {
	ID       string
	Age, ISO string
}

type jobPageData struct {
	CSS      template.CSS
	Job      card
	Images   []string // every image URL of the job, the first first
	Edits    []editCard
	Refresh  int
	LoggedIn bool
	// Note says the job is past Temporal's retention and is described
	// from its image records.
	Note        bool
	NotFound    bool
	Unavailable bool
}

// jobPage shows one job: its images, prompt and settings, the images it was
// made from (each linked to its own job's page) and, from the history's edit
// links, the later jobs that edited it. It costs one describe call and, with
// a history store, one list call; a job Temporal no longer knows is looked
// up in the image records (a scan, as for get_job_status).
func (g *gallery) jobPage(w http.ResponseWriter, r *http.Request) {
	if g.sessions != nil && !g.sessions.valid(r) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	data := jobPageData{CSS: g.css, LoggedIn: g.sessions != nil}
	id := r.PathValue("id")
	if jobs.ValidateID(id) != nil {
		data.NotFound = true
		g.render(w, r, http.StatusNotFound, "job.html", data)
		return
	}
	job, images, past, err := g.lookup(ctx, id)
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		data.NotFound = true
		g.render(w, r, http.StatusNotFound, "job.html", data)
		return
	case err != nil:
		g.log.WarnContext(ctx, "gallery could not read a job", "job_id", id, "error", err)
		data.Unavailable = true
		g.render(w, r, http.StatusServiceUnavailable, "job.html", data)
		return
	}
	now := g.now()
	data.Job, data.Images, data.Note = toCard(job, now), images, past
	if !job.Status.Terminal() {
		data.Refresh = refreshSeconds
	}
	if g.history != nil {
		links, err := history.Edits(ctx, g.history, id, maxEdits)
		if err != nil {
			g.log.WarnContext(ctx, "gallery could not list the edits of a job", "job_id", id, "error", err)
		}
		for _, l := range links {
			if jobs.ValidateID(l.Edit) == nil {
				data.Edits = append(data.Edits, editCard{ID: l.Edit, Age: relative(now, l.CreatedAt), ISO: l.CreatedAt.UTC().Format(time.RFC3339)})
			}
		}
	}
	w.Header().Set("Content-Security-Policy", g.policy(imageOrigins(images)))
	g.render(w, r, http.StatusOK, "job.html", data)
}

// lookup returns the job and the URLs of its images: from Temporal, or, for
// a job past its retention, from its image records (past is then true).
func (g *gallery) lookup(ctx context.Context, id string) (job jobs.Job, images []string, past bool, err error) {
	job, err = g.jobs.Get(ctx, id)
	if err == nil {
		if res := job.Result; res != nil && len(res.Images) > 0 {
			for _, img := range res.Images {
				if jobs.SafeURL(img.URL) {
					images = append(images, img.URL)
				}
			}
		} else if jobs.SafeURL(job.ImageURL) {
			images = []string{job.ImageURL}
		}
		return job, images, false, nil
	}
	if !errors.Is(err, jobs.ErrNotFound) || g.history == nil {
		return jobs.Job{}, nil, false, err
	}
	entries, herr := history.Find(ctx, g.history, id)
	if herr != nil {
		g.log.WarnContext(ctx, "gallery could not search the image records", "job_id", id, "error", herr)
		return jobs.Job{}, nil, false, err
	}
	if len(entries) == 0 {
		return jobs.Job{}, nil, false, jobs.ErrNotFound
	}
	done := entries[0].GeneratedAt
	for _, e := range entries {
		if jobs.SafeURL(e.URL) {
			images = append(images, e.URL)
		}
		if e.GeneratedAt.After(done) {
			done = e.GeneratedAt
		}
	}
	if done.IsZero() {
		done = entries[0].CreatedAt
	}
	first := ""
	if len(images) > 0 {
		first = images[0]
	}
	job = recordJob(entries[0], first, done)
	job.Cost = recordsCost(entries...)
	return job, images, true, nil
}
