package jobs_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

func TestListingFailedJobsCostsTwoCallsAPageAndSkipsRetriedOnes(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	rpcs := newRPCLog()
	jc := s.client(t, jobs.Options{}, rpcs)
	ctx := within(t)

	s.provider.fail("refused", true)
	var failed []string
	for range 6 {
		job, err := jc.Start(ctx, imagegen.Request{Prompt: "refused"})
		if err != nil {
			t.Fatal(err)
		}
		got, done, err := jc.Wait(ctx, job.ID, time.Minute)
		if err != nil || !done || got.Status != workflows.StatusFailed {
			t.Fatalf("wait = %+v, %v, %v; want failed", got, done, err)
		}
		failed = append(failed, job.ID)
	}
	// Retry one: its failed run stays in visibility next to the new run.
	s.provider.fail("refused", false)
	retried := failed[2]
	entered, release := s.provider.hold("refused")
	if _, err := jc.Retry(ctx, retried, "test"); err != nil {
		t.Fatal(err)
	}
	defer release()
	awaitClosed(t, ctx, entered, "the retried generation")
	listed := func(opts jobs.ListOptions) []string {
		t.Helper()
		list, err := jc.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, j := range list {
			ids = append(ids, j.ID)
		}
		return ids
	}
	// Visibility is written shortly after each change: wait for the new run.
	eventually(t, ctx, func() bool {
		return slices.Contains(listed(jobs.ListOptions{Status: workflows.StatusProcessing}), retried)
	})
	eventually(t, ctx, func() bool {
		all := listed(jobs.ListOptions{Limit: 10})
		return len(all) == len(failed) && all[len(all)-1] == failed[0]
	})

	want := slices.Clone(failed)
	want = slices.Delete(want, 2, 3)
	slices.Reverse(want) // newest first
	for _, tc := range []struct {
		name string
		opts jobs.ListOptions
		want []string
		// calls is the visibility calls: one per page, one more to check
		// the page's runs are current.
		calls int
	}{
		{"all failed", jobs.ListOptions{Status: workflows.StatusFailed, Limit: 10}, want, 2},
		{"a page", jobs.ListOptions{Status: workflows.StatusFailed, Limit: 2, Offset: 1}, want[1:3], 2},
		{"nothing canceled", jobs.ListOptions{Status: workflows.StatusCanceled, Limit: 10}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rpcs.reset()
			got := listed(tc.opts)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
			if n := rpcs.count("ListWorkflowExecutions"); n != tc.calls {
				t.Errorf("%d list calls, want %d", n, tc.calls)
			}
			if n := rpcs.count("DescribeWorkflowExecution"); n != 0 {
				t.Errorf("%d describe calls, want none", n)
			}
		})
	}

	// Retrying every failed job leaves the running one alone.
	rpcs.reset()
	dry, err := jc.RetryFailed(ctx, jobs.RetryFailedOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range dry {
		ids = append(ids, j.ID)
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("retry --all-failed --dry-run picks %v, want %v", ids, want)
	}
	if n := rpcs.count("DescribeWorkflowExecution"); n != 0 {
		t.Errorf("dry run made %d describe calls, want none", n)
	}
}

// eventually waits for cond, checking again whenever visibility may have
// caught up.
func eventually(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition never met")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
