package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

func TestWatchReportsEachStageAsTheHistoryMovesWithoutPolling(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	rpcs := newRPCLog()
	jc := s.client(t, jobs.Options{CloseWatchEvery: -1}, rpcs)
	ctx := within(t)

	entered, releaseProvider := s.provider.hold("stages")
	defer releaseProvider()
	job, err := jc.Start(ctx, imagegen.Request{Prompt: "stages"})
	if err != nil {
		t.Fatal(err)
	}
	releaseStore := s.store.hold(job.ID)
	defer releaseStore()

	stages := make(chan jobs.Progress, 16)
	type outcome struct {
		job  jobs.Job
		done bool
		err  error
	}
	out := make(chan outcome, 1)
	rpcs.reset()
	go func() {
		j, done, err := jc.Watch(ctx, job.ID, time.Minute, func(p jobs.Progress) { stages <- p })
		out <- outcome{j, done, err}
	}()
	next := func(want jobs.Progress) {
		t.Helper()
		for {
			select {
			case p := <-stages:
				if p == want {
					return
				}
				if p.Stage == "storing" || (want.Stage == "generating" && p.Status != workflows.StatusPending) {
					t.Fatalf("stage %+v while waiting for %+v", p, want)
				}
			case o := <-out:
				t.Fatalf("watch returned %+v before stage %+v", o, want)
			case <-ctx.Done():
				t.Fatalf("no stage %+v", want)
			}
		}
	}
	// The provider is held: the job is generating, and Watch says so.
	awaitClosed(t, ctx, entered, "the generation")
	next(jobs.Progress{Status: workflows.StatusProcessing, Stage: "generating"})
	// The upload is held: storing.
	releaseProvider()
	next(jobs.Progress{Status: workflows.StatusProcessing, Stage: "storing"})
	releaseStore()
	o := <-out
	if o.err != nil || !o.done || o.job.Status != workflows.StatusCompleted || o.job.ImageURL == "" {
		t.Fatalf("watch = %+v, want a completed job with its image", o)
	}
	if extra := len(stages); extra != 0 {
		t.Errorf("%d stages reported after storing", extra)
	}
	// One describe for the final state; everything before came from the
	// history long poll, which woke once per change (no timer).
	if n := rpcs.count("DescribeWorkflowExecution"); n != 1 {
		t.Errorf("%d describe calls, want 1 (the final state)", n)
	}
	if n := rpcs.count("GetWorkflowExecutionHistory"); n < 3 {
		t.Errorf("%d history calls, want at least one per stage", n)
	}
	t.Logf("calls during the watch: %v", rpcs.calls)
}

func TestWaitAsksOnlyForTheCloseEvent(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	rpcs := newRPCLog()
	jc := s.client(t, jobs.Options{CloseWatchEvery: -1}, rpcs)
	ctx := within(t)

	job, err := jc.Start(ctx, imagegen.Request{Prompt: "close only"})
	if err != nil {
		t.Fatal(err)
	}
	rpcs.reset()
	got, done, err := jc.Wait(ctx, job.ID, time.Minute)
	if err != nil || !done || got.Status != workflows.StatusCompleted {
		t.Fatalf("wait = %+v, %v, %v", got, done, err)
	}
	for _, f := range rpcs.filters {
		if f != enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT.String() {
			t.Errorf("history call with filter %s, want the close event only", f)
		}
	}
	if len(rpcs.filters) == 0 {
		t.Error("no history call: Wait did not follow the job")
	}

	// Unknown and malformed ids.
	if _, _, err := jc.Wait(ctx, "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd", time.Minute); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("wait on an unknown job: %v, want ErrNotFound", err)
	}
	if _, _, err := jc.Wait(ctx, "../etc", time.Minute); imagegen.KindOf(err) != imagegen.KindInvalidInput {
		t.Errorf("wait on a malformed id: %v, want invalid input", err)
	}
}

func TestWaitTimesOutWithTheCurrentState(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	jc := s.client(t, jobs.Options{}, newRPCLog())
	ctx := within(t)
	entered, release := s.provider.hold("slow")
	defer release()
	job, err := jc.Start(ctx, imagegen.Request{Prompt: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	awaitClosed(t, ctx, entered, "the generation")
	got, done, err := jc.Wait(ctx, job.ID, time.Second)
	if err != nil || done || got.Status != workflows.StatusProcessing {
		t.Fatalf("wait = %+v, done=%v, %v; want the processing job, not done", got, done, err)
	}
}

func TestCloseWatcherWakesAWaiterWhoseLongPollMissedTheClose(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	rpcs := newRPCLog()
	jc := s.client(t, jobs.Options{}, rpcs) // default close watcher
	ctx := within(t)

	entered, release := s.provider.hold("missed wake-up")
	defer release()
	job, err := jc.Start(ctx, imagegen.Request{Prompt: "missed wake-up"})
	if err != nil {
		t.Fatal(err)
	}
	awaitClosed(t, ctx, entered, "the generation")
	// From now on the server "forgets" to answer this job's long polls, as
	// v1.32.1 does when it drops a wake-up: only the close watcher can wake
	// the waiter before its timeout.
	rpcs.mu.Lock()
	rpcs.deaf[job.ID] = true
	rpcs.mu.Unlock()
	type outcome struct {
		job  jobs.Job
		done bool
		err  error
	}
	out := make(chan outcome, 1)
	go func() {
		j, done, err := jc.Wait(ctx, job.ID, 90*time.Second)
		out <- outcome{j, done, err}
	}()
	select {
	case <-rpcs.blocked:
	case <-ctx.Done():
		t.Fatal("the waiter never long-polled")
	}
	release()
	o := <-out
	if o.err != nil || !o.done || o.job.Status != workflows.StatusCompleted {
		t.Fatalf("wait = %+v, want the completed job", o)
	}
	rpcs.mu.Lock()
	defer rpcs.mu.Unlock()
	if fmt.Sprint(rpcs.stallEnd) != fmt.Sprint([]error{context.Canceled}) {
		t.Errorf("the stalled long poll ended with %v, want it cancelled by the close watcher (not its deadline)", rpcs.stallEnd)
	}
	if rpcs.calls["ListWorkflowExecutions"] == 0 {
		t.Error("the close watcher never listed")
	}
}
