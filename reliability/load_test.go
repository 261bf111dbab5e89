//go:build load

// The load test is behind the "load" build tag so that the default
// `go test ./...` skips it. Run it with
//
//	go test -tags load -run TestLoad -v ./reliability/
//
// (or `make load`). It stays on loopback and is bounded in count and time.

package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

const (
	loadJobs     = 1000
	loadDeadline = 5 * time.Minute
)

// TestLoadThousandConcurrentGenerationsAllCompleteOnce starts 1,000
// generate_image calls at once against a dev service (fake provider, no
// delay) with bare JSON-RPC POSTs, then waits for every job with
// wait_for_completion: 1,000 distinct job ids, all completed, each prompt
// generated exactly once, no errors. It reports wall time, jobs/s and the
// peak RSS of the test process (which runs the whole stack, Temporal
// included).
func TestLoadThousandConcurrentGenerationsAllCompleteOnce(t *testing.T) {
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	a := startApp(t, testkit.Dev, devConfig(t.TempDir(), fake))

	ctx, cancel := context.WithTimeout(context.Background(), loadDeadline)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{
		MaxIdleConns: loadJobs, MaxIdleConnsPerHost: loadJobs, IdleConnTimeout: time.Minute,
	}}
	defer hc.CloseIdleConnections()
	rpc := func(id int, tool string, args map[string]any) (map[string]any, error) {
		return loadCall(ctx, hc, a.MCPURL, id, tool, args)
	}

	ids := make([]string, loadJobs)
	errs := make([]error, loadJobs)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range loadJobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out, err := rpc(i, "generate_image", map[string]any{"prompt": loadPrompt(i)})
			if err != nil {
				errs[i] = err
				return
			}
			id, _ := out["job_id"].(string)
			if out["status"] != "pending" || id == "" {
				errs[i] = fmt.Errorf("generate_image answered %v", out)
				return
			}
			ids[i] = id
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	startPhase := time.Since(began)
	failOn(t, "generate_image", errs)

	seen := map[string]int{}
	for i, id := range ids {
		if j, dup := seen[id]; dup {
			t.Fatalf("calls %d and %d got the same job id %s", j, i, id)
		}
		seen[id] = i
	}

	for i := range loadJobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				out, err := rpc(loadJobs+i, "wait_for_completion", map[string]any{"job_id": ids[i], "timeout_seconds": 30})
				if err != nil {
					errs[i] = err
					return
				}
				if out["done"] != true {
					continue
				}
				job, _ := out["job"].(map[string]any)
				if job["status"] != "completed" || job["prompt"] != loadPrompt(i) || job["image_url"] == "" {
					errs[i] = fmt.Errorf("job %s ended %v", ids[i], out)
				}
				return
			}
			errs[i] = fmt.Errorf("job %s not done within %s", ids[i], loadDeadline)
		}()
	}
	wg.Wait()
	wall := time.Since(began)
	failOn(t, "wait_for_completion", errs)

	if n := fake.Calls(); n != loadJobs {
		t.Errorf("provider calls = %d, want %d", n, loadJobs)
	}
	for i := range loadJobs {
		if n := fake.CallsForPrompt(loadPrompt(i)); n != 1 {
			t.Errorf("prompt %d generated %d times, want once", i, n)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%d jobs: all started in %s, all completed in %s wall time (%.1f jobs/s); 0 duplicates, 0 errors; peak RSS of the test process %s",
		loadJobs, startPhase.Round(time.Millisecond), wall.Round(time.Millisecond), float64(loadJobs)/wall.Seconds(), peakRSS())
}

func loadPrompt(i int) string { return fmt.Sprintf("load test image %d", i) }

// loadCall posts one bare tools/call (no initialize: the service is
// stateless) and decodes the tool's JSON result; a tool error is an error.
func loadCall(ctx context.Context, hc *http.Client, url string, id int, tool string, args map[string]any) (map[string]any, error) {
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call",
		"params": map[string]any{"name": tool, "arguments": args}})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %.300s", tool, resp.StatusCode, b)
	}
	var msg struct {
		Error  *struct{ Message string }
		Result struct {
			IsError bool
			Content []struct{ Text string }
		}
	}
	if err := json.Unmarshal(b, &msg); err != nil {
		return nil, fmt.Errorf("%s: not JSON: %.300s", tool, b)
	}
	if msg.Error != nil {
		return nil, fmt.Errorf("%s: JSON-RPC error %s", tool, msg.Error.Message)
	}
	if msg.Result.IsError || len(msg.Result.Content) == 0 {
		return nil, fmt.Errorf("%s: tool error: %.300s", tool, b)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(msg.Result.Content[0].Text), &out); err != nil {
		return nil, fmt.Errorf("%s: result is not JSON: %.300s", tool, msg.Result.Content[0].Text)
	}
	return out, nil
}

// failOn reports the first few errors and how many there were.
func failOn(t *testing.T, phase string, errs []error) {
	t.Helper()
	n := 0
	for i, err := range errs {
		if err != nil {
			if n < 5 {
				t.Errorf("%s %d: %v", phase, i, err)
			}
			n++
		}
	}
	if n > 0 {
		t.Fatalf("%s: %d of %d calls failed", phase, n, len(errs))
	}
}

// peakRSS reads the process's peak resident set size (VmHWM).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
