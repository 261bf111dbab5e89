package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/imagefetch"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// noisePNG is an opaque PNG of random pixels: it does not compress, so its
// size is about w×h×3 bytes.
func noisePNG(t *testing.T, w, h int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(r.Uint32()), uint8(r.Uint32()), uint8(r.Uint32()), 255
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestEditChainThroughARealMCPClient generates an image with FLUX.2, then
// edits it through a real MCP client (Streamable HTTP) with each kind of
// reference: the earlier job's image, a URL on a loopback server the
// operator allowed (IMAGEGEN_FETCH_ALLOW), an inline data: URL. What reaches
// the fake Workers AI is each image as imagefetch normalises it, as the
// input_image_N parts of one multipart request; the edit's workflow
// history holds none of those bytes.
func TestEditChainThroughARealMCPClient(t *testing.T) {
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	cfg := devConfig(t.TempDir(), fake)
	cfg.FetchAllow = []string{"127.0.0.1/32"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, err := testkit.Dev(ctx, cfg, logging.New(&syncBuffer{}, "json", "info"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	s := &stack{app: a, fake: fake, cfg: cfg}
	c := newStreamableClient(t, a.MCPURL, testToken)
	const model = "flux-2-klein-4b"
	m, _ := imagegen.LookupModel(model)

	// 1. Generate.
	_, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "a lighthouse on a cliff", "model": model})
	job, _ := out["job"].(map[string]any)
	if out["done"] != true || job["status"] != "completed" {
		t.Fatalf("generate: %+v", out)
	}
	firstID := job["job_id"].(string)
	status, _, original := get(t, job["image_url"].(string))
	if status != 200 || imagegen.SniffImageType(original) == "" {
		t.Fatalf("the first image: %d, %d bytes", status, len(original))
	}

	// normalised is what the provider must get for an input image.
	normalised := func(b []byte) []byte {
		t.Helper()
		img, err := imagefetch.Normalise(b, m.InputSide)
		if err != nil {
			t.Fatal(err)
		}
		return img.Data
	}
	lastRequest := func(prompt string) workersaitest.Request {
		t.Helper()
		var found *workersaitest.Request
		for _, r := range fake.Requests() {
			if r.Body["prompt"] == prompt {
				found = &r
			}
		}
		if found == nil {
			t.Fatalf("the fake saw no request for %q", prompt)
		}
		return *found
	}

	// 2. Edit that job's image.
	_, out = callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "the lighthouse in snow", "model": model,
		"input_images": []string{"images://" + firstID}})
	edit, _ := out["job"].(map[string]any)
	if out["done"] != true || edit["status"] != "completed" {
		t.Fatalf("edit of images://%s: %+v", firstID, out)
	}
	req := lastRequest("the lighthouse in snow")
	part, ok := req.Part("input_image_0")
	if req.ContentType != "multipart/form-data" || !ok || !bytes.Equal(part.Data, normalised(original)) {
		t.Fatalf("the fake got %s with input_image_0 of %d bytes, want the earlier image normalised (%d bytes)", req.ContentType, len(part.Data), len(normalised(original)))
	}
	if _, extra := req.Part("input_image_1"); extra {
		t.Error("the fake got an input_image_1 for a one-input edit")
	}

	// 3. A URL (a 1 MiB photo-like PNG on a loopback server), an inline
	// image and the earlier job's image again, in one edit.
	big := noisePNG(t, 600, 600, 1)
	small := noisePNG(t, 40, 30, 2)
	var (
		mu      sync.Mutex
		fetched []string
	)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetched = append(fetched, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "image/png")
		w.Write(big)
	}))
	t.Cleanup(site.Close)
	if !strings.HasPrefix(site.URL, "http://127.0.0.1:") {
		t.Fatalf("the test site is at %s, not on 127.0.0.1", site.URL)
	}
	_, out = callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "three inputs", "model": model,
		"input_images": []string{site.URL + "/photo.png?sig=abc", "data:image/png;base64," + base64.StdEncoding.EncodeToString(small), "images://" + firstID + "/0"}})
	three, _ := out["job"].(map[string]any)
	if out["done"] != true || three["status"] != "completed" {
		t.Fatalf("edit of three inputs: %+v", out)
	}
	req = lastRequest("three inputs")
	for i, want := range [][]byte{normalised(big), normalised(small), normalised(original)} {
		p, ok := req.Part("input_image_" + string(rune('0'+i)))
		if !ok || !bytes.Equal(p.Data, want) {
			t.Errorf("input_image_%d: %d bytes (present %v), want %d", i, len(p.Data), ok, len(want))
		}
	}
	mu.Lock()
	if len(fetched) != 1 || fetched[0] != "/photo.png" {
		t.Errorf("the site served %v, want the photo once", fetched)
	}
	mu.Unlock()

	// 4. No image bytes in the edit's history.
	size := proto.Size(fetchHistory(t, s, three["job_id"].(string)))
	t.Logf("history of an edit with a %d-byte URL input (normalised: %d bytes), an inline and a job input: %d bytes", len(big), len(normalised(big)), size)
	if len(big) < 1<<20 || size > 64<<10 {
		t.Errorf("history of the edit is %d bytes with a %d-byte input: is image data in it?", size, len(big))
	}

	// 5. A URL the policy refuses (a private address) fails the job at once,
	// without a provider call.
	calls := fake.Calls()
	_, out = callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "a private input", "model": model,
		"input_images": []string{"http://10.1.2.3/secret.png"}})
	failed, _ := out["job"].(map[string]any)
	if failed["status"] != "failed" || !strings.Contains(failed["error"].(string), "input image 1") || fake.Calls() != calls {
		t.Errorf("edit from a private address: %+v; the fake got %d more calls", out, fake.Calls()-calls)
	}
}
