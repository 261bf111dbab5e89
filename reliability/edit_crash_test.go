package reliability

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/devserver"
	"github.com/imagegen/imagegen/imagefetch"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// TestKilledWorkerLosesNoEdit runs serve and an `imagegen worker` process
// and SIGKILLs the worker twice during edits: once while FetchInputs is
// blocked downloading an input image (a loopback site the operator allowed
// holds the answer), once while the provider is generating an edit of an
// earlier job's image. Each time a new worker on the same data dir takes
// over; the edit completes, FetchInputs runs again only in the first case,
// and the provider is paid at most once more (none more in the first case:
// it was never called before the kill). The retried provider call gets the
// same staged input image the first one got.
func TestKilledWorkerLosesNoEdit(t *testing.T) {
	t.Parallel()
	bin := imagegenBinary(t)
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	const model = "flux-2-klein-4b"
	m, _ := imagegen.LookupModel(model)

	// The input site: holds its first answer until the test lets go.
	photo := testPNG(t, 96, 64)
	var (
		hold      atomic.Bool
		mu        sync.Mutex
		siteCalls int
	)
	arrived := make(chan struct{}, 8)
	hold.Store(true)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		siteCalls++
		mu.Unlock()
		arrived <- struct{}{}
		if hold.Load() {
			<-r.Context().Done() // the fetching worker dies with the connection open
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(photo)
	}))
	t.Cleanup(site.Close)

	temporal := startTemporal(t, devserver.Options{})
	shared := t.TempDir()
	serve := startApp(t, testkit.Serve, config.Config{
		Addr: "127.0.0.1:0", AuthToken: testToken, DataDir: shared,
		TemporalAddress: temporal.FrontendAddress(), TemporalAPIKey: temporal.Secret(), MaxWait: 30 * time.Second,
	})
	env := workersAIEnv(fake)
	env["TEMPORAL_ADDRESS"] = temporal.FrontendAddress()
	env["TEMPORAL_API_KEY"] = temporal.Secret()
	env["IMAGEGEN_DATA_DIR"] = shared
	env["IMAGEGEN_PUBLIC_URL"] = "http://" + serve.Addr
	env["IMAGEGEN_FETCH_ALLOW"] = "127.0.0.1/32"
	args := []string{"worker", "--addr", fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])}
	worker := startProc(t, "imagegen worker (first)", bin, args, env)
	worker.waitReady(t)
	c := newClient(t, serve.MCPURL)

	source := waitCompleted(t, c, startJob(t, c, "the source image", model), time.Minute)
	sourceImage := fetchBody(t, source["image_url"].(string))
	normalised := func(b []byte) []byte {
		t.Helper()
		img, err := imagefetch.Normalise(b, m.InputSide)
		if err != nil {
			t.Fatal(err)
		}
		return img.Data
	}

	// 1. Killed while FetchInputs is blocked on the URL.
	const fetchPrompt = "edit of a URL, worker killed while fetching"
	id := startEdit(t, c, fetchPrompt, model, site.URL+"/photo.png")
	select {
	case <-arrived:
	case <-time.After(time.Minute):
		t.Fatal("the worker never fetched the input URL")
	}
	worker.kill()
	killedAt := time.Now()
	hold.Store(false)
	worker = startProc(t, "imagegen worker (after a kill while fetching)", bin, args, env)
	worker.waitReady(t)
	waitCompleted(t, c, id, recoveryBudget)
	fetchCalls := fake.CallsForPrompt(fetchPrompt)
	mu.Lock()
	fetched := siteCalls
	mu.Unlock()
	t.Logf("measured: killed during FetchInputs: the edit completed %.1fs after SIGKILL; the site was asked %d times, the provider %d times",
		time.Since(killedAt).Seconds(), fetched, fetchCalls)
	if fetchCalls != 1 {
		t.Errorf("the provider was called %d times for an edit killed before its provider call, want 1", fetchCalls)
	}
	if fetched != 2 {
		t.Errorf("the input URL was fetched %d times, want 2 (the killed attempt and its retry)", fetched)
	}
	if got := lastInput(t, fake, fetchPrompt); !bytes.Equal(got, normalised(photo)) {
		t.Errorf("the provider got %d bytes as input_image_0, want the URL's image normalised (%d bytes)", len(got), len(normalised(photo)))
	}

	// 2. Killed while the provider generates an edit of the source job.
	const genPrompt = "edit of a job, worker killed while generating"
	fake.SetDelay(slowFirstCall)
	id = startEdit(t, c, genPrompt, model, "images://"+source["job_id"].(string))
	waitFor(t, time.Minute, "the edit's provider call to be in flight", func() bool { return fake.CallsForPrompt(genPrompt) >= 1 })
	worker.kill()
	killedAt = time.Now()
	fake.SetDelay(0)
	worker = startProc(t, "imagegen worker (after a kill while generating)", bin, args, env)
	worker.waitReady(t)
	job := waitCompleted(t, c, id, recoveryBudget)
	genCalls := fake.CallsForPrompt(genPrompt)
	t.Logf("measured: killed during the edit's provider call: completed %.1fs after SIGKILL, %d provider calls for the edit",
		time.Since(killedAt).Seconds(), genCalls)
	if genCalls < 1 || genCalls > 2 {
		t.Errorf("the provider was called %d times for an edit killed mid-call, want at most 2", genCalls)
	}
	for i, in := range inputsFor(fake, genPrompt) {
		if !bytes.Equal(in, normalised(sourceImage)) {
			t.Errorf("call %d of the edit got %d bytes as input_image_0, want the source image normalised (%d bytes)", i+1, len(in), len(normalised(sourceImage)))
		}
	}
	if imagegen.SniffImageType(fetchBody(t, job["image_url"].(string))) == "" {
		t.Error("the edit's stored image is not an image")
	}
}

// startEdit calls generate_image with one input image and returns the job id.
func startEdit(t *testing.T, c *client.Client, prompt, model, input string) string {
	t.Helper()
	res, out := mustCall(t, c, "generate_image", map[string]any{"prompt": prompt, "model": model, "input_images": []string{input}})
	id, _ := out["job_id"].(string)
	if res.IsError || id == "" {
		t.Fatalf("generate_image(%q, %s): %+v", prompt, input, out)
	}
	return id
}

// inputsFor is input_image_0 of every request the fake got for prompt.
func inputsFor(fake *workersaitest.Server, prompt string) [][]byte {
	var out [][]byte
	for _, r := range fake.Requests() {
		if r.Body["prompt"] == prompt {
			p, _ := r.Part("input_image_0")
			out = append(out, p.Data)
		}
	}
	return out
}

func lastInput(t *testing.T, fake *workersaitest.Server, prompt string) []byte {
	t.Helper()
	ins := inputsFor(fake, prompt)
	if len(ins) == 0 {
		t.Fatalf("the fake got no request for %q", prompt)
	}
	return ins[len(ins)-1]
}

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.NRGBA{uint8(x * 2), uint8(y * 3), 120, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func fetchBody(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	return b
}
