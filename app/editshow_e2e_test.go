package app_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// An edit of an earlier job's image, with a URL input that carries a token
// in its query string, through a real MCP client against the dev stack: the
// edit's status names both inputs (the URL without its query string), the
// gallery links the edit to its source and the source back to the edit, and
// nothing the stack stored holds the token.
func TestAnEditShowsItsInputsAndLinksItsSource(t *testing.T) {
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	var ref bytes.Buffer
	img := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = 0xc0
	}
	img.Set(1, 1, color.NRGBA{R: 255, A: 255})
	if err := png.Encode(&ref, img); err != nil {
		t.Fatal(err)
	}
	refs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(ref.Bytes())
	}))
	t.Cleanup(refs.Close)

	dir := t.TempDir()
	cfg := devConfig(dir, fake)
	cfg.FetchAllow = []string{"127.0.0.1/32"} // the reference server is on loopback
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := testkit.Dev(ctx, cfg, logging.New(io.Discard, "text", "error"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	c := newStreamableClient(t, a.MCPURL, testToken)

	_, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "a red fox in a meadow", "model": "flux-2-klein-4b"})
	source, _ := out["job"].(map[string]any)
	if source["status"] != "completed" {
		t.Fatalf("source job: %v", out)
	}
	sourceID := source["job_id"].(string)
	if _, has := source["input_images"]; has {
		t.Errorf("a text-to-image job shows input_images: %v", source)
	}

	const secret = "s3cret-signature"
	res, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "the same fox in snow", "model": "flux-2-klein-4b",
		"input_images": []any{"images://" + sourceID, refs.URL + "/ref.png?sig=" + secret}})
	edit, _ := out["job"].(map[string]any)
	if res.IsError || edit["status"] != "completed" {
		t.Fatalf("edit job: %v", out)
	}
	editID := edit["job_id"].(string)

	res, st := callTool(t, c, "get_job_status", map[string]any{"job_id": editID})
	want := []any{"images://" + sourceID, refs.URL + "/ref.png?…"}
	if got, _ := st["input_images"].([]any); res.IsError || !slices.Equal(got, want) {
		t.Errorf("get_job_status input_images = %v, want %v", st["input_images"], want)
	}
	for _, c := range res.Content {
		if strings.Contains(toText(c), secret) {
			t.Errorf("get_job_status shows the URL's token: %s", toText(c))
		}
	}

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := hc.PostForm("http://"+a.Addr+"/login", url.Values{"token": {testToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	page := func(path string) string {
		t.Helper()
		resp, err := hc.Get("http://" + a.Addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
		return string(b)
	}
	if p := page("/job/" + editID); !strings.Contains(p, `<a href="/job/`+sourceID+`">image 1 of job `+sourceID[:8]+`</a>`) ||
		!strings.Contains(p, refs.URL+"/ref.png?…") || strings.Contains(p, secret) {
		t.Errorf("the edit's page does not link its source and show the URL without its token:\n%s", p)
	}
	if p := page("/job/" + sourceID); !strings.Contains(p, "Edited in") || !strings.Contains(p, `<a href="/job/`+editID+`">`) {
		t.Errorf("the source's page does not link the edit:\n%s", p)
	}
	if p := page("/"); !strings.Contains(p, `edit of <a href="/job/`+sourceID+`">`) {
		t.Errorf("the grid does not mark the edit:\n%s", p)
	}

	// What the stack stored (images, records, links, staged inputs) holds
	// no token. (Temporal's own database is not searched: the request's
	// URL is the workflow's input, as the caller gave it.)
	err = filepath.WalkDir(filepath.Join(dir, "images"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the URL's token", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func toText(c mcp.Content) string {
	if tc, ok := c.(mcp.TextContent); ok {
		return tc.Text
	}
	return ""
}
