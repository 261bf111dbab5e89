package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

func TestCompletedImagesComeWithThumbnailsAndResourceLinks(t *testing.T) {
	s := sharedDev(t)
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	res, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "a thumbnail test", "model": "sdxl-base", "width": 1024, "height": 768})
	if res.IsError {
		t.Fatalf("%v", out)
	}
	job := out["job"].(map[string]any)
	id := job["job_id"].(string)
	_, _, full := get(t, job["image_url"].(string))

	var thumbs []mcp.ImageContent
	var links []mcp.ResourceLink
	for _, content := range res.Content {
		switch v := content.(type) {
		case mcp.ImageContent:
			thumbs = append(thumbs, v)
		case mcp.ResourceLink:
			links = append(links, v)
		}
	}
	if len(thumbs) != 1 || len(links) != 1 {
		t.Fatalf("content has %d thumbnails and %d links, want 1 and 1", len(thumbs), len(links))
	}
	thumb, err := base64.StdEncoding.DecodeString(thumbs[0].Data)
	if err != nil || thumbs[0].MIMEType != "image/jpeg" {
		t.Fatalf("thumbnail %s: %v", thumbs[0].MIMEType, err)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(thumb))
	if err != nil || max(cfg.Width, cfg.Height) > 256 {
		t.Errorf("thumbnail %dx%d (%v), want at most 256 px", cfg.Width, cfg.Height, err)
	}
	t.Logf("thumbnail %d bytes inline vs full image %d bytes", len(thumb), len(full))
	if links[0].URI != "images://"+id {
		t.Errorf("resource link %q", links[0].URI)
	}

	// The link resolves to the full image through resources/read.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rr := mcp.ReadResourceRequest{}
	rr.Params.URI = links[0].URI
	read, err := c.ReadResource(ctx, rr)
	if err != nil || len(read.Contents) != 1 {
		t.Fatalf("read %s: %v", links[0].URI, err)
	}
	blob, ok := read.Contents[0].(mcp.BlobResourceContents)
	if !ok {
		t.Fatalf("resource is %T, want a blob", read.Contents[0])
	}
	if data, _ := base64.StdEncoding.DecodeString(blob.Blob); !bytes.Equal(data, full) || blob.MIMEType != "image/png" {
		t.Errorf("resource blob (%s, %d bytes) differs from the image URL's %d bytes", blob.MIMEType, len(data), len(full))
	}
	waitFor(t, "the image among the listed resources", func() bool {
		list, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
		if err != nil {
			return false
		}
		for _, r := range list.Resources {
			if r.URI == "images://"+id {
				return true
			}
		}
		return false
	})
	rr.Params.URI = "images://../../etc/passwd"
	if _, err := c.ReadResource(ctx, rr); err == nil {
		t.Error("a path-like resource URI was read")
	}
}

func TestSeveralImagesPerJobAndParametersReachTheProvider(t *testing.T) {
	s := sharedDev(t)
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	prompt := "three lighthouses"
	res, out := callTool(t, c, "generate_image_and_wait", map[string]any{
		"prompt": prompt, "model": "sdxl-lightning", "n": 3, "width": 512, "height": 768, "seed": 100, "negative_prompt": "fog", "guidance": 5.5,
	})
	if res.IsError {
		t.Fatalf("%v", out)
	}
	images, _ := out["job"].(map[string]any)["images"].([]any)
	if len(images) != 3 {
		t.Fatalf("job has %d images, want 3: %v", len(images), out)
	}
	urls := map[string]bool{}
	for _, img := range images {
		u := img.(map[string]any)["image_url"].(string)
		urls[u] = true
		if code, _, _ := get(t, u); code != 200 {
			t.Errorf("%s: %d", u, code)
		}
	}
	if len(urls) != 3 {
		t.Errorf("image urls not distinct: %v", urls)
	}
	seeds := map[string]bool{}
	for _, r := range s.fake.Requests() {
		if r.Body["prompt"] != prompt {
			continue
		}
		seeds[toJSON(r.Body["seed"])] = true
		if toJSON(r.Body["width"]) != "512" || toJSON(r.Body["height"]) != "768" || r.Body["negative_prompt"] != "fog" || toJSON(r.Body["guidance"]) != "5.5" {
			t.Errorf("provider request %v lacks the parameters", r.Body)
		}
	}
	if len(seeds) != 3 || s.fake.CallsForPrompt(prompt) != 3 {
		t.Errorf("%d provider calls with seeds %v, want 3 with distinct seeds", s.fake.CallsForPrompt(prompt), seeds)
	}
}

func TestIdempotencyKeyStartsOneJobForConcurrentCalls(t *testing.T) {
	s := sharedDev(t)
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	s.fake.SetDelay(500 * time.Millisecond) // both calls arrive while the job runs
	t.Cleanup(func() { s.fake.SetDelay(0) })
	prompt := "an idempotent painting"
	key := "order-" + time.Now().Format(time.RFC3339Nano)
	ids := make([]string, 2)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, out := callTool(t, c, "generate_image", map[string]any{"prompt": prompt, "idempotency_key": key})
			ids[i], _ = out["job_id"].(string)
		}()
	}
	wg.Wait()
	if ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("two calls with one key gave jobs %v", ids)
	}
	callTool(t, c, "wait_for_completion", map[string]any{"job_id": ids[0]})
	_, again := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": prompt, "idempotency_key": key})
	if again["job"].(map[string]any)["job_id"] != ids[0] {
		t.Errorf("repeat after completion gave %v, want %s", again["job"], ids[0])
	}
	if n := s.fake.CallsForPrompt(prompt); n != 1 {
		t.Errorf("provider calls = %d, want 1 for three calls with one key", n)
	}
	res, out := callTool(t, c, "generate_image", map[string]any{"prompt": "something else", "idempotency_key": key})
	if !res.IsError || !strings.Contains(out["text"].(string), "already used for a different prompt") {
		t.Errorf("key reused for another prompt: %v", out)
	}
}

func TestWaitingToolsReportProgress(t *testing.T) {
	// A stack of its own, whose provider calls wait at a gate until the
	// client has heard the generating stage: the test is ordered by events,
	// not by a delay outlasting a poll.
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	target, err := url.Parse(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	heard := make(chan struct{})
	var heardOnce sync.Once
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-heard:
		case <-r.Context().Done():
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(gate.Close)
	cfg := devConfig(t.TempDir(), fake)
	cfg.CloudflareBaseURL = gate.URL
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := testkit.Dev(ctx, cfg, logging.New(&syncBuffer{}, "json", "error"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	// Open the gate before stopping the stack, whatever happened.
	t.Cleanup(func() { heardOnce.Do(func() { close(heard) }) })

	// SSE: mcp-go's Streamable HTTP can drop a notification sent right
	// after an earlier request of the session, and this test waits for one.
	c, err := client.NewSSEMCPClient(a.SSEURL, transport.WithHeaders(map[string]string{"Authorization": "Bearer " + testToken}))
	if err != nil {
		t.Fatal(err)
	}
	initClient(t, c)
	var mu sync.Mutex
	var progress []float64
	var messages []string
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method != "notifications/progress" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		p, _ := n.Params.AdditionalFields["progress"].(float64)
		m, _ := n.Params.AdditionalFields["message"].(string)
		progress = append(progress, p)
		messages = append(messages, m)
		if p == 2 {
			heardOnce.Do(func() { close(heard) })
		}
	})
	req := mcp.CallToolRequest{}
	req.Params.Name = "generate_image_and_wait"
	req.Params.Arguments = map[string]any{"prompt": "progress please"}
	req.Params.Meta = &mcp.Meta{ProgressToken: "tok-1"}
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Without the generating stage the provider never answers and the call
	// returns "still processing" after MaxWait.
	if res.IsError || !strings.Contains(strings.Join(messages, ","), "generating (") {
		t.Fatalf("progress %v messages %v, result %+v: no generating stage, or the job did not finish", progress, messages, res.Content)
	}
	// The stages seen while the provider works, each once and in order; the
	// final "done" may come later than the result, so it is not required.
	for i, p := range progress {
		if i > 0 && p <= progress[i-1] {
			t.Errorf("progress went from %v to %v", progress[i-1], p)
		}
	}
	var out map[string]any
	for _, content := range res.Content {
		if tc, ok := content.(mcp.TextContent); ok && json.Unmarshal([]byte(tc.Text), &out) == nil {
			break
		}
	}
	if out["done"] != true {
		t.Errorf("result %+v, want the finished job", out)
	}
}
