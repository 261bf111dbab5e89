package reliability

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/devserver"
	"github.com/imagegen/imagegen/internal/testkit"
)

// TestToolsReportTemporalOutageAndRecoverWithoutRestart stops the Temporal
// server under a running `serve`: every tool answers with a tool error saying
// the service is temporarily unavailable (not a protocol error), the HTTP
// server keeps serving, and once Temporal is back on the same data dir and
// port the same server works again.
func TestToolsReportTemporalOutageAndRecoverWithoutRestart(t *testing.T) {
	t.Parallel()
	opts := devserver.Options{DataDir: t.TempDir(), Port: freePorts(t, 1)[0]}
	temporal := startTemporal(t, opts)
	serve := startApp(t, testkit.Serve, config.Config{
		Addr: "127.0.0.1:0", AuthToken: testToken, DataDir: t.TempDir(),
		TemporalAddress: temporal.FrontendAddress(), TemporalAPIKey: temporal.Secret(), MaxWait: 5 * time.Second,
	})
	c := newClient(t, serve.MCPURL)
	// No worker: the job stays pending, which is all this test needs of it.
	id := startJob(t, c, "a job from before the outage", "flux-schnell")

	if err := temporal.Stop(); err != nil {
		t.Fatalf("stop Temporal: %v", err)
	}
	down := time.Now()

	calls := []struct {
		tool string
		args map[string]any
	}{
		{"generate_image", map[string]any{"prompt": "a job during the outage"}},
		{"generate_image_and_wait", map[string]any{"prompt": "another job during the outage"}},
		{"get_job_status", map[string]any{"job_id": id}},
		{"wait_for_completion", map[string]any{"job_id": id, "timeout_seconds": 1}},
		{"list_jobs", map[string]any{}},
	}
	// Each tool waits out the SDK's own retries (up to ~10 s): run them at once.
	var wg sync.WaitGroup
	for _, tc := range calls {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			start := time.Now()
			res, out, err := call(ctx, c, tc.tool, tc.args)
			if err != nil {
				t.Errorf("%s during the outage: protocol error %v, want a tool error", tc.tool, err)
				return
			}
			text := toJSON(out)
			if !res.IsError || !strings.Contains(text, "temporarily unavailable") {
				t.Errorf("%s during the outage = %s, want a tool error saying temporarily unavailable", tc.tool, text)
			}
			t.Logf("measured: %s answered %q in %.1fs during the outage", tc.tool, out["text"], time.Since(start).Seconds())
		})
	}
	wg.Wait()
	// The gallery is read from the image records in storage, not from
	// Temporal: it keeps answering through the outage.
	if res, out, err := call(context.Background(), c, "list_generations", map[string]any{}); err != nil || res.IsError {
		t.Errorf("list_generations during the outage: %v %s, want the gallery from the image records", err, toJSON(out))
	}

	// The HTTP server itself never went away.
	resp, err := http.Get("http://" + serve.Addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz during the outage: %v %v", resp, err)
	}
	resp.Body.Close()
	select {
	case err := <-serve.Served():
		t.Fatalf("HTTP server stopped during the outage: %v", err)
	default:
	}

	startTemporal(t, opts) // same data dir, same port
	back := time.Now()
	var status any
	waitFor(t, 60*time.Second, "tools to work again", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, out, err := call(ctx, c, "get_job_status", map[string]any{"job_id": id})
		if err != nil || res.IsError {
			return false
		}
		status = out["status"]
		return true
	})
	t.Logf("measured: tools worked again %.1fs after Temporal came back (outage %.1fs)", time.Since(back).Seconds(), back.Sub(down).Seconds())
	if status != "pending" {
		t.Errorf("job from before the outage is %v, want still pending", status)
	}
	startJob(t, c, "a job after the outage", "flux-schnell")
}
