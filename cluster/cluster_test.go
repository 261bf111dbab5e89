package cluster

import (
	"context"
	"strings"
	"testing"
	"time"
)

// recoverWithin bounds waiting for a job through a fault: the 20 s heartbeat
// timeout that reveals a dead worker, retry backoff, Temporal or PostgreSQL
// coming back, and a loaded 2-core CI machine. It is a give-up bound, not a
// measurement: the tests log what they measure.
const recoverWithin = 4 * time.Minute

// TestCluster runs the scenarios that share one PostgreSQL and one Temporal
// server, each in a namespace of its own, in parallel.
func TestCluster(t *testing.T) {
	pgBinDir(t) // skips, saying why, without PostgreSQL
	if testing.Short() {
		t.Skip("cluster suite skipped in -short mode: it builds and runs a Temporal server and PostgreSQL")
	}
	bins := buildBinaries(t)
	pg := startPostgres(t)
	ts := startTemporal(t, bins, pg)

	t.Run("JobsCompleteWithImagesInS3", func(t *testing.T) {
		t.Parallel()
		s := newStack(t, bins, ts, "jobs-complete")
		serve := s.serve("serve")
		s.worker("worker 1")
		s.worker("worker 2")
		var all []job
		for i := range 3 {
			c := newClient(t, serve.mcpURL)
			jobs := submit(t, c, "client "+string(rune('a'+i)), 4)
			calls, maxCalls := s.completeAll(t, c, jobs, recoverWithin)
			if calls != len(jobs) || maxCalls != 1 {
				t.Errorf("%d jobs took %d provider calls (at most %d for one), want one each", len(jobs), calls, maxCalls)
			}
			all = append(all, jobs...)
		}
		if got := len(s.s3.objects(t)); got < len(all) {
			t.Errorf("bucket holds %d objects for %d completed jobs", got, len(all))
		}
		s.checkOneWorkflowPerJob(t, all)
	})

	t.Run("WorkerKilledMidGenerationJobsCompleteElsewhere", func(t *testing.T) {
		t.Parallel()
		s := newStack(t, bins, ts, "worker-killed")
		serve := s.serve("serve")
		// The first worker is alone, so every provider call is its own; the
		// fake holds each call long enough that the kill lands mid-call.
		s.fake.SetDelay(time.Minute)
		first := s.worker("worker 1 (killed)")
		c := newClient(t, serve.mcpURL)
		jobs := submit(t, c, "worker-kill", 4)
		waitUntil(t, recoverWithin, "all provider calls in flight on worker 1", func() bool { return s.fake.Calls() >= len(jobs) })
		s.worker("worker 2")
		first.kill()
		killed := time.Now()
		s.fake.SetDelay(0)
		calls, maxCalls := s.completeAll(t, c, jobs, recoverWithin)
		t.Logf("measured: worker SIGKILLed mid-generation: %d/%d jobs completed on the other worker %.1fs after the kill, %d provider calls (at most %d for one job), 0 lost",
			len(jobs), len(jobs), time.Since(killed).Seconds(), calls, maxCalls)
		if maxCalls > 2 {
			t.Errorf("a job took %d provider calls, want at most 2 (the killed one and the retry)", maxCalls)
		}
		s.checkOneWorkflowPerJob(t, jobs)
	})

	t.Run("DailyBudgetHeldAcrossServes", func(t *testing.T) {
		t.Parallel()
		budgetHeldAcrossServes(t, newStack(t, bins, ts, "budget-serves"))
	})

	t.Run("ServeKilledJobsContinueAndANewServeAnswers", func(t *testing.T) {
		t.Parallel()
		s := newStack(t, bins, ts, "serve-killed")
		s.fake.SetDelay(2 * time.Second)
		first := s.serve("serve 1 (killed)")
		s.worker("worker")
		c := newClient(t, first.mcpURL)
		jobs := submit(t, c, "serve-kill", 5)
		first.kill()
		killed := time.Now()

		// The client gets a clear transport error, not a hang or a wrong answer.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _, err := call(ctx, c, "get_job_status", map[string]any{"job_id": jobs[0].id})
		cancel()
		if !deadPeerError(err) {
			t.Errorf("get_job_status with serve dead: err = %v, want the transport error of a dead peer", err)
		}

		// The jobs go on without any serve: the workflows finish.
		tc := s.temporalClient()
		for _, j := range jobs {
			ctx, cancel := context.WithTimeout(context.Background(), recoverWithin)
			if err := tc.GetWorkflow(ctx, j.id, "").Get(ctx, nil); err != nil {
				t.Errorf("job %s with no serve running: %v", j.id, err)
			}
			cancel()
		}
		doneWithoutServe := time.Since(killed)

		second := s.serve("serve 2")
		c2 := newClient(t, second.mcpURL)
		calls, maxCalls := s.completeAll(t, c2, jobs, recoverWithin)
		t.Logf("measured: serve SIGKILLed with %d jobs running: all finished %.1fs later with no serve up; a new serve answered for all of them; %d provider calls (at most %d for one job), 0 lost",
			len(jobs), doneWithoutServe.Seconds(), calls, maxCalls)
		if calls != len(jobs) {
			t.Errorf("%d jobs took %d provider calls, want one each (serve dying must not touch generation)", len(jobs), calls)
		}
		s.checkOneWorkflowPerJob(t, jobs)
	})
}

// TestClusterSurvivesRestarts restarts, on a cluster of its own, the Temporal
// server (SIGKILL, then start) and then PostgreSQL (an immediate shutdown,
// which is crash recovery at the next start), each while jobs run.
func TestClusterSurvivesRestarts(t *testing.T) {
	pgBinDir(t)
	if testing.Short() {
		t.Skip("cluster suite skipped in -short mode: it builds and runs a Temporal server and PostgreSQL")
	}
	t.Parallel()
	bins := buildBinaries(t)
	pg := startPostgres(t)
	ts := startTemporal(t, bins, pg)
	s := newStack(t, bins, ts, "restarts")
	serve := s.serve("serve")
	s.worker("worker 1")
	s.worker("worker 2")
	c := newClient(t, serve.mcpURL)
	s.fake.SetDelay(time.Second)
	var all []job

	t.Run("TemporalServerRestart", func(t *testing.T) {
		jobs := submit(t, c, "temporal-restart", 10)
		waitUntil(t, recoverWithin, "jobs under way", func() bool { return s.fake.Calls() >= 3 })
		ts.kill()
		down := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, out, err := call(ctx, c, "get_job_status", map[string]any{"job_id": jobs[0].id})
		cancel()
		if err != nil || !res.IsError || !strings.Contains(out["text"].(string), "temporarily unavailable") {
			t.Errorf("get_job_status with Temporal down = %+v, %v; want the tool error saying the service is temporarily unavailable", out, err)
		}
		ts.start()
		up := time.Now()
		jobs = append(jobs, submit(t, c, "after-temporal-restart", 5)...)
		calls, maxCalls := s.completeAll(t, c, jobs, recoverWithin)
		t.Logf("measured: Temporal server SIGKILLed and restarted (down %.1fs) with 10 jobs running: %d/%d jobs (5 started after) completed %.1fs after it was back, %d provider calls (at most %d for one job), 0 lost",
			up.Sub(down).Seconds(), len(jobs), len(jobs), time.Since(up).Seconds(), calls, maxCalls)
		all = append(all, jobs...)
	})

	t.Run("PostgreSQLRestart", func(t *testing.T) {
		jobs := submit(t, c, "postgres-restart", 10)
		before := s.fake.Calls()
		waitUntil(t, recoverWithin, "jobs under way", func() bool { return s.fake.Calls() >= before+3 })
		pg.stop(t, "immediate")
		down := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, out, err := call(ctx, c, "get_job_status", map[string]any{"job_id": jobs[0].id})
		cancel()
		if err != nil || !res.IsError {
			t.Logf("get_job_status with PostgreSQL down = %+v, %v (Temporal may answer from its caches)", out, err)
		}
		if err := pg.start(); err != nil {
			t.Fatalf("restart PostgreSQL: %v\n%s", err, tail(pg.log(), 3000))
		}
		up := time.Now()
		jobs = append(jobs, submit(t, c, "after-postgres-restart", 5)...)
		calls, maxCalls := s.completeAll(t, c, jobs, recoverWithin)
		t.Logf("measured: PostgreSQL crashed (immediate shutdown) and restarted (down %.1fs) with 10 jobs running: %d/%d jobs (5 started after) completed %.1fs after it was back, %d provider calls (at most %d for one job), 0 lost",
			up.Sub(down).Seconds(), len(jobs), len(jobs), time.Since(up).Seconds(), calls, maxCalls)
		all = append(all, jobs...)
	})

	s.checkOneWorkflowPerJob(t, all)
}

// waitUntil polls cond until it holds, for at most within.
func waitUntil(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deadPeerError reports whether err is what an HTTP client gets from a
// server process that is gone: "connection refused" on a new connection, or,
// when the client reuses a kept-alive connection the dead process left
// behind, EOF or "connection reset by peer" on it (which of these comes first
// is a race between the kernel closing the socket and the client's reuse).
func deadPeerError(err error) bool {
	if err == nil {
		return false
	}
	for _, dead := range []string{"connection refused", ": EOF", "connection reset by peer"} {
		if strings.Contains(err.Error(), dead) {
			return true
		}
	}
	return false
}
