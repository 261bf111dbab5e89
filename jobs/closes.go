package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/imagegen/imagegen/workflows"
)

// DefaultCloseWatchEvery is how often the close watcher lists the jobs that
// closed recently while anyone waits. It bounds how late a waiter hears of a
// close whose long-poll wake-up the server lost.
const DefaultCloseWatchEvery = 500 * time.Millisecond

// closeLookback is how far before its previous listing each listing starts:
// visibility is written shortly after a close, and the two clocks (this
// process's and the server's close time) may differ a little.
const closeLookback = 2 * time.Second

// closeWatchPages bounds the pages one listing reads (1,000 rows each).
const closeWatchPages = 5

// closeWatcher is the backstop of every blocked Watch. Temporal server
// v1.32.1 hands each history long poll its wake-ups through a one-slot
// channel and drops one when the slot is full, so now and then a poll sleeps
// through its job's close until the poll expires (5 s in dev, 20 s by
// default). While at least one Watch is blocked, the watcher lists the jobs
// that closed in the last few seconds, one visibility call per tick for all
// waiters together, and wakes the waiters of those jobs. Once nobody waits
// its goroutine ends at the next tick, and it makes no calls.
type closeWatcher struct {
	list      func(context.Context, *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	namespace string
	every     time.Duration // <= 0: off
	log       *slog.Logger

	mu      sync.Mutex
	waits   map[string]map[*closeWait]struct{} // by job id
	running bool
	failing bool // the last listing failed (log once per outage)
}

// closeWait is one blocked Watch.
type closeWait struct {
	id    string
	stale string // a run of the job known to be older than the current one
	wake  func() // ends the waiter's long poll

	mu  sync.Mutex
	run string // the closed run that woke it
	hit bool
}

// fired reports whether the watcher woke this waiter, and for which run.
func (w *closeWait) fired() (run string, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.run, w.hit
}

func (w *closeWait) fire(run string) {
	w.mu.Lock()
	w.run, w.hit = run, true
	w.mu.Unlock()
	w.wake()
}

// add registers a waiter for job id; wake is called (once) if the watcher
// sees a run of the job other than staleRun closed. Remove it when done.
func (cw *closeWatcher) add(id, staleRun string, wake func()) *closeWait {
	w := &closeWait{id: id, stale: staleRun, wake: wake}
	if cw.every <= 0 {
		return w
	}
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.waits == nil {
		cw.waits = map[string]map[*closeWait]struct{}{}
	}
	set := cw.waits[id]
	if set == nil {
		set = map[*closeWait]struct{}{}
		cw.waits[id] = set
	}
	set[w] = struct{}{}
	if !cw.running {
		cw.running = true
		go cw.run(time.Now())
	}
	return w
}

func (cw *closeWatcher) remove(w *closeWait) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if set := cw.waits[w.id]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(cw.waits, w.id)
		}
	}
}

// run ticks while anyone waits and returns when nobody does.
func (cw *closeWatcher) run(first time.Time) {
	t := time.NewTicker(cw.every)
	defer t.Stop()
	since := first.Add(-closeLookback)
	for range t.C {
		cw.mu.Lock()
		if len(cw.waits) == 0 {
			cw.running = false
			cw.mu.Unlock()
			return
		}
		cw.mu.Unlock()
		start := time.Now()
		err := cw.tick(since)
		cw.mu.Lock()
		switch {
		case err != nil && !cw.failing:
			cw.failing = true
			cw.log.Warn("close watcher cannot list closed jobs; waiters rely on their long polls alone", "error", err)
		case err == nil && cw.failing:
			cw.failing = false
			cw.log.Info("close watcher lists closed jobs again")
		}
		cw.mu.Unlock()
		if err == nil {
			since = start.Add(-closeLookback)
		}
	}
}

// tick lists the jobs closed since since and wakes their waiters.
func (cw *closeWatcher) tick(since time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus != 'Running' AND CloseTime >= '%s'",
		workflows.WorkflowName, since.UTC().Format(time.RFC3339Nano))
	var token []byte
	for range closeWatchPages {
		resp, err := cw.list(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: cw.namespace, PageSize: 1000, NextPageToken: token, Query: query,
		})
		if err != nil {
			return fmt.Errorf("list closed jobs: %w", err)
		}
		for _, info := range resp.GetExecutions() {
			cw.closed(info.GetExecution().GetWorkflowId(), info.GetExecution().GetRunId())
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	return nil
}

// closed wakes the waiters of job id, whose run closed.
func (cw *closeWatcher) closed(id, run string) {
	cw.mu.Lock()
	var woken []*closeWait
	for w := range cw.waits[id] {
		if w.stale == run {
			continue
		}
		woken = append(woken, w)
		delete(cw.waits[id], w)
	}
	if len(cw.waits[id]) == 0 {
		delete(cw.waits, id)
	}
	cw.mu.Unlock()
	for _, w := range woken {
		w.fire(run)
	}
}
