package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/devserver"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// slowFirstCall is how long the fake provider takes before the crash: long
// enough that the process surely dies while the call is in flight.
const slowFirstCall = 30 * time.Second

// recoveryBudget bounds waiting for a crashed job: the 20 s heartbeat timeout
// that reveals the dead worker, the retry backoff and the second call.
const recoveryBudget = 90 * time.Second

// TestDevKilledMidGenerationFinishesTheJobAfterRestart kills `imagegen dev`
// (embedded Temporal, worker and MCP server in one process) with SIGKILL while
// the provider call is in flight, restarts it on the same data dir and ports,
// and expects the same job to complete with one more provider call at most.
func TestDevKilledMidGenerationFinishesTheJobAfterRestart(t *testing.T) {
	t.Parallel()
	bin := imagegenBinary(t)
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	fake.SetDelay(slowFirstCall)

	dir := t.TempDir()
	ports := freePorts(t, 2)
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	args := []string{"dev", "--addr", addr, "--temporal-port", strconv.Itoa(ports[1]), "--ui-port", "-1", "--data-dir", dir}
	env := workersAIEnv(fake)

	first := startProc(t, "imagegen dev (first run)", bin, args, env)
	first.waitReady(t)
	c := newClient(t, "http://"+addr+"/mcp")
	id := startJob(t, c, "a lighthouse in a storm", "flux-schnell")
	waitFor(t, 30*time.Second, "the provider call to be in flight", func() bool { return fake.Calls() >= 1 })

	first.kill()
	killedAt := time.Now()
	fake.SetDelay(0) // the retry answers at once

	second := startProc(t, "imagegen dev (after SIGKILL)", bin, args, env)
	second.waitReady(t)
	restarted := time.Since(killedAt)
	c2 := newClient(t, "http://"+addr+"/mcp")
	job := waitCompleted(t, c2, id, recoveryBudget)
	recovered := time.Since(killedAt)

	calls := fake.Calls()
	t.Logf("measured: dev restarted %.1fs after SIGKILL, job completed %.1fs after SIGKILL, %d provider calls for the job",
		restarted.Seconds(), recovered.Seconds(), calls)
	if calls > 2 {
		t.Errorf("provider called %d times for one crashed job, want at most 2", calls)
	}
	checkPaidCalls(t, job, calls)
	checkStoredImage(t, job["image_url"].(string), "image/jpeg", fake.Image("flux-schnell"))
}

// checkPaidCalls: a call cut off by a SIGKILL may have been paid for, so the
// attempt after it counts it (from the in-flight mark in the dead attempt's
// heartbeat details): every provider call of the job is a paid call, and all
// but the one that made the image bought nothing.
func checkPaidCalls(t *testing.T, job map[string]any, calls int) {
	t.Helper()
	cost, _ := job["cost"].(map[string]any)
	if cost == nil || cost["paid_calls"] != float64(calls) || cost["paid_calls_without_image"] != float64(calls-1) {
		t.Errorf("cost = %v, want %d paid calls, %d without an image", cost, calls, calls-1)
	}
}

// TestKilledWorkerIsReplacedAndTheJobCompletes runs the split deployment:
// one Temporal server, `imagegen serve` and an `imagegen worker` process. The
// worker dies mid-call; a new worker on the same data dir (so the same staging
// queue) takes over while serve keeps answering, and the job completes.
//
// serve and worker share IMAGEGEN_DATA_DIR, so the local image store is one
// directory: the worker writes the image, serve's /images/ route serves it,
// and IMAGEGEN_PUBLIC_URL points the worker's URLs at serve. (A multi-host
// deployment would use R2 instead; the storage outage test covers that store.)
func TestKilledWorkerIsReplacedAndTheJobCompletes(t *testing.T) {
	t.Parallel()
	bin := imagegenBinary(t)
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	fake.SetDelay(slowFirstCall)

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
	// Workers serve /healthz and /metrics on their own address.
	args := []string{"worker", "--addr", fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])}

	first := startProc(t, "imagegen worker (first)", bin, args, env)
	first.waitReady(t)
	queueID := readFile(t, filepath.Join(shared, "staging", "worker-id"))

	c := newClient(t, serve.MCPURL)
	id := startJob(t, c, "a windmill at dusk", "sdxl-lightning")
	waitFor(t, 30*time.Second, "the provider call to be in flight", func() bool { return fake.Calls() >= 1 })

	first.kill()
	killedAt := time.Now()
	fake.SetDelay(0)
	// serve does not depend on the worker: it still answers about the job.
	if res, st := mustCall(t, c, "get_job_status", map[string]any{"job_id": id}); res.IsError || st["status"] != "processing" {
		t.Errorf("get_job_status with the worker dead = %+v, want processing", st)
	}

	second := startProc(t, "imagegen worker (replacement)", bin, args, env)
	second.waitReady(t)
	if got := readFile(t, filepath.Join(shared, "staging", "worker-id")); got != queueID {
		t.Errorf("replacement worker has staging id %q, want %q (same data dir, same store queue)", got, queueID)
	}
	job := waitCompleted(t, c, id, recoveryBudget)
	recovered := time.Since(killedAt)

	calls := fake.Calls()
	t.Logf("measured: job completed %.1fs after the worker's SIGKILL, %d provider calls for the job", recovered.Seconds(), calls)
	if calls > 2 {
		t.Errorf("provider called %d times for one crashed job, want at most 2", calls)
	}
	checkPaidCalls(t, job, calls)
	checkStoredImage(t, job["image_url"].(string), "image/png", fake.Image("sdxl-lightning"))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
