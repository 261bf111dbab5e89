package cluster

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// slidingWindow is a provider-side rate limit as Workers AI applies one
// (720 text-to-image requests per minute per account): a call is refused
// with 429 when the window before it already holds limit accepted calls.
// It counts; it never sleeps.
type slidingWindow struct {
	limit  int
	window time.Duration

	mu       sync.Mutex
	accepted []time.Time
	refused  int
	peak     int // most accepted calls seen in one window
}

// fail is a workersaitest.Server fail function.
func (w *slidingWindow) fail(string, int) *workersaitest.Failure {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	i := 0
	for i < len(w.accepted) && now.Sub(w.accepted[i]) >= w.window {
		i++
	}
	w.accepted = w.accepted[i:]
	if len(w.accepted) >= w.limit {
		w.refused++
		// Workers AI's out-of-capacity answer (facts: 3040 / 429, retried
		// with backoff).
		return &workersaitest.Failure{Status: http.StatusTooManyRequests, Code: 3040, Message: "Capacity temporarily exceeded, please try again."}
	}
	w.accepted = append(w.accepted, now)
	w.peak = max(w.peak, len(w.accepted))
	return nil
}

func (w *slidingWindow) counts() (refused, peak int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.refused, w.peak
}

// burst submits n jobs from clients concurrent MCP clients and waits for
// all of them to complete.
func burst(t *testing.T, s *stack, mcpURL, tag string, clients, n int) []job {
	t.Helper()
	var (
		mu  sync.Mutex
		all []job
		wg  sync.WaitGroup
	)
	for i := range clients {
		c := newClient(t, mcpURL)
		wg.Go(func() {
			jobs := submit(t, c, fmt.Sprintf("%s client %d", tag, i), n/clients)
			s.completeAll(t, c, jobs, 10*time.Minute)
			mu.Lock()
			all = append(all, jobs...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all
}

// TestProviderRateLimitIsHeldAcrossWorkers bursts 300 jobs at two workers
// whose provider allows fewer calls than the stack could make. The limit is
// Temporal's task-queue activity rate limit (IMAGEGEN_PROVIDER_RATE), held by
// the server for all workers together, so the provider never says 429.
//
// The provider's window is scaled down from Workers AI's 720/min so the test
// is short: 40 calls per 4 s sliding window against a limit of 5/s. Temporal
// splits the queue's rate over its 4 partitions, each a token bucket with a
// burst of ceil(rate/4) = 2, so at most 5×4 + 8 = 28 calls fall in any 4 s,
// leaving room for calls dispatched together to arrive closer together. The
// control run, same stack without the limit, shows the fake does refuse a
// burst and that a refused call would have shown up.
func TestProviderRateLimitIsHeldAcrossWorkers(t *testing.T) {
	pgBinDir(t)
	if testing.Short() {
		t.Skip("cluster suite skipped in -short mode: it builds and runs a Temporal server and PostgreSQL")
	}
	t.Parallel()
	bins := buildBinaries(t)
	pg := startPostgres(t)
	ts := startTemporal(t, bins, pg)

	t.Run("WithoutLimitTheProviderRefuses", func(t *testing.T) {
		s := newStack(t, bins, ts, "rate-unlimited")
		s.extra["IMAGEGEN_PROVIDER_RATE"] = "0"
		win := &slidingWindow{limit: 10, window: 4 * time.Second}
		s.fake.SetFailFunc(win.fail)
		serve := s.serve("serve")
		s.worker("worker 1")
		s.worker("worker 2")
		// Only the first calls matter here: the burst is submitted, and the
		// test waits until every job has made its first call. The jobs are
		// not awaited; their stack ends with the subtest.
		var wg sync.WaitGroup
		const n = 30
		for i := range 3 {
			c := newClient(t, serve.mcpURL)
			wg.Go(func() { submit(t, c, fmt.Sprintf("unlimited client %d", i), n/3) })
		}
		wg.Wait()
		waitUntil(t, 2*time.Minute, "every job's first provider call", func() bool { return s.fake.Calls() >= n })
		refused, peak := win.counts()
		t.Logf("measured: no rate limit, provider allowing 10 calls per 4 s: first calls of %d jobs drew %d refusals (429), peak %d accepted in one window",
			n, refused, peak)
		if refused == 0 {
			t.Errorf("a burst of %d jobs with no rate limit drew no 429 from a provider allowing 10 per 4 s: the control cannot tell a working limit from none", n)
		}
	})

	t.Run("WithLimitNo429", func(t *testing.T) {
		const rate = 5
		s := newStack(t, bins, ts, "rate-limited")
		s.extra["IMAGEGEN_PROVIDER_RATE"] = strconv.Itoa(rate)
		s.extra["IMAGEGEN_WORKER_ACTIVITIES"] = "64"
		win := &slidingWindow{limit: 40, window: 4 * time.Second}
		s.fake.SetFailFunc(win.fail)
		serve := s.serve("serve")
		s.worker("worker 1")
		s.worker("worker 2")
		start := time.Now()
		jobs := burst(t, s, serve.mcpURL, "limited", 10, 300)
		elapsed := time.Since(start)
		refused, peak := win.counts()
		calls := s.fake.Calls()
		t.Logf("measured: limit %d/s over 2 workers, 300 jobs from 10 clients: %d completed in %.1fs (%.1f jobs/s), %d provider calls, %d refused with 429, peak %d calls in one 4 s window (provider allows 40)",
			rate, len(jobs), elapsed.Seconds(), float64(len(jobs))/elapsed.Seconds(), calls, refused, peak)
		if refused != 0 {
			t.Errorf("%d provider calls were refused with 429: the limit of %d/s did not hold across the workers", refused, rate)
		}
		if calls != len(jobs) {
			t.Errorf("%d jobs took %d provider calls, want one each", len(jobs), calls)
		}
		s.checkOneWorkflowPerJob(t, jobs)
	})
}
