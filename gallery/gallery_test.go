package gallery_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegen/imagegen/gallery"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

const token = "gallery-test-token-5f1d2c9e"

// fakeLister serves jobs by status, paging like jobs.Client.
type fakeLister struct {
	mu    sync.Mutex
	jobs  map[workflows.Status][]jobs.Job
	err   error
	calls []jobs.ListOptions
}

func (f *fakeLister) List(_ context.Context, opts jobs.ListOptions) ([]jobs.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, opts)
	if f.err != nil {
		return nil, f.err
	}
	all := f.jobs[opts.Status]
	start := min(opts.Offset, len(all))
	end := min(start+opts.Limit, len(all))
	return all[start:end], nil
}

// Get finds a job by id among the listed ones, as a describe call would.
func (f *fakeLister) Get(_ context.Context, id string) (jobs.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return jobs.Job{}, f.err
	}
	for _, list := range f.jobs {
		for _, j := range list {
			if j.ID == id {
				return j, nil
			}
		}
	}
	return jobs.Job{}, jobs.ErrNotFound
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// epochUnix is the tests' pinned "now".
const epochUnix = 1772366400 // 2026-03-01T12:00:00Z

func epochTime() time.Time { return time.Unix(epochUnix, 0).UTC() }

func sampleJobs() map[workflows.Status][]jobs.Job {
	epoch := epochTime()
	return map[workflows.Status][]jobs.Job{
		workflows.StatusCompleted: {
			{
				ID: "11111111-1111-4111-8111-111111111111", Status: workflows.StatusCompleted,
				Prompt: "a lighthouse at dawn", Model: "flux-schnell",
				ImageURL:  "https://images.example.com/a.png",
				CreatedAt: epoch.Add(-10 * time.Minute), UpdatedAt: epoch.Add(-9 * time.Minute),
				UIURL:  "http://127.0.0.1:8233/namespaces/default/workflows/11111111-1111-4111-8111-111111111111",
				Result: &workflows.Result{ImageURL: "https://images.example.com/a.png", ContentType: "image/png", Placeholder: true},
			},
			{
				ID: "22222222-2222-4222-8222-222222222222", Status: workflows.StatusCompleted,
				Prompt: "three foxes", Model: "sdxl-lightning",
				ImageURL:  "https://cdn.example.org/f1.png",
				CreatedAt: epoch.Add(-3 * time.Hour), UpdatedAt: epoch.Add(-3 * time.Hour),
				Result: &workflows.Result{ImageURL: "https://cdn.example.org/f1.png", Images: []workflows.Image{
					{URL: "https://cdn.example.org/f1.png"}, {URL: "https://cdn.example.org/f2.png"},
				}},
			},
		},
		workflows.StatusPending: {
			{ID: "33333333-3333-4333-8333-333333333333", Status: workflows.StatusPending, Prompt: "a queued castle", Model: "flux-schnell", CreatedAt: epoch.Add(-5 * time.Second)},
		},
		workflows.StatusProcessing: {
			{ID: "44444444-4444-4444-8444-444444444444", Status: workflows.StatusProcessing, Stage: "generating", Prompt: "a busy robot", Model: "flux-schnell", CreatedAt: epoch.Add(-30 * time.Second)},
		},
		workflows.StatusFailed: {
			{ID: "55555555-5555-4555-8555-555555555555", Status: workflows.StatusFailed, Prompt: "a forbidden picture", Model: "flux-schnell", Error: "the provider refused the prompt (content policy)", CreatedAt: epoch.Add(-2 * time.Hour), UpdatedAt: epoch.Add(-2 * time.Hour)},
		},
	}
}

type testServer struct {
	*httptest.Server
	lister *fakeLister
	clock  *clock
	logs   *bytes.Buffer
}

func newServer(t *testing.T, authToken string, lister *fakeLister) *testServer {
	t.Helper()
	return newServerIn(t, authToken, lister, "", &clock{now: epochTime()})
}

// newServerIn is newServer keeping its revoked sessions in dataDir ("":
// in memory), on the clock clk.
func newServerIn(t *testing.T, authToken string, lister *fakeLister, dataDir string, clk *clock) *testServer {
	t.Helper()
	logs := &bytes.Buffer{}
	h := gallery.New(gallery.Options{
		Jobs: lister, AuthToken: authToken, Now: clk.Now,
		Logger:     slog.New(slog.NewTextHandler(&syncWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SessionTTL: time.Hour, DataDir: dataDir,
	})
	mux := http.NewServeMux()
	for _, p := range gallery.Patterns() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, lister: lister, clock: clk, logs: logs}
}

// syncWriter serialises log writes from concurrent handlers.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// browser is an HTTP client with cookies that does not follow redirects, so
// tests see each 303.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func getPage(t *testing.T, c *http.Client, u string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

func postLogin(t *testing.T, c *http.Client, base, tok string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, c, req)
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestGalleryShowsImagesRunningJobsAndFailures(t *testing.T) {
	s := newServer(t, "", &fakeLister{jobs: sampleJobs()})
	r := getPage(t, browser(t), s.URL+"/")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET / = %d %s", r.status, r.header.Get("Content-Type"))
	}
	mustContain(t, r.body,
		// Completed images: lazy img with the prompt as alt, linked, with
		// model, time and a link to the job in the Temporal UI.
		`<img src="https://images.example.com/a.png" alt="a lighthouse at dawn" loading="lazy"`,
		`<a class="thumb" href="https://images.example.com/a.png"`,
		`flux-schnell`, `9 min ago`, `datetime="2026-03-01T11:51:00Z"`,
		`href="http://127.0.0.1:8233/namespaces/default/workflows/11111111-1111-4111-8111-111111111111"`,
		`>PREVIEW<`,
		// A job with two images links the second and shows its count.
		`×2`, `href="https://cdn.example.org/f2.png"`,
		// Running jobs with their stage, failed ones with their error.
		`a queued castle`, `pending`, `a busy robot`, `processing · generating`,
		`a forbidden picture`, `the provider refused the prompt (content policy)`,
		// Running jobs make the page refresh itself.
		`<meta http-equiv="refresh" content="10">`,
	)
	if strings.Count(r.body, ">PREVIEW<") != 1 {
		t.Errorf("PREVIEW badge shown %d times, want only on the placeholder image", strings.Count(r.body, ">PREVIEW<"))
	}
	// Newest running job first.
	if strings.Index(r.body, "a queued castle") > strings.Index(r.body, "a busy robot") {
		t.Error("running jobs are not newest first")
	}
}

func TestGalleryRefreshesOnlyWhileJobsRun(t *testing.T) {
	js := sampleJobs()
	delete(js, workflows.StatusPending)
	delete(js, workflows.StatusProcessing)
	s := newServer(t, "", &fakeLister{jobs: js})
	r := getPage(t, browser(t), s.URL+"/")
	if strings.Contains(r.body, "http-equiv") || strings.Contains(r.body, "Running") {
		t.Errorf("page without running jobs refreshes or lists running jobs:\n%s", r.body)
	}
}

func TestGalleryShowsEmptyState(t *testing.T) {
	s := newServer(t, "", &fakeLister{})
	r := getPage(t, browser(t), s.URL+"/")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	mustContain(t, r.body, "No images yet")
	if strings.Contains(r.body, "Recently failed") || strings.Contains(r.body, `class="grid"`) {
		t.Error("empty gallery shows sections it has nothing for")
	}
}

func TestGalleryEscapesHostileJobData(t *testing.T) {
	epoch := epochTime()
	hostile := `<script>alert(1)</script>"><img src=x onerror=alert(2)>`
	js := map[workflows.Status][]jobs.Job{
		workflows.StatusCompleted: {
			{ID: "a", Status: workflows.StatusCompleted, Prompt: hostile, Model: hostile, ImageURL: "javascript:alert(3)", UIURL: "javascript:alert(4)", CreatedAt: epoch},
			{ID: "b", Status: workflows.StatusCompleted, Prompt: "ok", Model: "m", ImageURL: "https://evil.example.com;script-src *;/x.png", CreatedAt: epoch},
		},
		workflows.StatusProcessing: {{ID: "c", Status: workflows.StatusProcessing, Stage: hostile, Prompt: hostile, Model: "m", CreatedAt: epoch}},
		workflows.StatusFailed:     {{ID: "d", Status: workflows.StatusFailed, Prompt: hostile, Model: "m", Error: hostile, CreatedAt: epoch}},
	}
	s := newServer(t, "", &fakeLister{jobs: js})
	r := getPage(t, browser(t), s.URL+"/")
	for _, bad := range []string{"<script>", "<img src=x", `"><img`, "javascript:"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("page contains %q unescaped", bad)
		}
	}
	if n := strings.Count(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 4 {
		t.Errorf("hostile text shown escaped %d times, want it as text in every place (prompt, stage, error)", n)
	}
	if csp := r.header.Get("Content-Security-Policy"); strings.Contains(csp, "script-src") || strings.Contains(csp, "evil") {
		t.Errorf("an image URL injected into the policy: %s", csp)
	}
}

func TestGallerySetsSecurityHeaders(t *testing.T) {
	s := newServer(t, token, &fakeLister{jobs: sampleJobs()})
	c := browser(t)
	for _, path := range []string{"/login", "/"} {
		if path == "/" {
			postLogin(t, c, s.URL, token)
		}
		r := getPage(t, c, s.URL+path)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s = %d", path, r.status)
		}
		for k, v := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"X-Frame-Options":        "DENY",
			"Cache-Control":          "no-store",
		} {
			if got := r.header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
			}
		}
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: policy %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: policy allows scripts or inline code: %s", path, csp)
		}
		if path == "/" && !strings.Contains(csp, "img-src 'self' https://cdn.example.org https://images.example.com;") {
			t.Errorf("policy does not allow exactly the page's image origins: %s", csp)
		}
	}
}

// The stylesheet is inlined and allowed by its hash: a mismatch would leave
// the page unstyled in every browser.
func TestGalleryStyleIsAllowedByItsHash(t *testing.T) {
	s := newServer(t, token, &fakeLister{})
	for _, path := range []string{"/login"} {
		r := getPage(t, browser(t), s.URL+path)
		m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("GET %s has no style element", path)
		}
		sum := sha256.Sum256([]byte(m[1]))
		want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, want) {
			t.Errorf("GET %s: policy %q does not allow the inline style (%s)", path, csp, want)
		}
	}
}

func TestGalleryPaginates(t *testing.T) {
	epoch := epochTime()
	var done []jobs.Job
	for i := range 30 {
		done = append(done, jobs.Job{
			ID: fmt.Sprintf("job-%02d", i), Status: workflows.StatusCompleted, Prompt: fmt.Sprintf("prompt number %02d", i),
			Model: "flux-schnell", ImageURL: fmt.Sprintf("https://images.example.com/%02d.png", i), CreatedAt: epoch,
		})
	}
	lister := &fakeLister{jobs: map[workflows.Status][]jobs.Job{workflows.StatusCompleted: done}}
	s := newServer(t, "", lister)
	c := browser(t)

	p1 := getPage(t, c, s.URL+"/")
	if n := strings.Count(p1.body, "<figure"); n != gallery.PageSize {
		t.Errorf("page 1 shows %d images, want %d", n, gallery.PageSize)
	}
	mustContain(t, p1.body, "prompt number 00", "prompt number 23", `href="/?page=2"`)
	if strings.Contains(p1.body, "prompt number 24") || strings.Contains(p1.body, "Newer") {
		t.Error("page 1 shows the next page's image or a link to a newer page")
	}

	p2 := getPage(t, c, s.URL+"/?page=2")
	if n := strings.Count(p2.body, "<figure"); n != 6 {
		t.Errorf("page 2 shows %d images, want 6", n)
	}
	mustContain(t, p2.body, "prompt number 24", "prompt number 29", `href="/?page=1"`)
	if strings.Contains(p2.body, "page=3") {
		t.Error("last page links to a next page")
	}

	// Junk page numbers show the first page.
	if bad := getPage(t, c, s.URL+"/?page=-3"); !strings.Contains(bad.body, "prompt number 00") {
		t.Error("?page=-3 does not show the first page")
	}
}

func TestGalleryReportsUnavailableJobService(t *testing.T) {
	s := newServer(t, "", &fakeLister{err: errors.New("dial tcp 10.0.0.7:7233: connection refused")})
	r := getPage(t, browser(t), s.URL+"/")
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", r.status)
	}
	mustContain(t, r.body, "job service is unavailable")
	if strings.Contains(r.body, "10.0.0.7") {
		t.Error("page shows internal error details")
	}
	if !strings.Contains(s.logs.String(), "connection refused") {
		t.Error("the cause is not logged")
	}
}

func TestGalleryLogin(t *testing.T) {
	s := newServer(t, token, &fakeLister{jobs: sampleJobs()})
	c := browser(t)

	t.Run("without a cookie the gallery redirects to the login page", func(t *testing.T) {
		r := getPage(t, c, s.URL+"/")
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Fatalf("GET / = %d to %q, want 303 to /login", r.status, r.header.Get("Location"))
		}
		if strings.Contains(r.body, "lighthouse") {
			t.Error("redirect body leaks the gallery")
		}
		lf := getPage(t, c, s.URL+"/login")
		if lf.status != http.StatusOK {
			t.Fatalf("GET /login = %d", lf.status)
		}
		mustContain(t, lf.body, `<form class="login-box" method="post" action="/login">`, `type="password"`)
	})

	t.Run("a wrong token gets 401 and no cookie", func(t *testing.T) {
		r := postLogin(t, c, s.URL, token+"x")
		if r.status != http.StatusUnauthorized {
			t.Fatalf("wrong token: status %d, want 401", r.status)
		}
		if len(r.header.Values("Set-Cookie")) != 0 {
			t.Error("wrong token set a cookie")
		}
		mustContain(t, r.body, "That token is not valid.")
		if strings.Contains(r.body, token) {
			t.Error("401 page shows the token")
		}
		if r := postLogin(t, c, s.URL, ""); r.status != http.StatusUnauthorized {
			t.Errorf("empty token: status %d, want 401", r.status)
		}
	})

	var session *http.Cookie
	t.Run("the right token sets a strict HttpOnly session cookie", func(t *testing.T) {
		r := postLogin(t, c, s.URL, token)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
			t.Fatalf("login = %d to %q, want 303 to /", r.status, r.header.Get("Location"))
		}
		resp := http.Response{Header: r.header}
		for _, ck := range resp.Cookies() {
			if ck.Name == "imagegen_session" {
				session = ck
			}
		}
		if session == nil {
			t.Fatalf("no session cookie in %q", r.header.Values("Set-Cookie"))
		}
		if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" {
			t.Errorf("cookie %+v is not HttpOnly, SameSite=Strict, Path=/", session)
		}
		if strings.Contains(session.Value, token) {
			t.Error("cookie holds the token")
		}
	})
	if session == nil {
		t.FailNow()
	}

	t.Run("the cookie opens the gallery", func(t *testing.T) {
		r := getPage(t, c, s.URL+"/")
		if r.status != http.StatusOK {
			t.Fatalf("GET / with cookie = %d", r.status)
		}
		mustContain(t, r.body, "a lighthouse at dawn", `action="/logout"`)
		if strings.Contains(r.body, token) {
			t.Error("gallery page shows the token")
		}
		if lf := getPage(t, c, s.URL+"/login"); lf.status != http.StatusSeeOther {
			t.Errorf("GET /login when logged in = %d, want 303 to the gallery", lf.status)
		}
	})

	t.Run("tampered or foreign cookies are refused", func(t *testing.T) {
		exp, sig, _ := strings.Cut(session.Value, ".")
		flipped := []byte(sig)
		flipped[3] ^= 1
		for name, value := range map[string]string{
			"flipped MAC bit":     exp + "." + string(flipped),
			"extended expiry":     "9999999999." + sig,
			"no MAC":              exp,
			"the token itself":    token,
			"another token's MAC": sessionFor(t, "another-token", s.clock),
			"expiry and bad MAC":  exp + ".%%%",
			"MAC without expiry":  "." + sig,
		} {
			if r := getWithCookie(t, s.URL+"/", value); r.status != http.StatusSeeOther {
				t.Errorf("%s: GET / = %d, want 303 to /login", name, r.status)
			}
		}
		// The untampered cookie still works the same way.
		if r := getWithCookie(t, s.URL+"/", session.Value); r.status != http.StatusOK {
			t.Errorf("untampered cookie: GET / = %d", r.status)
		}
	})

	t.Run("logins from other sites are refused", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/login", strings.NewReader("token="+token))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if r := do(t, browser(t), req); r.status != http.StatusForbidden || len(r.header.Values("Set-Cookie")) != 0 {
			t.Errorf("cross-site login = %d, cookies %q; want 403 and none", r.status, r.header.Values("Set-Cookie"))
		}
	})

	t.Run("the token never reaches the logs", func(t *testing.T) {
		if strings.Contains(s.logs.String(), token) {
			t.Errorf("logs contain the token:\n%s", s.logs.String())
		}
		if !strings.Contains(s.logs.String(), "gallery login refused") {
			t.Error("refused logins are not logged")
		}
	})

	t.Run("logout clears the cookie", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/logout", nil)
		if r := do(t, c, req); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Fatalf("logout = %d to %q", r.status, r.header.Get("Location"))
		}
		if r := getPage(t, c, s.URL+"/"); r.status != http.StatusSeeOther {
			t.Errorf("after logout GET / = %d, want 303", r.status)
		}
	})

	t.Run("sessions expire", func(t *testing.T) {
		session := loginCookie(t, s.URL, token) // the first one is logged out
		s.clock.Advance(59 * time.Minute)
		if r := getWithCookie(t, s.URL+"/", session.Value); r.status != http.StatusOK {
			t.Errorf("cookie before its expiry: GET / = %d", r.status)
		}
		s.clock.Advance(time.Minute)
		if r := getWithCookie(t, s.URL+"/", session.Value); r.status != http.StatusSeeOther {
			t.Errorf("cookie past its expiry: GET / = %d, want 303", r.status)
		}
	})
}

func TestGalleryWithoutTokenIsOpen(t *testing.T) {
	s := newServer(t, "", &fakeLister{jobs: sampleJobs()})
	c := browser(t)
	if r := getPage(t, c, s.URL+"/"); r.status != http.StatusOK || !strings.Contains(r.body, "a lighthouse at dawn") {
		t.Fatalf("GET / = %d", r.status)
	} else if strings.Contains(r.body, "/logout") {
		t.Error("open gallery offers a logout")
	}
	for _, r := range []response{getPage(t, c, s.URL+"/login"), postLogin(t, c, s.URL, "anything")} {
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" || len(r.header.Values("Set-Cookie")) != 0 {
			t.Errorf("login without a configured token = %d to %q; want 303 to / and no cookie", r.status, r.header.Get("Location"))
		}
	}
}

// The gallery's routes go on the same mux as the MCP endpoints: they must
// neither conflict with them (ServeMux panics) nor take their requests.
func TestGalleryRoutesLeaveOtherEndpointsAlone(t *testing.T) {
	mux := http.NewServeMux()
	for _, p := range []string{"/mcp", "/sse", "/message", "/images/", "GET /healthz"} {
		name := p
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "endpoint "+name) })
	}
	h := gallery.New(gallery.Options{Jobs: &fakeLister{}})
	for _, p := range gallery.Patterns() {
		mux.Handle(p, h)
	}
	for path, want := range map[string]string{
		"/mcp": "endpoint /mcp", "/sse": "endpoint /sse", "/images/ab/c.png": "endpoint /images/",
		"/healthz": "endpoint GET /healthz", "/": "No images yet",
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s answered %d %.80q, want %q", path, rec.Code, rec.Body.String(), want)
		}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nothing-here", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /nothing-here = %d, want 404 (the gallery must match / only)", rec.Code)
	}
}

// sessionFor logs in to a gallery configured with tok and returns its cookie.
func sessionFor(t *testing.T, tok string, clk *clock) string {
	t.Helper()
	h := gallery.New(gallery.Options{Jobs: &fakeLister{}, AuthToken: tok, Now: clk.Now})
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "imagegen_session" {
			return c.Value
		}
	}
	t.Fatalf("login with %q set no cookie (status %d)", tok, rec.Code)
	return ""
}

func getWithCookie(t *testing.T, u, value string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "imagegen_session", Value: value})
	return do(t, browser(t), req)
}

// loginCookie logs in to the gallery at base and returns the session cookie.
func loginCookie(t *testing.T, base, tok string) *http.Cookie {
	t.Helper()
	r := postLogin(t, browser(t), base, tok)
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == "imagegen_session" {
			return ck
		}
	}
	t.Fatalf("login = %d set no session cookie", r.status)
	return nil
}

func logoutWith(t *testing.T, base string, ck *http.Cookie) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(ck)
	return do(t, browser(t), req)
}

// Logging out revokes that session on the server, not only in the browser:
// a copy of the cookie (stolen, or kept by another tab) no longer opens the
// gallery, even after a restart on the same data dir, while other logins
// keep working.
func TestGalleryLogoutRevokesThatSessionAcrossRestarts(t *testing.T) {

	dir := t.TempDir()
	clk := &clock{now: epochTime()}
	s := newServerIn(t, token, &fakeLister{jobs: sampleJobs()}, dir, clk)

	a, b := loginCookie(t, s.URL, token), loginCookie(t, s.URL, token)
	if a.Value == b.Value {
		t.Fatalf("two logins got the same cookie %q", a.Value)
	}
	for name, ck := range map[string]*http.Cookie{"a": a, "b": b} {
		if r := getWithCookie(t, s.URL+"/", ck.Value); r.status != http.StatusOK {
			t.Fatalf("cookie %s before logout: GET / = %d", name, r.status)
		}
	}
	if r := logoutWith(t, s.URL, a); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Fatalf("logout = %d to %q, want 303 to /login", r.status, r.header.Get("Location"))
	}
	check := func(t *testing.T, s *testServer) {
		t.Helper()
		if r := getWithCookie(t, s.URL+"/", a.Value); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Errorf("logged-out cookie: GET / = %d to %q, want 303 to /login", r.status, r.header.Get("Location"))
		}
		if r := getWithCookie(t, s.URL+"/", b.Value); r.status != http.StatusOK {
			t.Errorf("the other session: GET / = %d, want 200", r.status)
		}
	}
	check(t, s)

	fi, err := os.Stat(filepath.Join(dir, gallery.RevokedFile))
	if err != nil {
		t.Fatalf("revocation not saved: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", gallery.RevokedFile, fi.Mode().Perm())
	}

	t.Run("after a restart on the same data dir", func(t *testing.T) {
		check(t, newServerIn(t, token, &fakeLister{jobs: sampleJobs()}, dir, clk))
	})

	t.Run("expired revocations are pruned", func(t *testing.T) {
		clk.Advance(2 * time.Hour) // past both cookies' expiry (TTL 1 h)
		c := loginCookie(t, s.URL, token)
		if r := logoutWith(t, s.URL, c); r.status != http.StatusSeeOther {
			t.Fatalf("logout = %d", r.status)
		}
		data, err := os.ReadFile(filepath.Join(dir, gallery.RevokedFile))
		if err != nil {
			t.Fatal(err)
		}
		nonce := func(ck *http.Cookie) string { return strings.Split(ck.Value, ".")[1] }
		if strings.Contains(string(data), nonce(a)) || !strings.Contains(string(data), nonce(c)) {
			t.Errorf("revocation file %s: want only the live session %s", data, nonce(c))
		}
	})

	t.Run("an unreadable revocation file refuses older sessions", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, gallery.RevokedFile), []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
		older := loginCookie(t, s.URL, token)
		clk.Advance(time.Second)
		s2 := newServerIn(t, token, &fakeLister{jobs: sampleJobs()}, dir, clk)
		if r := getWithCookie(t, s2.URL+"/", older.Value); r.status != http.StatusSeeOther {
			t.Errorf("session from before the restart: GET / = %d, want 303 (fail closed)", r.status)
		}
		if r := getWithCookie(t, s2.URL+"/", loginCookie(t, s2.URL, token).Value); r.status != http.StatusOK {
			t.Errorf("new session: GET / = %d, want 200", r.status)
		}
	})
}
