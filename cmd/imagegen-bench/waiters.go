package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/devserver"
	"github.com/imagegen/imagegen/jobs"
)

// WaiterCost is what a blocked waiter costs Temporal, and how late waiters
// hear of a close, for the way this service waits and for the way it used to
// (a workflow-result Get plus a describe every 500 ms for progress), each on
// its own counted connection to the same server.
type WaiterCost struct {
	// HeldMS is how long the provider holds the jobs of the cost runs.
	HeldMS float64 `json:"held_ms"`
	// Waiters is how many waiters each cost run holds, one job each.
	Waiters int           `json:"waiters"`
	Modes   []WaiterRPCs  `json:"modes"`
	Late    []LateWaitRun `json:"late"`
}

// WaiterRPCs is one way of waiting: Temporal calls per waiter, per minute of
// waiting, by method (the close watcher's listing is shared by all waiters
// and divided among them).
type WaiterRPCs struct {
	Mode               string             `json:"mode"`
	PerWaiterPerMinute float64            `json:"rpcs_per_waiter_per_minute"`
	PerWait            float64            `json:"rpcs_per_wait"`
	ByMethod           map[string]float64 `json:"per_wait_by_method"`
	WaitMS             float64            `json:"wait_ms"`
}

// LateWaitRun counts waits that woke more than a second after their job
// closed (close time from Temporal; same machine, same clock).
type LateWaitRun struct {
	Mode    string  `json:"mode"`
	Waits   int     `json:"waits"`
	Late    int     `json:"late"`
	MaxMS   float64 `json:"max_ms"`
	P99MS   float64 `json:"p99_ms"`
	P50MS   float64 `json:"p50_ms"`
	PerWait float64 `json:"rpcs_per_wait"`
}

// lateAfter is when a waiter hears of a close too late.
const lateAfter = time.Second

// rpcCounter counts a Temporal client's calls by method.
type rpcCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *rpcCounter) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	name := method[strings.LastIndex(method, "/")+1:]
	c.mu.Lock()
	c.calls[name]++
	c.mu.Unlock()
	return invoker(ctx, method, req, reply, cc, opts...)
}

// take returns the counts so far and starts again.
func (c *rpcCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

// countedClient dials the stack's Temporal on a connection of its own.
func (r *runner) countedClient(ctx context.Context) (client.Client, *rpcCounter, error) {
	counter := &rpcCounter{calls: map[string]int{}}
	opts := devserver.ClientOptions(r.app.TemporalAddress, "default", r.app.TemporalAPIKey())
	opts.Logger = sdkQuiet{}
	opts.ConnectionOptions.DialOptions = append(opts.ConnectionOptions.DialOptions, grpc.WithChainUnaryInterceptor(counter.intercept))
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("dial Temporal: %w", err)
	}
	return c, counter, nil
}

// waitFunc waits for one job the way a mode does.
type waitFunc func(ctx context.Context, id string) error

// waitModes are the ways of waiting compared; the first two are how the
// service waited before (mcpserver's describe ticker, jobs.Wait on the SDK's
// Get), the others how it waits now.
func waitModes(c client.Client, watched, unwatched *jobs.Client) []struct {
	name string
	wait waitFunc
} {
	return []struct {
		name string
		wait waitFunc
	}{
		{"before: result Get + describe every 500 ms (progress)", func(ctx context.Context, id string) error { return legacyWait(ctx, c, id, true) }},
		{"before: result Get (no progress)", func(ctx context.Context, id string) error { return legacyWait(ctx, c, id, false) }},
		{"now: history long poll, every event (progress)", func(ctx context.Context, id string) error {
			_, done, err := watched.Watch(ctx, id, time.Minute, func(jobs.Progress) {})
			return waitErr(id, done, err)
		}},
		{"now: history long poll, close event (no progress)", func(ctx context.Context, id string) error {
			_, done, err := watched.Wait(ctx, id, time.Minute)
			return waitErr(id, done, err)
		}},
		{"now, close watcher off: history long poll, close event", func(ctx context.Context, id string) error {
			_, done, err := unwatched.Wait(ctx, id, time.Minute)
			return waitErr(id, done, err)
		}},
	}
}

func waitErr(id string, done bool, err error) error {
	if err == nil && !done {
		return fmt.Errorf("job %s not done after a minute", id)
	}
	return err
}

// legacyWait is the wait as the service did it before: the SDK's
// workflow-result Get (a close-event history long poll), with progress a
// describe every 500 ms beside it, then a describe for the final state.
func legacyWait(ctx context.Context, c client.Client, id string, progress bool) error {
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	got := make(chan struct{})
	var ticker sync.WaitGroup
	if progress {
		ticker.Add(1)
		go func() {
			defer ticker.Done()
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				_, _ = c.DescribeWorkflowExecution(wctx, id, "")
				select {
				case <-got:
					return
				case <-wctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	_ = c.GetWorkflow(wctx, id, "").Get(wctx, nil) // a failed job is a finished wait too
	close(got)
	ticker.Wait()
	_, err := c.DescribeWorkflowExecution(ctx, id, "")
	return err
}

// waiterCost runs each mode twice: held waiters for the RPC rates, then
// back-to-back jobs for the late-wake count.
func (r *runner) waiterCost(ctx context.Context, rep *Report) error {
	c, counter, err := r.countedClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	watched := jobs.New(c, jobs.Options{})
	unwatched := jobs.New(c, jobs.Options{CloseWatchEvery: -1})
	starter := jobs.New(r.app.Temporal(), jobs.Options{})
	wc := &rep.WaiterCost
	wc.HeldMS, wc.Waiters = ms(r.cfg.WaiterHold), r.cfg.CostWaiters

	for _, m := range waitModes(c, watched, unwatched) {
		r.progress("waiter cost: %s", m.name)
		run, err := r.heldWaits(ctx, starter, counter, m.name, m.wait)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		wc.Modes = append(wc.Modes, run)
	}
	for _, m := range waitModes(c, watched, unwatched) {
		if strings.Contains(m.name, "describe every") || strings.Contains(m.name, "every event") {
			continue // progress changes the cost, not when the close is heard
		}
		r.progress("late waits: %s", m.name)
		run, err := r.lateWaits(ctx, starter, counter, m.name, m.wait)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		wc.Late = append(wc.Late, run)
	}
	return nil
}

// heldWaits starts CostWaiters jobs held at the provider, waits on each for
// WaiterHold, releases them and counts what the waits cost.
func (r *runner) heldWaits(ctx context.Context, starter *jobs.Client, counter *rpcCounter, mode string, wait waitFunc) (WaiterRPCs, error) {
	n := r.cfg.CostWaiters
	r.prov.gate.hold()
	released := false
	defer func() {
		if !released {
			r.prov.gate.release()
		}
	}()
	ids := make([]string, n)
	for i := range ids {
		job, err := starter.Start(ctx, imagegen.Request{Prompt: fmt.Sprintf("bench waiter cost %s %d", r.runID, i)})
		if err != nil {
			return WaiterRPCs{}, err
		}
		ids[i] = job.ID
	}
	for r.prov.gate.waiting.Load() < int64(n) {
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return WaiterRPCs{}, err
		}
	}
	counter.take()
	start := time.Now()
	errs := make(chan error, n)
	for _, id := range ids {
		go func() { errs <- wait(ctx, id) }()
	}
	if err := sleep(ctx, r.cfg.WaiterHold); err != nil {
		return WaiterRPCs{}, err
	}
	r.prov.gate.release()
	released = true
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	took := time.Since(start)
	calls := counter.take()
	if first != nil {
		return WaiterRPCs{}, first
	}
	run := WaiterRPCs{Mode: mode, ByMethod: map[string]float64{}, WaitMS: ms(took)}
	total := 0
	for m, k := range calls {
		total += k
		run.ByMethod[m] = round2(float64(k) / float64(n))
	}
	run.PerWait = round2(float64(total) / float64(n))
	run.PerWaiterPerMinute = round2(float64(total) / float64(n) / took.Minutes())
	return run, nil
}

// lateWaits runs LateWaits jobs with an instant provider, LateClients at a
// time, each waited on from its start, and counts the waits that woke more
// than lateAfter after their job closed.
func (r *runner) lateWaits(ctx context.Context, starter *jobs.Client, counter *rpcCounter, mode string, wait waitFunc) (LateWaitRun, error) {
	type woke struct {
		id string
		at time.Time
	}
	var (
		next  atomic.Int64
		mu    sync.Mutex
		wakes []woke
		first error
		wg    sync.WaitGroup
	)
	counter.take()
	for range r.cfg.LateClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(r.cfg.LateWaits) {
					return
				}
				job, err := starter.Start(ctx, imagegen.Request{Prompt: fmt.Sprintf("bench late %s %d", r.runID, i)})
				if err == nil {
					err = wait(ctx, job.ID)
				}
				at := time.Now()
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				wakes = append(wakes, woke{job.ID, at})
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	calls := counter.take()
	if first != nil {
		return LateWaitRun{}, first
	}
	run := LateWaitRun{Mode: mode, Waits: len(wakes)}
	total := 0
	for m, k := range calls {
		if m != "StartWorkflowExecution" {
			total += k
		}
	}
	run.PerWait = round2(float64(total) / float64(len(wakes)))
	var delays []time.Duration
	for _, w := range wakes {
		resp, err := r.app.Temporal().DescribeWorkflowExecution(ctx, w.id, "")
		if err != nil {
			return LateWaitRun{}, fmt.Errorf("describe %s: %w", w.id, err)
		}
		d := w.at.Sub(resp.GetWorkflowExecutionInfo().GetCloseTime().AsTime())
		delays = append(delays, d)
		if d > lateAfter {
			run.Late++
		}
	}
	slices.Sort(delays)
	run.MaxMS = ms(delays[len(delays)-1])
	run.P99MS = ms(delays[len(delays)*99/100])
	run.P50MS = ms(delays[len(delays)/2])
	return run, nil
}

// sdkQuiet drops the SDK's own log lines.
type sdkQuiet struct{}

func (sdkQuiet) Debug(string, ...any) {}
func (sdkQuiet) Info(string, ...any)  {}
func (sdkQuiet) Warn(string, ...any)  {}
func (sdkQuiet) Error(string, ...any) {}
