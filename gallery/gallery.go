// Package gallery is the page people see at "/": recent images as a grid,
// with the running jobs and the latest failures above it. It is rendered on
// the server from embedded templates, with no script at all, so it needs no
// build step and its Content-Security-Policy can forbid every script.
package gallery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/internal/authlimit"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// Lister is what the gallery needs of the job client: lists for the grid,
// one job for its page.
type Lister interface {
	List(ctx context.Context, opts jobs.ListOptions) ([]jobs.Job, error)
	Get(ctx context.Context, id string) (jobs.Job, error)
}

// Options configures the gallery.
type Options struct {
	Jobs Lister
	// History, if set, holds the image records the grid of completed
	// images is read from (they outlive Temporal's retention); nil lists
	// completed jobs from visibility.
	History history.Store
	// AuthToken, when set, is required (through the login page) to see the
	// gallery: the same token as the MCP API's bearer token.
	AuthToken string
	// AuthLimiter rate-limits wrong tokens per client address (nil: none).
	AuthLimiter *authlimit.Limiter
	Logger      *slog.Logger
	// Now is the clock (default time.Now); tests pin it.
	Now func() time.Time
	// SessionTTL is how long a login lasts (default 7 days).
	SessionTTL time.Duration
	// DataDir, if set, keeps the sessions revoked by logout (RevokedFile)
	// across restarts; empty keeps them in memory only.
	DataDir string
}

// PageSize is how many images a page shows.
const PageSize = 24

const (
	// maxRunning and maxFailed bound the lists above the grid (each list is
	// one or two visibility calls, whatever its length).
	maxRunning = 20
	maxFailed  = 5
	// refreshSeconds is how often the page reloads while jobs are running.
	refreshSeconds = 10
)

// Patterns are the routes the handler from New serves; mount it on each.
func Patterns() []string {
	return []string{"GET /{$}", "GET /job/{id}", "GET /login", "POST /login", "POST /logout"}
}

//go:embed templates
var templateFS embed.FS

type gallery struct {
	jobs     Lister
	history  history.Store
	log      *slog.Logger
	now      func() time.Time
	sessions *sessions // nil when no token is set: the gallery is open
	limiter  *authlimit.Limiter
	tmpl     *template.Template
	css      template.CSS
	cssHash  string
}

// New returns the handler for the routes in Patterns.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 7 * 24 * time.Hour
	}
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		panic(fmt.Sprintf("gallery: embedded stylesheet missing: %v", err)) // a build defect, not a runtime condition
	}
	sum := sha256.Sum256(css)
	g := &gallery{
		jobs:    opts.Jobs,
		history: opts.History,
		log:     opts.Logger,
		now:     opts.Now,
		limiter: opts.AuthLimiter,
		tmpl:    template.Must(template.New("").Funcs(templateFuncs).ParseFS(templateFS, "templates/*.html")),
		css:     template.CSS(css), // our own embedded file, never user input
		// The stylesheet is inlined and allowed by its hash, so the policy
		// needs neither 'unsafe-inline' nor a second route for a .css file.
		cssHash: "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'",
	}
	if opts.AuthToken != "" {
		g.sessions = newSessions(opts.AuthToken, opts.SessionTTL, opts.Now, opts.DataDir, opts.Logger)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", g.index)
	mux.HandleFunc("GET /job/{id}", g.jobPage)
	mux.HandleFunc("GET /login", g.loginForm)
	mux.HandleFunc("POST /login", g.login)
	mux.HandleFunc("POST /logout", g.logout)
	// Login and logout change state: refuse them from other sites (the
	// browser's Sec-Fetch-Site / Origin headers tell), on top of SameSite.
	csrf := http.NewCrossOriginProtection()
	return g.headers(csrf.Handler(mux))
}

// headers sets the security headers every response of the gallery carries.
// index replaces the Content-Security-Policy with one that also names the
// image hosts of the page it renders.
func (g *gallery) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", g.policy(nil))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// The page shows private prompts: no shared cache may keep it.
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// policy builds the Content-Security-Policy. No script may run at all;
// images may come from this server and from the origins of the page's image
// URLs (an R2 bucket or public base URL the gallery cannot know in advance).
// Deriving them per page, rather than allowing img-src *, keeps a page from
// loading images from any host its own data does not name.
func (g *gallery) policy(imageOrigins []string) string {
	img := append([]string{"'self'"}, imageOrigins...)
	return strings.Join([]string{
		"default-src 'none'",
		"img-src " + strings.Join(img, " "),
		"style-src " + g.cssHash,
		"form-action 'self'",
		"frame-ancestors 'none'",
		"base-uri 'none'",
	}, "; ")
}

// imageOrigins lists the distinct http(s) origins of urls, for img-src.
func imageOrigins(urls []string) []string {
	var out []string
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
		o := scheme + "://" + host
		if (scheme == "http" || scheme == "https") && plainHost(host) && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

// extraImage is a job's second, third… image, linked under its card.
type extraImage struct {
	N   int
	URL string
}

// plainHost admits only host[:port] characters into the policy, so an odd URL
// in job data can never add a source or a directive to it.
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return false
		}
	}
	return true
}

// card is one job as the templates show it; everything is computed here so
// the templates only print.
type card struct {
	ID, Prompt, Model, Status, Stage, Error string
	ImageURL, UIURL                         string
	// More are the job's other images when it made several.
	More        []extraImage
	Count       int
	Placeholder bool
	Age, ISO    string
	// Inputs are the reference images of an edit; Sources the distinct
	// earlier jobs among them, each linked to its page.
	Inputs   []input
	Sources  []string
	Mask     string
	Strength string
	// Cost is the job's cost in a few words, CostDetail in a sentence;
	// both empty for jobs started before costs were counted.
	Cost, CostDetail string
}

// input is one reference image of an edit as the page shows it: a link to
// the job it came from, or the reference as text (a URL without its query
// string, an inline image's digest).
type input struct {
	Ref   string
	JobID string
	N     int // 1-based image number within JobID
}

type pageData struct {
	CSS                template.CSS
	Running, Failed    []card
	Images             []card
	Page               int
	PrevPage, NextPage int
	Refresh            int
	LoggedIn           bool
	Unavailable        bool
}

// maxPage keeps ?page within what jobs.Client will list.
const maxPage = jobs.MaxOffset/PageSize + 1

func (g *gallery) index(w http.ResponseWriter, r *http.Request) {
	if g.sessions != nil && !g.sessions.valid(r) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	page := 1
	if p, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && p > 1 {
		page = min(p, maxPage)
	}
	data := pageData{CSS: g.css, Page: page, LoggedIn: g.sessions != nil}

	// The four lists are independent Temporal queries: run them together so
	// the page costs one round trip's latency, not four.
	var (
		wg                                sync.WaitGroup
		pending, processing, failed, done []jobs.Job
		errs                              [4]error
	)
	ctx := r.Context()
	list := func(i int, out *[]jobs.Job, opts jobs.ListOptions) {
		wg.Go(func() { *out, errs[i] = g.jobs.List(ctx, opts) })
	}
	// One extra image tells whether an older page exists.
	if g.history != nil {
		wg.Go(func() { done, errs[0] = historyJobs(ctx, g.history, PageSize+1, (page-1)*PageSize) })
	} else {
		list(0, &done, jobs.ListOptions{Status: workflows.StatusCompleted, Limit: PageSize + 1, Offset: (page - 1) * PageSize})
	}
	if page == 1 {
		list(1, &pending, jobs.ListOptions{Status: workflows.StatusPending, Limit: maxRunning})
		list(2, &processing, jobs.ListOptions{Status: workflows.StatusProcessing, Limit: maxRunning})
		list(3, &failed, jobs.ListOptions{Status: workflows.StatusFailed, Limit: maxFailed})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			g.log.WarnContext(ctx, "gallery could not list jobs", "list", []string{"completed", "pending", "processing", "failed"}[i], "error", err)
			data.Unavailable = true
		}
	}

	now := g.now()
	running := append(pending, processing...)
	slices.SortStableFunc(running, func(a, b jobs.Job) int { return b.CreatedAt.Compare(a.CreatedAt) })
	for _, j := range running[:min(len(running), maxRunning)] {
		data.Running = append(data.Running, toCard(j, now))
	}
	for _, j := range failed {
		data.Failed = append(data.Failed, toCard(j, now))
	}
	if len(done) > PageSize {
		done, data.NextPage = done[:PageSize], page+1
	}
	if page > 1 {
		data.PrevPage = page - 1
	}
	var urls []string
	for _, j := range done {
		c := toCard(j, now)
		if c.ImageURL == "" {
			continue
		}
		data.Images = append(data.Images, c)
		urls = append(urls, c.ImageURL)
		for _, m := range c.More {
			urls = append(urls, m.URL)
		}
	}
	if len(data.Running) > 0 {
		data.Refresh = refreshSeconds
	}

	w.Header().Set("Content-Security-Policy", g.policy(imageOrigins(urls)))
	status := http.StatusOK
	if data.Unavailable {
		status = http.StatusServiceUnavailable
	}
	g.render(w, r, status, "page.html", data)
}

func toCard(j jobs.Job, now time.Time) card {
	c := card{
		ID: j.ID, Prompt: j.Prompt, Model: j.Model, Status: string(j.Status), Stage: j.Stage,
		Error: j.Error, ImageURL: j.ImageURL, UIURL: j.UIURL, Count: 1,
	}
	t := j.CreatedAt
	if j.Status.Terminal() && !j.UpdatedAt.IsZero() {
		t = j.UpdatedAt
	}
	if !t.IsZero() {
		c.Age, c.ISO = relative(now, t), t.UTC().Format(time.RFC3339)
	}
	for _, ref := range j.Inputs {
		in := input{Ref: ref}
		if id, index, ok := imagegen.JobOfRef(ref); ok {
			in.JobID, in.N = id, index+1
			if !slices.Contains(c.Sources, id) {
				c.Sources = append(c.Sources, id)
			}
		}
		c.Inputs = append(c.Inputs, in)
	}
	c.Mask = j.Mask
	if j.Strength != nil {
		c.Strength = strconv.FormatFloat(*j.Strength, 'g', -1, 64)
	}
	if cost := j.Cost; cost != nil {
		preview := j.Result != nil && j.Result.Placeholder
		c.Cost = cost.Short(j.Status.Terminal(), preview)
		c.CostDetail = cost.Summary(j.Model, j.Status.Terminal(), preview)
	}
	if res := j.Result; res != nil {
		c.Placeholder = res.Placeholder
		if len(res.Images) > 1 {
			c.Count = len(res.Images)
			for _, img := range res.Images {
				if img.URL != "" && img.URL != c.ImageURL {
					c.More = append(c.More, extraImage{N: len(c.More) + 2, URL: img.URL})
				}
			}
		}
	}
	return c
}

// templateFuncs are the helpers the templates call.
var templateFuncs = template.FuncMap{
	"add": func(a, b int) int { return a + b },
	// short is the first block of a job id, enough to tell jobs apart on a page.
	"short": func(id string) string {
		if len(id) > 8 {
			return id[:8]
		}
		return id
	},
	// brief shortens a staged inline image's digest; other references are
	// shown whole (the page's title attribute keeps the whole of it).
	"brief": func(ref string) string {
		if strings.HasPrefix(ref, "inline:") && len(ref) > 32 {
			return ref[:32] + "…"
		}
		return ref
	},
	// jobOf is the job an "images://JOB[/INDEX]" reference names, or "".
	"jobOf": func(ref string) string {
		id, _, _ := imagegen.JobOfRef(ref)
		return id
	},
}

// relative says how long ago t was, as people read it at a glance; the exact
// time is in the element's title and datetime.
func relative(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	case d < 30*24*time.Hour:
		return fmt.Sprintf("%d d ago", int(d/(24*time.Hour)))
	}
	return t.UTC().Format("2006-01-02")
}

// render executes a template into a buffer first, so that a template error
// becomes a clean 500 rather than half a page.
func (g *gallery) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := g.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		g.log.ErrorContext(r.Context(), "gallery template failed", "template", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// historyJobs is a page of completed jobs from the image records (package
// history), which outlive Temporal's retention: the gallery's grid reads
// them, like list_generations, when a history store is configured.
func historyJobs(ctx context.Context, s history.Store, limit, offset int) ([]jobs.Job, error) {
	entries, err := history.Page(ctx, s, limit, offset)
	if err != nil {
		return nil, err
	}
	out := make([]jobs.Job, 0, len(entries))
	for _, e := range entries {
		url := e.URL
		if !jobs.SafeURL(url) {
			url = ""
		}
		done := e.GeneratedAt
		if done.IsZero() {
			done = e.CreatedAt
		}
		out = append(out, recordJob(e, url, done))
	}
	return out, nil
}

// recordJob is a completed job as its first image record describes it.
func recordJob(e history.Entry, url string, done time.Time) jobs.Job {
	j := jobs.Job{
		ID: e.JobID, Status: workflows.StatusCompleted, Prompt: e.Request.Prompt, Model: e.Request.Model,
		ImageURL: url, CreatedAt: e.CreatedAt, UpdatedAt: done,
		Result:   &workflows.Result{ImageURL: url, ContentType: e.ContentType, SizeBytes: e.SizeBytes, Placeholder: e.Placeholder},
		Inputs:   imagegen.ShowRefs(e.Request.Inputs),
		Mask:     imagegen.ShowRef(e.Request.Mask),
		Strength: e.Request.Strength,
	}
	j.Cost = recordsCost(e)
	return j
}

// recordsCost is the cost the image records of a job say, summed; nil if
// they were written before costs were counted. A gallery card built from a
// job's first record shows that image's cost.
func recordsCost(entries ...history.Entry) *workflows.Cost {
	var c workflows.Cost
	var actual imagegen.USD
	known, any := true, false
	for _, e := range entries {
		if !e.HasCost() {
			continue
		}
		any = true
		c.PaidCalls += e.PaidCalls
		c.Preview = c.Preview || e.Placeholder
		if e.Cost == nil {
			known = false
		} else {
			actual += *e.Cost
		}
		if e.PaidCalls > 1 {
			c.PaidWithoutImage += e.PaidCalls - 1
		}
	}
	if !any {
		return nil
	}
	if known {
		c.Actual = &actual
	}
	return &c
}
