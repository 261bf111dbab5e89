package apps_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
)

// TestViewerShowsAnEditAndRepeatsItWithItsInputs shows edits in the viewer
// through the official AppBridge: the view lists an edit's input, and its
// Regenerate and Variations buttons call generate_image with that input
// again, whether the view made the call or only shows the job; for an edit
// whose URL input is shown without its query string the buttons are hidden,
// since that URL cannot be named again.
func TestViewerShowsAnEditAndRepeatsItWithItsInputs(t *testing.T) {
	chromium := findChromium(t)
	bundle := bundleHost(t)

	var ref bytes.Buffer
	if err := png.Encode(&ref, image.NewGray(image.Rect(0, 0, 32, 32))); err != nil {
		t.Fatal(err)
	}
	refs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(ref.Bytes())
	}))
	defer refs.Close()
	svc := startDev(t, config.Config{Provider: app.ProviderPreview, FetchAllow: []string{"127.0.0.1/32"}})
	site := httptest.NewServer(hostMux(bundle, backend(t, strings.TrimSuffix(svc.MCPURL, "/mcp"))))
	defer site.Close()
	sandboxURL := strings.Replace(site.URL, "127.0.0.1", "localhost", 1) + "/sandbox.html"
	mc := mcpClient(t, svc.MCPURL)
	source := callJSON(t, mc, "generate_image_and_wait", map[string]any{"prompt": "a red fox in a meadow", "model": "flux-2-klein-4b"})
	sourceJob, _ := source["job"].(map[string]any)
	sourceID, _ := sourceJob["job_id"].(string)
	if sourceID == "" {
		t.Fatalf("source job: %v", source)
	}
	input := "images://" + sourceID

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute) // a bound on a hung browser, not an assertion
	defer cancel()
	b := startBrowser(t, ctx, chromium)

	// 1. The view made the edit: Regenerate repeats the call, inputs included.
	editArgs := map[string]any{"prompt": "the same fox in snow", "model": "flux-2-klein-4b", "input_images": []any{input}}
	b.open(t, site.URL, sandboxURL, "generate_image_and_wait", editArgs, "light")
	res := b.waitResult(t, "generate_image_and_wait")
	edit := res.Structured.Job
	if res.IsError || edit.Status != "completed" || len(edit.InputImages) != 1 || edit.InputImages[0] != input {
		t.Fatalf("the edit gave %+v", res)
	}
	b.loadedImages(t, 1)
	b.waitFor(t, "the view to list the edit's input", func() (string, bool) {
		text := b.viewText(t)
		return text, strings.Contains(text, "Input") && strings.Contains(text, input) && strings.Contains(text, "Regenerate")
	})
	b.screenshot(t, "viewer-edit.png")
	b.click(t, "#regenerate")
	call := b.waitToolCall(t, "generate_image")
	if !jsonEqual(call.Arguments, editArgs) || call.Result == nil || call.Result.IsError {
		t.Errorf("Regenerate called generate_image with %v (result %+v); want %v", call.Arguments, call.Result, editArgs)
	}

	// 2. The view only shows the edit (get_job_status): Variations names the
	// job's input from the result.
	b.open(t, site.URL, sandboxURL, "get_job_status", map[string]any{"job_id": edit.JobID}, "light")
	b.waitResult(t, "get_job_status")
	b.loadedImages(t, 1)
	b.click(t, "#variations")
	call = b.waitToolCall(t, "generate_image")
	want := map[string]any{"prompt": "the same fox in snow", "model": "flux-2-klein-4b", "input_images": []any{input}, "n": 4}
	if !jsonEqual(call.Arguments, want) || call.Result == nil || call.Result.IsError {
		t.Errorf("Variations of a shown edit called generate_image with %v (result %+v); want %v", call.Arguments, call.Result, want)
	}

	// 3. An edit from a URL with a token: shown without it, and not offered
	// again (the URL as shown would not be the image).
	urlEdit := callJSON(t, mc, "generate_image_and_wait", map[string]any{"prompt": "a fox from a URL", "model": "flux-2-klein-4b",
		"input_images": []any{refs.URL + "/fox.png?sig=s3cret"}})
	urlJob, _ := urlEdit["job"].(map[string]any)
	b.open(t, site.URL, sandboxURL, "get_job_status", map[string]any{"job_id": urlJob["job_id"]}, "light")
	b.waitResult(t, "get_job_status")
	b.loadedImages(t, 1)
	text := b.waitFor(t, "the view to show the URL input without its token", func() (string, bool) {
		text := b.viewText(t)
		return text, strings.Contains(text, refs.URL+"/fox.png?…")
	})
	if strings.Contains(text, "s3cret") || strings.Contains(text, "Regenerate") || strings.Contains(text, "Variations") {
		t.Errorf("the view of an edit from a URL with a token shows the token or offers to repeat it:\n%s", text)
	}
}
