// Package apps_test drives the MCP Apps image viewer in headless Chromium,
// embedded by a small web host built on the official host-side AppBridge
// (@modelcontextprotocol/ext-apps), against a running dev service.
package apps_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/mcpserver"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// hostDir holds the test host: package.json and its lockfile, host.js
// (bundled here with esbuild from npm), host.html and sandbox.html.
const hostDir = "testdata/host"

const prompt = "a lighthouse on a cliff at dawn, watercolor"

// TestViewerInChromiumThroughTheOfficialAppBridge renders the viewer the way
// a web host does: the host page lists the tools, reads the UI resource the
// tool links, loads it through a sandbox proxy on another origin under the
// CSP the resource declares, and hands it a real tool result through the
// official AppBridge. Then it checks what a person would: the image loaded,
// the theme follows the host, and pressing "Variations" made a real
// tools/call through the bridge that started a real job of four images.
func TestViewerInChromiumThroughTheOfficialAppBridge(t *testing.T) {
	chromium := findChromium(t)
	bundle := bundleHost(t)

	svc := startDev(t, config.Config{Provider: app.ProviderPreview})
	devOrigin := strings.TrimSuffix(svc.MCPURL, "/mcp")
	site := httptest.NewServer(hostMux(bundle, backend(t, devOrigin)))
	defer site.Close()
	// The sandbox proxy must have another origin than the host page.
	sandboxURL := strings.Replace(site.URL, "127.0.0.1", "localhost", 1) + "/sandbox.html"

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute) // a bound on a hung browser, not an assertion
	defer cancel()
	b := startBrowser(t, ctx, chromium)

	// 1. A tool result from the running service, shown by the viewer.
	b.open(t, site.URL, sandboxURL, "generate_image_and_wait", map[string]any{"prompt": prompt, "model": "sdxl-lightning", "width": 768, "height": 512, "seed": 7}, "light")
	first := b.waitResult(t, "generate_image_and_wait")
	firstJob := first.Structured.Job
	if first.IsError || !first.Structured.Done || firstJob.Status != "completed" {
		t.Fatalf("generate_image_and_wait gave %+v", first)
	}
	read := b.hostEntry(t, "resources/read")
	wantCSP := map[string]any{"resourceDomains": []any{devOrigin}}
	if !jsonEqual(read["csp"], wantCSP) || read["prefersBorder"] != true || read["uri"] != mcpserver.ViewerURI {
		t.Errorf("resources/read as the host saw it = %v; want uri %s, csp %v, prefersBorder", read, mcpserver.ViewerURI, wantCSP)
	}
	if init := b.hostEntry(t, "initialized"); !strings.Contains(fmt.Sprint(init["appInfo"]), "imagegen-viewer") {
		t.Errorf("the view initialized as %v, want appInfo imagegen-viewer", init["appInfo"])
	}

	imgs := b.loadedImages(t, 1)
	if imgs[0].NaturalWidth <= 0 || !strings.HasPrefix(imgs[0].Src, devOrigin+"/images/") || imgs[0].Alt != prompt {
		t.Errorf("viewer image = %+v; want it loaded (naturalWidth > 0) from %s/images/ with the prompt as alt text", imgs[0], devOrigin)
	}
	view := b.viewText(t)
	for _, want := range []string{prompt, "PREVIEW", firstJob.Model, firstJob.JobID, "Variations", "Regenerate", "Open in Temporal UI"} {
		if !strings.Contains(view, want) {
			t.Errorf("viewer text misses %q:\n%s", want, view)
		}
	}
	if strings.Contains(view, "Retry") {
		t.Errorf("viewer offers Retry for a completed job:\n%s", view)
	}
	// The job's cost, in the sentence the server words: a preview costs nothing.
	if firstJob.Cost == nil || !strings.HasPrefix(firstJob.Cost.Summary, "preview: no cost") {
		t.Fatalf("preview job cost = %+v, want a summary starting \"preview: no cost\"", firstJob.Cost)
	}
	if got := b.factText(t, "Cost"); got != firstJob.Cost.Summary {
		t.Errorf("viewer shows cost %q, want the server's summary %q", got, firstJob.Cost.Summary)
	}
	b.screenshot(t, "viewer-light.png")

	// 2. The host switches to dark: the view follows through
	// ui/notifications/host-context-changed.
	light := b.viewBackground(t)
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](`window.setTheme("dark")`)); err != nil {
		t.Fatal(err)
	}
	dark := b.waitFor(t, "the viewer to turn dark", func() (string, bool) {
		bg := b.viewBackground(t)
		return bg, bg != light
	})
	if !isDark(dark) || isDark(light) {
		t.Errorf("viewer background light %q, dark %q: want a light one, then a dark one", light, dark)
	}
	b.screenshot(t, "viewer-dark.png")

	// 3. Pressing "Variations" (a real mouse click): a tools/call through the
	// bridge that starts a job of four new images of the same prompt.
	b.click(t, "#variations")
	call := b.waitToolCall(t, "generate_image")
	wantArgs := map[string]any{"prompt": prompt, "model": "sdxl-lightning", "width": 768, "height": 512, "n": 4}
	if !jsonEqual(call.Arguments, wantArgs) {
		t.Errorf("variations called generate_image with %v; want %v: the same settings, n=4 and no seed (new seeds)", call.Arguments, wantArgs)
	}
	varID := call.Result.Structured.JobID
	if varID == "" || varID == firstJob.JobID {
		t.Fatalf("variations started job %q (first job %q)", varID, firstJob.JobID)
	}
	// The job, asked of the service directly: it exists, it is the prompt's,
	// and it made four images.
	mc := mcpClient(t, svc.MCPURL)
	waited := callJSON(t, mc, "wait_for_completion", map[string]any{"job_id": varID})
	job, _ := waited["job"].(map[string]any)
	if waited["done"] != true || job["status"] != "completed" || job["prompt"] != prompt {
		t.Fatalf("variations job %s: %v", varID, waited)
	}
	if images, _ := job["images"].([]any); len(images) != 4 {
		t.Errorf("variations job %s has %d images, want 4", varID, len(images))
	}
	// The viewer followed that job through get_job_status and shows its four.
	four := b.loadedImages(t, 4)
	for _, im := range four {
		if im.NaturalWidth <= 0 {
			t.Errorf("variation image %s did not load", im.Src)
		}
	}
	if !b.calledTool(t, "get_job_status", varID) {
		t.Errorf("the viewer did not follow job %s through get_job_status", varID)
	}
	b.screenshot(t, "viewer-variations.png")

	// 4. "Open in Temporal UI" asks the host to open the job's workflow.
	b.click(t, "#temporal")
	link := b.waitFor(t, "ui/open-link", func() (string, bool) {
		e := b.findEntry(t, "ui/open-link")
		u, _ := e["url"].(string)
		return u, u != ""
	})
	if want, _ := job["temporal_ui_url"].(string); want == "" || link != want {
		t.Errorf("ui/open-link url %q, want the job's temporal_ui_url %q", link, want)
	}

	// 5. list_generations: a grid of the gallery's images.
	b.open(t, site.URL, sandboxURL, "list_generations", map[string]any{"limit": 8}, "light")
	gallery := b.waitResult(t, "list_generations")
	if gallery.IsError || len(gallery.Structured.Generations) == 0 {
		t.Fatalf("list_generations gave %+v", gallery)
	}
	tiles := b.loadedTiles(t, len(gallery.Structured.Generations))
	for _, im := range tiles {
		if im.NaturalWidth <= 0 {
			t.Errorf("gallery tile %s did not load", im.Src)
		}
	}
	b.screenshot(t, "viewer-gallery.png")

	// 6. Keyboard: a tile opens the image large; Escape goes back to the
	// grid with the focus on that tile; Enter opens it again.
	b.click(t, "#grid li:first-child .tile")
	b.waitView(t, "the first tile opened large", "job", "back")
	if err := chromedp.Do(b.ctx, chromedp.KeyEvent(kb.Escape)); err != nil {
		t.Fatal(err)
	}
	b.waitView(t, "Escape back to the grid, focus on the tile", "gallery", "tile")
	if err := chromedp.Do(b.ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	b.waitView(t, "Enter on the focused tile opening it", "job", "back")
	if text := b.viewText(t); !strings.Contains(text, gallery.Structured.Generations[0].Prompt) || !strings.Contains(text, "Back to gallery") {
		t.Errorf("opened tile shows:\n%s", text)
	}

	// 7. The host tears the view down: the view answers ui/resource-teardown.
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](`window.teardown()`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("ui/resource-teardown: %v", err)
	}
	b.hostEntry(t, "teardown-answered")
}

// TestViewerRetriesAFailedJob shows a job that failed (the provider refused
// its first call as bad input, a non-retryable error) and presses Retry:
// retry_job through the bridge runs it again under the same job id, the
// provider's second answer succeeds, and the view shows the image.
func TestViewerRetriesAFailedJob(t *testing.T) {
	chromium := findChromium(t)
	bundle := bundleHost(t)

	const failing = "a forbidden picture that the provider refuses once"
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	fake.SetPromptFailFunc(func(model, p string, call int) *workersaitest.Failure {
		if p == failing && call == 1 {
			return &workersaitest.Failure{Status: http.StatusBadRequest, Code: 5006, Message: "Input validation failed: prompt refused"}
		}
		return nil
	})
	svc := startDev(t, config.Config{Provider: app.ProviderWorkersAI,
		CloudflareAccountID: fake.AccountID, CloudflareAPIToken: fake.APIToken, CloudflareBaseURL: fake.URL})
	site := httptest.NewServer(hostMux(bundle, backend(t, strings.TrimSuffix(svc.MCPURL, "/mcp"))))
	defer site.Close()
	sandboxURL := strings.Replace(site.URL, "127.0.0.1", "localhost", 1) + "/sandbox.html"

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute) // a bound on a hung browser, not an assertion
	defer cancel()
	b := startBrowser(t, ctx, chromium)

	// A call the user stopped: the host says so instead of sending a result.
	b.openWith(t, site.URL, sandboxURL, "generate_image_and_wait", map[string]any{"prompt": failing}, "light", "the user pressed stop")
	b.hostEntry(t, "tool-cancelled")
	b.waitFor(t, "the view to say the call was canceled", func() (string, bool) {
		text := b.viewText(t)
		return text, strings.Contains(text, "The tool call was canceled: the user pressed stop")
	})
	if n := fake.CallsForPrompt(failing); n != 0 {
		t.Fatalf("a canceled call reached the provider %d times", n)
	}

	b.open(t, site.URL, sandboxURL, "generate_image_and_wait", map[string]any{"prompt": failing}, "light")
	res := b.waitResult(t, "generate_image_and_wait")
	job := res.Structured.Job
	if !res.IsError || job.Status != "failed" {
		t.Fatalf("generate_image_and_wait gave %+v, want a failed job", res)
	}
	b.waitFor(t, "the failed job with its error and a Retry button", func() (string, bool) {
		text := b.viewText(t)
		return text, strings.Contains(text, "Retry") && strings.Contains(text, "refused")
	})
	b.screenshot(t, "viewer-failed.png")

	b.click(t, "#retry")
	call := b.waitToolCall(t, "retry_job")
	if call.Arguments["job_id"] != job.JobID || call.Result == nil || call.Result.IsError {
		t.Fatalf("Retry called retry_job with %v, result %+v; want job_id %s", call.Arguments, call.Result, job.JobID)
	}
	waited := callJSON(t, mcpClient(t, svc.MCPURL), "wait_for_completion", map[string]any{"job_id": job.JobID})
	if j, _ := waited["job"].(map[string]any); waited["done"] != true || j["status"] != "completed" {
		t.Fatalf("job %s after Retry: %v", job.JobID, waited)
	}
	if n := fake.CallsForPrompt(failing); n != 2 {
		t.Errorf("the provider was called %d times for the prompt, want 2 (the refusal, then the retry)", n)
	}
	imgs := b.loadedImages(t, 1)
	if imgs[0].NaturalWidth <= 0 {
		t.Errorf("image after Retry did not load: %+v", imgs[0])
	}
	b.waitFor(t, "Retry gone once the job completed", func() (string, bool) {
		text := b.viewText(t)
		return text, !strings.Contains(text, "Retry") && strings.Contains(text, "The image is ready.")
	})
	// The view shows what the finished job cost, as get_job_status words it:
	// the actual amount and its paid provider calls.
	status := decode[mcpserver.JobView](t, callJSON(t, mcpClient(t, svc.MCPURL), "get_job_status", map[string]any{"job_id": job.JobID}))
	if status.Cost == nil || !strings.HasPrefix(status.Cost.Actual, "$") || status.Cost.PaidCalls < 1 ||
		!strings.HasPrefix(status.Cost.Summary, status.Cost.Actual+" for ") || !strings.Contains(status.Cost.Summary, "paid provider call") {
		t.Fatalf("retried job cost = %+v, want an actual dollar amount for its paid provider calls", status.Cost)
	}
	if got := b.factText(t, "Cost"); got != status.Cost.Summary || !strings.Contains(got, status.Cost.Actual) {
		t.Errorf("viewer shows cost %q, want the server's summary %q with the actual %s", got, status.Cost.Summary, status.Cost.Actual)
	}
	b.screenshot(t, "viewer-retried.png")
}

// waitView waits until the view shows section (job or gallery) and the
// focused element has the id or class focus.
func (b *browser) waitView(t *testing.T, what, section, focus string) {
	t.Helper()
	b.waitFor(t, what, func() (string, bool) {
		var st struct{ Section, Focus string }
		b.inView(t, `({section: document.getElementById("job").hidden ? (document.getElementById("gallery").hidden ? "" : "gallery") : "job",
			focus: document.activeElement ? (document.activeElement.id || document.activeElement.className) : ""})`, &st)
		return fmt.Sprintf("%+v", st), st.Section == section && st.Focus == focus
	})
}

// ---- the service and the host site ----

// startDev starts a dev service with cfg's provider settings on free ports
// and a temporary directory.
func startDev(t *testing.T, cfg config.Config) *app.App {
	t.Helper()
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg.Addr, cfg.DataDir, cfg.TemporalPort, cfg.UIPort, cfg.MaxWait = "127.0.0.1:0", t.TempDir(), 0, 0, 30*time.Second
	a, err := testkit.Dev(ctx, cfg, logging.New(logs, "text", "info"))
	if err != nil {
		t.Fatalf("start dev service: %v", err)
	}
	t.Cleanup(func() {
		a.Close()
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
	})
	return a
}

// bundleHost bundles host.js with the official packages for the browser.
func bundleHost(t *testing.T) []byte {
	t.Helper()
	esbuild := filepath.Join(hostDir, "node_modules", ".bin", "esbuild")
	if _, err := os.Stat(esbuild); err != nil {
		msg := "the test host's npm packages are not installed: run npm ci --prefix interop/apps/testdata/host"
		if os.Getenv("CI") != "" {
			t.Fatal(msg) // .ci/run installs them; missing there is a CI bug
		}
		t.Skip(msg)
	}
	out := filepath.Join(t.TempDir(), "host.js")
	cmd := exec.Command(esbuild, filepath.Join(hostDir, "host.js"), "--bundle", "--format=esm", "--platform=browser",
		"--log-level=warning", "--outfile="+out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// backend forwards the host page's MCP requests to the service the way a web
// host's own server does: to the service's address, as a server-side client
// (no browser Origin).
func backend(t *testing.T, service string) http.Handler {
	t.Helper()
	target, err := url.Parse(service)
	if err != nil {
		t.Fatal(err)
	}
	return &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Header.Del("Origin")
	}}
}

func hostMux(bundle []byte, mcp http.Handler) http.Handler {
	mux := http.NewServeMux()
	file := func(name, ctype string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, err := os.ReadFile(filepath.Join(hostDir, name))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", ctype)
			w.Write(b)
		}
	}
	mux.HandleFunc("GET /host.html", file("host.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /sandbox.html", file("sandbox.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /host.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(bundle)
	})
	// The host's MCP client talks to the service through its own origin, as
	// a web host's backend would.
	mux.Handle("/mcp", mcp)
	return mux
}

func mcpClient(t *testing.T, endpoint string) *client.Client {
	t.Helper()
	c, err := client.NewStreamableHttpClient(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	req.Params.ClientInfo = mcp.Implementation{Name: "apps-test", Version: "1"}
	if _, err := c.Initialize(ctx, req); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func callJSON(t *testing.T, c *client.Client, name string, args map[string]any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out map[string]any
	b, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(b, &out)
	return out
}

// ---- the browser ----

type browser struct {
	ctx context.Context
	dir string
}

func startBrowser(t *testing.T, ctx context.Context, chromium string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1000, 1300),
		// One renderer for the host, the sandbox and the view, so the test
		// can look into the nested frames; their origins stay distinct.
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.Flag("disable-features", "IsolateOrigins,site-per-process"),
	}
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	var consoleMu sync.Mutex
	var console []string
	bctx, cancelB := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancelB()
		cancelA()
		t.Skipf("chromium could not start: %v", err)
	}
	chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*runtime.EventConsoleAPICalled); ok {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`))
			}
			consoleMu.Lock()
			console = append(console, string(e.Type)+": "+strings.Join(parts, " "))
			consoleMu.Unlock()
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			consoleMu.Lock()
			t.Logf("browser console:\n%s", strings.Join(console, "\n"))
			consoleMu.Unlock()
		}
		cancelB()
		cancelA()
	})
	return &browser{ctx: bctx, dir: t.ArtifactDir()}
}

func (b *browser) open(t *testing.T, site, sandbox, tool string, args map[string]any, theme string) {
	t.Helper()
	b.openWith(t, site, sandbox, tool, args, theme, "")
}

// openWith loads the host page for one tool call; a cancel reason makes the
// host cancel the call instead of making it.
func (b *browser) openWith(t *testing.T, site, sandbox, tool string, args map[string]any, theme, cancel string) {
	t.Helper()
	a, _ := json.Marshal(args)
	q := url.Values{"tool": {tool}, "args": {string(a)}, "sandbox": {sandbox}, "theme": {theme},
		"prompt": {fmt.Sprintf("%s %s", tool, a)}}
	if cancel != "" {
		q.Set("cancel", cancel)
	}
	if err := chromedp.Do(b.ctx, chromedp.Navigate(site+"/host.html?"+q.Encode())); err != nil {
		t.Fatalf("open host page: %v", err)
	}
}

// waitFor polls cond until it holds. The context's deadline bounds a hung
// browser; nothing here measures time.
func (b *browser) waitFor(t *testing.T, what string, cond func() (string, bool)) string {
	t.Helper()
	for {
		v, ok := cond()
		if ok {
			return v
		}
		select {
		case <-b.ctx.Done():
			t.Fatalf("gave up waiting for %s (last: %s): %v\nhost error: %s", what, v, b.ctx.Err(), b.hostError())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (b *browser) hostError() string {
	s, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`window.hostError || ""`))
	return s
}

func (b *browser) hostLog(t *testing.T) []map[string]any {
	t.Helper()
	log, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]map[string]any](`JSON.parse(JSON.stringify(window.hostLog || []))`))
	if err != nil {
		t.Fatalf("read host log: %v", err)
	}
	if e := b.hostError(); e != "" {
		t.Fatalf("host page failed: %s", e)
	}
	return log
}

func (b *browser) findEntry(t *testing.T, method string) map[string]any {
	t.Helper()
	for _, e := range b.hostLog(t) {
		if e["method"] == method {
			return e
		}
	}
	return nil
}

func (b *browser) hostEntry(t *testing.T, method string) map[string]any {
	t.Helper()
	var e map[string]any
	b.waitFor(t, method, func() (string, bool) { e = b.findEntry(t, method); return "", e != nil })
	return e
}

// toolResult is the part of a CallToolResult the test reads.
type toolResult struct {
	IsError bool `json:"isError"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text,omitempty"`
	} `json:"content"`
	Structured struct {
		Done        bool                   `json:"done"`
		JobID       string                 `json:"job_id"`
		Job         mcpserver.JobView      `json:"job"`
		Generations []mcpserver.Generation `json:"generations"`
	} `json:"structuredContent"`
}

type toolCall struct {
	Name      string         `json:"name"`
	Arguments map[string]any `json:"arguments"`
	Result    *toolResult    `json:"result"`
}

func decode[T any](t *testing.T, v any) T {
	t.Helper()
	var out T
	raw, _ := json.Marshal(v)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return out
}

func (b *browser) waitResult(t *testing.T, tool string) toolResult {
	t.Helper()
	e := b.hostEntry(t, "tool-result")
	if e["name"] != tool {
		t.Fatalf("host delivered a result of %v, want %s", e["name"], tool)
	}
	return decode[toolResult](t, e["result"])
}

// waitToolCall waits for the view's first tools/call of name to return.
func (b *browser) waitToolCall(t *testing.T, name string) toolCall {
	t.Helper()
	var call toolCall
	b.waitFor(t, "a tools/call of "+name+" from the view", func() (string, bool) {
		for _, e := range b.hostLog(t) {
			if e["method"] == "tools/call" && e["name"] == name && e["result"] != nil {
				call = decode[toolCall](t, e)
				return "", true
			}
		}
		return "", false
	})
	return call
}

func (b *browser) calledTool(t *testing.T, name, jobID string) bool {
	t.Helper()
	for _, e := range b.hostLog(t) {
		if a, _ := e["arguments"].(map[string]any); e["method"] == "tools/call" && e["name"] == name && a["job_id"] == jobID {
			return true
		}
	}
	return false
}

// frames returns the sandbox proxy's frame and the view's frame inside it.
func (b *browser) frames(t *testing.T) (sandbox, view *page.FrameTree) {
	t.Helper()
	res, err := chromedp.Run(b.ctx, func(ctx context.Context, tg *chromedp.Target) (page.GetFrameTreeResult, error) {
		return cdp.Call(ctx, tg, page.GetFrameTree, cdp.Empty{})
	})
	if err != nil {
		t.Fatal(err)
	}
	tree := res.FrameTree
	if len(tree.ChildFrames) == 0 || len(tree.ChildFrames[0].ChildFrames) == 0 {
		return nil, nil
	}
	return tree.ChildFrames[0], tree.ChildFrames[0].ChildFrames[0]
}

// evalIn evaluates expr in an isolated world of a frame: the frame's DOM,
// none of its scripts' variables.
func (b *browser) evalIn(frame cdp.FrameID, expr string, out any) error {
	return chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		world, err := cdp.Call(ctx, tg, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{FrameID: frame, WorldName: "imagegen-test"})
		if err != nil {
			return err
		}
		byValue := true
		res, err := cdp.Call(ctx, tg, runtime.Evaluate, runtime.EvaluateParams{
			Expression: expr, ContextID: world.ExecutionContextID, ReturnByValue: &byValue})
		if err != nil {
			return err
		}
		if exc := res.ExceptionDetails; exc != nil {
			return fmt.Errorf("evaluate in frame: %s", exc.Text)
		}
		return json.Unmarshal(res.Result.Value, out)
	}))
}

// inView evaluates expr in the view's frame, waiting for the frame to exist.
func (b *browser) inView(t *testing.T, expr string, out any) {
	t.Helper()
	b.waitFor(t, "the view's frame", func() (string, bool) {
		_, view := b.frames(t)
		if view == nil || view.Frame.URL != "about:srcdoc" {
			return "", false
		}
		err := b.evalIn(view.Frame.ID, expr, out)
		return fmt.Sprint(err), err == nil
	})
}

type imageState struct {
	Src          string  `json:"src"`
	Alt          string  `json:"alt"`
	Complete     bool    `json:"complete"`
	NaturalWidth float64 `json:"naturalWidth"`
}

func (b *browser) images(t *testing.T, selector string, n int) []imageState {
	t.Helper()
	var imgs []imageState
	b.waitFor(t, fmt.Sprintf("%d finished images at %s", n, selector), func() (string, bool) {
		imgs = nil
		b.inView(t, `[...document.querySelectorAll(`+jsString(selector)+`)].map(i => ({src: i.src, alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth}))`, &imgs)
		done := len(imgs) == n && !slices.ContainsFunc(imgs, func(i imageState) bool { return !i.Complete })
		return fmt.Sprint(imgs), done
	})
	return imgs
}

func (b *browser) loadedImages(t *testing.T, n int) []imageState {
	return b.images(t, "#job:not([hidden]) #images img", n)
}

func (b *browser) loadedTiles(t *testing.T, n int) []imageState {
	return b.images(t, "#gallery:not([hidden]) .tile img", n)
}

func (b *browser) viewText(t *testing.T) string {
	t.Helper()
	var s string
	b.inView(t, `document.body.innerText`, &s)
	return s
}

// factText returns the value the view shows beside a label in its facts
// list ("" when there is none).
func (b *browser) factText(t *testing.T, label string) string {
	t.Helper()
	var s string
	b.inView(t, `(() => { for (const d of document.querySelectorAll("#job:not([hidden]) #facts > div")) {
		if (d.querySelector("dt").textContent === `+jsString(label)+`) return d.querySelector("dd").textContent; } return ""; })()`, &s)
	return s
}

func (b *browser) viewBackground(t *testing.T) string {
	t.Helper()
	var s string
	b.inView(t, `getComputedStyle(document.body).backgroundColor`, &s)
	return s
}

// click presses the view's element with the mouse, at its place on the
// page: the offsets of the sandbox and view frames plus its own.
func (b *browser) click(t *testing.T, selector string) {
	t.Helper()
	type rect struct{ X, Y, W, H float64 }
	var inner rect
	b.inView(t, `(() => { const el = document.querySelector(`+jsString(selector)+`); el.scrollIntoView({block: "center"});
		const r = el.getBoundingClientRect(); return {X: r.left, Y: r.top, W: r.width, H: r.height}; })()`, &inner)
	if inner.W == 0 || inner.H == 0 {
		t.Fatalf("%s is not visible in the view", selector)
	}
	frameOffset := `(() => { const f = document.querySelector("iframe"); const r = f.getBoundingClientRect();
		return {X: r.left + f.clientLeft, Y: r.top + f.clientTop, W: r.width, H: r.height}; })()`
	sandbox, _ := b.frames(t)
	var inSandbox rect
	if err := b.evalIn(sandbox.Frame.ID, frameOffset, &inSandbox); err != nil {
		t.Fatal(err)
	}
	onPage, err := chromedp.Run(b.ctx, chromedp.Evaluate[rect](frameOffset))
	if err != nil {
		t.Fatal(err)
	}
	x := onPage.X + inSandbox.X + inner.X + inner.W/2
	y := onPage.Y + inSandbox.Y + inner.Y + inner.H/2
	if err := chromedp.Do(b.ctx, chromedp.MouseClickXY(x, y)); err != nil {
		t.Fatalf("click %s: %v", selector, err)
	}
}

// screenshot saves the page, cropped to the host's conversation turn, as a
// test artifact.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	bottom, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`document.querySelector(".turn").getBoundingClientRect().bottom + 24`))
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); int(bottom) < r.Dy() {
		if sub, ok := img.(interface {
			SubImage(image.Rectangle) image.Image
		}); ok {
			img = sub.SubImage(image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+int(bottom)))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(b.dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%v); keep it with go test -artifacts", path, img.Bounds().Size())
}

// ---- small helpers ----

func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install chromium); skipping the MCP Apps viewer browser test")
	return ""
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// isDark tells a dark CSS rgb() colour from a light one.
func isDark(css string) bool {
	var r, g, bl int
	if _, err := fmt.Sscanf(css, "rgb(%d, %d, %d)", &r, &g, &bl); err != nil {
		return false
	}
	return r+g+bl < 3*96
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

var _ io.Writer = (*syncBuffer)(nil)
