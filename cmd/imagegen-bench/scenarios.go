package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/app"
)

// runner holds what the scenarios share.
type runner struct {
	cfg   Config
	prov  *provider
	token string
	runID string // makes prompts unique across runs on a reused fake
	dir   string
	began time.Time
	app   *app.App
	bare  worker.Worker

	// jobID and bareID name one completed job of each kind for the history scenario.
	jobID, bareID string
}

// startup measures a start on the fresh data dir, the idle cost, and a
// restart on the same dir; the restarted stack serves the other scenarios.
func (r *runner) startup(ctx context.Context, st *Startup) error {
	r.progress("start on a fresh data dir")
	a, took, err := r.startApp(ctx)
	if err != nil {
		return err
	}
	st.FreshReadyMS = ms(took)
	// Let start-up work (namespace and search attribute refresh, first
	// timers) finish, so that the reading is the stack at rest.
	if err := sleep(ctx, r.cfg.IdleSettle); err != nil {
		a.Close()
		return err
	}
	rss, err := settledRSS()
	if err != nil {
		a.Close()
		return err
	}
	st.IdleRSSMB, st.IdleGoroutines = mb(rss), runtime.NumGoroutine()
	if err := a.Close(); err != nil {
		return fmt.Errorf("stop the fresh stack: %w", err)
	}

	r.progress("restart on the same data dir")
	a, took, err = r.startApp(ctx)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	r.app = a
	st.RestartReadyMS = ms(took)

	c, err := dialMCP(ctx, a.MCPURL, r.token, 4)
	if err != nil {
		return err
	}
	defer c.close()
	start := time.Now()
	if _, err := r.generateAndWait(ctx, c, "bench first job after restart "+r.runID); err != nil {
		return fmt.Errorf("first job after restart: %w", err)
	}
	st.RestartFirstJobMS = ms(time.Since(start))
	return nil
}

// generateAndWait runs one job through generate_image_and_wait and checks
// that it completed.
func (r *runner) generateAndWait(ctx context.Context, c *mcpClient, prompt string) (string, error) {
	res, err := r.generateAndWaitResult(ctx, c, prompt)
	return res.Job.JobID, err
}

func (r *runner) generateAndWaitResult(ctx context.Context, c *mcpClient, prompt string) (toolResult, error) {
	res, err := c.call(ctx, "generate_image_and_wait", map[string]any{"prompt": prompt})
	if err != nil {
		return res, err
	}
	if !res.Done || res.Job.Status != "completed" {
		return res, fmt.Errorf("job %s not completed: done=%v status=%q: %s", res.Job.JobID, res.Done, res.Job.Status, res.Message)
	}
	return res, nil
}

// warmUp starts the bare worker and runs a few jobs of each kind, so that
// connections, caches and the SQLite pages are warm before anything counts.
func (r *runner) warmUp(ctx context.Context, _ *Report) error {
	w, err := startBareWorker(r.app.Temporal())
	if err != nil {
		return err
	}
	r.bare = w
	c, err := dialMCP(ctx, r.app.MCPURL, r.token, 4)
	if err != nil {
		return err
	}
	defer c.close()
	for i := range 5 {
		if _, err := r.generateAndWait(ctx, c, fmt.Sprintf("bench warm-up %s #%d", r.runID, i)); err != nil {
			return err
		}
		id, err := runBare(ctx, r.app.Temporal())
		if err != nil {
			return err
		}
		r.bareID = id
	}
	return nil
}

// latency runs each job with a blocking waiter and the polling baselines
// side by side, and measures each from the provider's answer.
func (r *runner) latency(ctx context.Context, rep *Report) error {
	r.prov.fake.SetDelay(r.cfg.ProviderDelay)
	defer r.prov.fake.SetDelay(0)
	c, err := dialMCP(ctx, r.app.MCPURL, r.token, 64)
	if err != nil {
		return err
	}
	defer c.close()

	n, k := r.cfg.Jobs, len(r.cfg.PollIntervals)
	ours := make([]time.Duration, n)
	polls := make([][]time.Duration, k)
	for i := range polls {
		polls[i] = make([]time.Duration, n)
	}
	calls := make([]atomic.Int64, k)
	var (
		errMu sync.Mutex
		errs  []error
		done  atomic.Int64
		wg    sync.WaitGroup
	)
	start := time.Now()
	for i := range n {
		if err := sleep(ctx, time.Until(start.Add(time.Duration(i)*r.cfg.LatencySpacing))); err != nil {
			wg.Wait()
			return err
		}
		wg.Go(func() {
			o, p, cs, err := r.latencyJob(ctx, c, i)
			if err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
				return
			}
			ours[i] = o
			for j := range k {
				polls[j][i] = p[j]
				calls[j].Add(int64(cs[j]))
			}
			if d := done.Add(1); d%50 == 0 {
				r.progress("wait latency: %d/%d jobs", d, n)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errorsJoin(errs)
	}
	wl := WaitLatency{Jobs: n, Ours: distOf(ours)}
	for j, iv := range r.cfg.PollIntervals {
		d := distOf(polls[j])
		wl.Pollers = append(wl.Pollers, Poller{
			IntervalMS: ms(iv), Latency: d, Calls: int(calls[j].Load()),
			TimesP50: ratio(d.P50, wl.Ours.P50), TimesP99: ratio(d.P99, wl.Ours.P99),
		})
	}
	rep.WaitLatency = wl
	return nil
}

// latencyJob starts one job, then waits for it with wait_for_completion and
// with each poller at once, all on the one shared client.
func (r *runner) latencyJob(ctx context.Context, c *mcpClient, i int) (time.Duration, []time.Duration, []int, error) {
	prompt := fmt.Sprintf("bench latency %s #%d", r.runID, i)
	st, err := c.call(ctx, "generate_image", map[string]any{"prompt": prompt})
	if err != nil {
		return 0, nil, nil, err
	}
	id := st.JobID
	k := len(r.cfg.PollIntervals)
	var (
		wg     sync.WaitGroup
		oursAt time.Time
		werr   error
		pollAt = make([]time.Time, k)
		pcalls = make([]int, k)
		perrs  = make([]error, k)
	)
	wg.Go(func() {
		res, err := c.call(ctx, "wait_for_completion", map[string]any{"job_id": id})
		oursAt = time.Now()
		if err == nil && (!res.Done || res.Job.Status != "completed") {
			err = fmt.Errorf("wait_for_completion %s: done=%v status=%q", id, res.Done, res.Job.Status)
		}
		werr = err
	})
	for j, iv := range r.cfg.PollIntervals {
		wg.Go(func() { pollAt[j], pcalls[j], perrs[j] = pollUntilDone(ctx, c, id, iv) })
	}
	wg.Wait()
	if err := errors.Join(append([]error{werr}, perrs...)...); err != nil {
		return 0, nil, nil, err
	}
	answered, err := r.prov.answers.wait(ctx, prompt)
	if err != nil {
		return 0, nil, nil, err
	}
	p := make([]time.Duration, k)
	for j := range k {
		p[j] = pollAt[j].Sub(answered)
	}
	return oursAt.Sub(answered), p, pcalls, nil
}

// pollUntilDone calls get_job_status every interval, from a random phase,
// until the job is finished; it returns when it learned so.
func pollUntilDone(ctx context.Context, c *mcpClient, id string, interval time.Duration) (time.Time, int, error) {
	next := time.Now().Add(rand.N(interval))
	for calls := 1; ; calls++ {
		if err := sleep(ctx, time.Until(next)); err != nil {
			return time.Time{}, calls, err
		}
		res, err := c.call(ctx, "get_job_status", map[string]any{"job_id": id})
		if err != nil {
			return time.Time{}, calls, err
		}
		switch res.Status {
		case "completed":
			return time.Now(), calls, nil
		case "failed", "canceled":
			return time.Time{}, calls, fmt.Errorf("job %s %s", id, res.Status)
		}
		for now := time.Now(); !next.After(now); {
			next = next.Add(interval)
		}
	}
}

// overhead times generate_image_and_wait one job at a time with an instant
// provider: everything it takes is what the system adds.
func (r *runner) overhead(ctx context.Context, rep *Report) error {
	c, err := dialMCP(ctx, r.app.MCPURL, r.token, 4)
	if err != nil {
		return err
	}
	defer c.close()
	walls := make([]time.Duration, 0, r.cfg.Jobs)
	for i := range r.cfg.Jobs {
		start := time.Now()
		id, err := r.generateAndWait(ctx, c, fmt.Sprintf("bench overhead %s #%d", r.runID, i))
		if err != nil {
			return err
		}
		walls = append(walls, time.Since(start))
		r.jobID = id
	}
	d := distOf(walls)
	ov := Overhead{
		Jobs: r.cfg.Jobs, Wall: d,
		P50PercentOf7s: round2(100 * d.P50 / ms(referenceProvider)),
		P99PercentOf7s: round2(100 * d.P99 / ms(referenceProvider)),
	}
	if r.cfg.Full {
		full, err := r.overheadAt7s(ctx, c)
		if err != nil {
			return err
		}
		ov.Measured7s = &full
	}
	rep.Overhead = ov
	return nil
}

// overheadAt7s runs a few jobs at once with a real 7 s provider and takes
// 7 s off each wall time.
func (r *runner) overheadAt7s(ctx context.Context, c *mcpClient) (Dist, error) {
	r.prov.fake.SetDelay(referenceProvider)
	defer r.prov.fake.SetDelay(0)
	n := min(r.cfg.Jobs, 10)
	r.progress("overhead: %d jobs with a 7 s provider", n)
	over := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			_, errs[i] = r.generateAndWait(ctx, c, fmt.Sprintf("bench overhead 7s %s #%d", r.runID, i))
			over[i] = time.Since(start) - referenceProvider
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Dist{}, err
	}
	return distOf(over), nil
}

// throughput runs each concurrency level for our MCP path and for the bare
// workflow, alternating which goes first so that drift favours neither.
func (r *runner) throughput(ctx context.Context, rep *Report) error {
	for i, n := range r.cfg.Clients {
		per := (r.cfg.Jobs + n - 1) / n
		var (
			tp   Throughput
			bare BareThroughput
			err  error
		)
		runOurs := func() error { tp, err = r.throughputOurs(ctx, n, per); return err }
		runBareLevel := func() error { bare, err = r.throughputBare(ctx, n, per); return err }
		order := []func() error{runOurs, runBareLevel}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, run := range order {
			if err := run(); err != nil {
				return err
			}
		}
		tp.Bare = bare
		tp.PercentOfBare = round2(100 * ratio(tp.JobsPerSec, bare.JobsPerSec))
		tp.SteadyPercentOfBare = round2(100 * ratio(tp.SteadyJobsPerSec, bare.SteadyJobsPerSec))
		r.progress("throughput %d clients: %.1f jobs/s, bare %.1f jobs/s (stalls %d / %d)", n, tp.JobsPerSec, bare.JobsPerSec, tp.Stalls, bare.Stalls)
		rep.Throughput = append(rep.Throughput, tp)
	}
	return nil
}

// call is one timed job of the throughput scenario.
type call struct {
	client int
	took   time.Duration
	// late is how long after its workflow closed the call returned.
	late time.Duration
}

// stallThreshold: a call that returns this long after its workflow closed
// missed the wake-up and waited for a long poll to expire (see the package
// documentation). Queueing at high concurrency delays calls before their
// workflow closes, never after, so it does not count.
const stallThreshold = time.Second

// steadyRate is the throughput the clients would have had without stalls.
// Each client runs its calls back to back, so the run lasts as long as the
// busiest client; take each stall out of its client's time and divide.
// Without stalls this is the measured rate, less the few gaps between calls.
func steadyRate(calls []call) (perSec float64, stalls int) {
	busy := map[int]time.Duration{}
	for _, c := range calls {
		d := c.took
		if c.late > stallThreshold {
			stalls++
			d -= c.late
		}
		busy[c.client] += d
	}
	var longest time.Duration
	for _, b := range busy {
		longest = max(longest, b)
	}
	if longest <= 0 {
		return 0, stalls
	}
	return round2(float64(len(calls)) / longest.Seconds()), stalls
}

func tookOf(calls []call) []time.Duration {
	d := make([]time.Duration, len(calls))
	for i, c := range calls {
		d[i] = c.took
	}
	return d
}

// throughputOurs: n MCP clients, each running per jobs back to back.
func (r *runner) throughputOurs(ctx context.Context, n, per int) (Throughput, error) {
	clients := make([]*mcpClient, n)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.close()
			}
		}
	}()
	for i := range clients {
		c, err := dialMCP(ctx, r.app.MCPURL, r.token, 2)
		if err != nil {
			return Throughput{}, err
		}
		clients[i] = c
	}
	var (
		mu     sync.Mutex
		ids    []string
		calls  []call
		errs   []error
		failed int
		wg     sync.WaitGroup
	)
	start := time.Now()
	for ci, c := range clients {
		wg.Go(func() {
			for j := range per {
				t0 := time.Now()
				res, err := r.generateAndWaitResult(ctx, c, fmt.Sprintf("bench throughput %s n=%d c=%d #%d", r.runID, n, ci, j))
				end := time.Now()
				mu.Lock()
				if err != nil {
					failed++
					errs = append(errs, err)
				} else {
					cl := call{client: ci, took: end.Sub(t0)}
					// The job's record is updated in its last workflow task,
					// a few milliseconds before the workflow closes.
					if closed, err := time.Parse(time.RFC3339Nano, res.Job.UpdatedAt); err == nil {
						cl.late = end.Sub(closed)
					}
					calls = append(calls, cl)
				}
				if res.Job.JobID != "" {
					ids = append(ids, res.Job.JobID)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if ctx.Err() != nil {
		return Throughput{}, ctx.Err()
	}
	completed, err := r.verifyCompleted(ctx, clients[0], ids)
	if err != nil {
		return Throughput{}, err
	}
	total := n * per
	tp := Throughput{
		Clients: n, Jobs: total, Completed: completed, Lost: total - completed, Errors: failed,
		Seconds: round2(wall.Seconds()), JobsPerSec: round2(float64(len(calls)) / wall.Seconds()), Latency: distOf(tookOf(calls)),
	}
	tp.SteadyJobsPerSec, tp.Stalls = steadyRate(calls)
	if len(errs) > 0 {
		r.progress("throughput %d clients: %d errors, first: %v", n, len(errs), errs[0])
	}
	return tp, nil
}

// verifyCompleted asks get_job_status about every job id and counts the
// completed ones: a job the tool call reported done but that Temporal does
// not know as completed would be lost.
func (r *runner) verifyCompleted(ctx context.Context, c *mcpClient, ids []string) (int, error) {
	var (
		completed atomic.Int64
		wg        sync.WaitGroup
		sem       = make(chan struct{}, 8)
	)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			res, err := c.call(ctx, "get_job_status", map[string]any{"job_id": id})
			if err == nil && res.Status == "completed" {
				completed.Add(1)
			}
		})
	}
	wg.Wait()
	return int(completed.Load()), ctx.Err()
}

// throughputBare: n goroutines, each running per bare workflows back to back.
func (r *runner) throughputBare(ctx context.Context, n, per int) (BareThroughput, error) {
	type done struct {
		client   int
		id       string
		took     time.Duration
		returned time.Time
	}
	var (
		mu   sync.Mutex
		runs []done
		errs []error
		wg   sync.WaitGroup
	)
	tc := r.app.Temporal()
	start := time.Now()
	for ci := range n {
		wg.Go(func() {
			for range per {
				t0 := time.Now()
				id, err := runBare(ctx, tc)
				end := time.Now()
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					runs = append(runs, done{ci, id, end.Sub(t0), end})
					r.bareID = id
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if len(errs) > 0 {
		return BareThroughput{}, errorsJoin(errs)
	}
	// Ask each run when it closed, to tell a stalled Get from a slow job.
	calls := make([]call, len(runs))
	sem := make(chan struct{}, 8)
	for i, d := range runs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			calls[i] = call{client: d.client, took: d.took}
			resp, err := tc.DescribeWorkflowExecution(ctx, d.id, "")
			if err == nil && resp.GetWorkflowExecutionInfo().GetCloseTime() != nil {
				calls[i].late = d.returned.Sub(resp.GetWorkflowExecutionInfo().GetCloseTime().AsTime())
			}
		})
	}
	wg.Wait()
	bt := BareThroughput{
		Jobs: n * per, Completed: len(runs), Seconds: round2(wall.Seconds()),
		JobsPerSec: round2(float64(len(runs)) / wall.Seconds()), Latency: distOf(tookOf(calls)),
	}
	bt.SteadyJobsPerSec, bt.Stalls = steadyRate(calls)
	return bt, ctx.Err()
}

// waitersPerJob: the memory scenario's waiters share jobs. What a waiter
// costs does not depend on how many others wait on the same job (each has
// its own request, its own Get and its own long poll in history), while
// every held job adds activity and heartbeat goroutines that come and go on
// their own schedule and would blur the difference being measured.
const waitersPerJob = 50

// memory holds a few jobs at the provider, measures the process before and
// while Waiters wait_for_completion calls block on them, lets the jobs
// finish, and checks that the waiters' goroutines go away.
func (r *runner) memory(ctx context.Context, rep *Report) error {
	w := r.cfg.Waiters
	m := Memory{Waiters: w, Jobs: (w + waitersPerJob - 1) / waitersPerJob}
	raw := newRawClient(r.app.MCPURL, r.token, w+16)
	defer raw.close()

	// Connection pools of earlier scenarios are not the waiters' doing.
	r.prov.dropIdle()
	if err := sleep(ctx, 500*time.Millisecond); err != nil {
		return err
	}
	rss, err := settledRSS()
	if err != nil {
		return err
	}
	base := goroutines()
	m.RSSBaselineMB, m.GoroutinesBaseline = mb(rss), base.total

	r.prov.gate.hold()
	defer r.prov.gate.release()
	ids, err := r.startHeldJobs(ctx, raw, m.Jobs)
	if err != nil {
		return err
	}
	rssBefore, err := settledRSS()
	if err != nil {
		return err
	}
	before := goroutines()
	m.RSSBeforeMB, m.GoroutinesBefore = mb(rssBefore), before.total

	r.progress("memory: %d waiters on %d held jobs", w, len(ids))
	var (
		wg        sync.WaitGroup
		completed atomic.Int64
		errMu     sync.Mutex
		errs      []error
		returned  atomic.Int64
	)
	for i := range w {
		id := ids[i%len(ids)]
		wg.Go(func() {
			defer returned.Add(1)
			res, err := raw.call(ctx, "wait_for_completion", map[string]any{"job_id": id})
			if err == nil && res.Done && res.Job.Status == "completed" {
				completed.Add(1)
				return
			}
			if err == nil {
				err = fmt.Errorf("wait_for_completion %s: done=%v status=%q", id, res.Done, res.Job.Status)
			}
			errMu.Lock()
			errs = append(errs, err)
			errMu.Unlock()
		})
	}
	abort := func(err error) error {
		r.prov.gate.release()
		wg.Wait()
		return err
	}
	if err := waitBlocked(ctx, before.longPolls+w, 2*time.Minute); err != nil {
		return abort(err)
	}
	if n := returned.Load(); n > 0 {
		return abort(fmt.Errorf("%d waiters returned while their jobs were held: %v", n, errorsJoin(errs)))
	}
	rssDuring, err := settledRSS()
	if err != nil {
		return abort(err)
	}
	during := goroutines()
	m.RSSDuringMB, m.GoroutinesDuring = mb(rssDuring), during.total
	m.PerWaiterKB = round2(float64(rssDuring-rssBefore) / 1024 / float64(w))
	m.GoroutinesPerWaiter = round2(float64(during.total-before.total) / float64(w))
	m.ClientGoroutinesPerWaiter = round2(float64(during.client-before.client) / float64(w))
	m.WaiterPathPerWaiter = round2(float64(during.waiterPath-before.waiterPath) / float64(w))

	r.progress("memory: releasing %d jobs", len(ids))
	r.prov.gate.release()
	wg.Wait()
	m.Completed, m.Errors = int(completed.Load()), len(errs)
	if len(errs) > 0 {
		r.progress("memory: %d waiters failed, first: %v", len(errs), errs[0])
	}

	// Idle keep-alive connections are the clients' to close; then every
	// goroutine on the waiters' path must go.
	raw.close()
	r.prov.dropIdle()
	settleStart := time.Now()
	const settleBound = 20 * time.Second
	after := goroutines()
	for after.waiterPath > base.waiterPath && time.Since(settleStart) < settleBound {
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
		after = goroutines()
	}
	m.SettleMS = ms(time.Since(settleStart))
	m.GoroutinesAfter = after.total
	m.Leftover = max(0, after.total-base.total)
	m.LeftoverWaiterPath = max(0, after.waiterPath-base.waiterPath)
	if rss, err := settledRSS(); err == nil {
		m.RSSAfterMB = mb(rss)
	}
	rep.Memory = m
	return nil
}

// heldModel is the model of the held jobs: the slowest one, whose generous
// activity timeout leaves room to hold calls for a while.
const heldModel = "sdxl-base"

// startHeldJobs starts n jobs while the gate holds the provider and waits
// until their provider calls have arrived and have heartbeated once, so that
// the jobs' own goroutines are all in place before the "before" reading.
func (r *runner) startHeldJobs(ctx context.Context, raw *rawClient, n int) ([]string, error) {
	r.progress("memory: starting %d jobs held at the provider", n)
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := raw.call(ctx, "generate_image", map[string]any{
				"prompt": fmt.Sprintf("bench memory %s #%d", r.runID, i), "model": heldModel,
			})
			ids[i], errs[i] = res.JobID, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, errorsJoin(errs)
	}
	deadline := time.Now().Add(time.Minute)
	for r.prov.gate.waiting.Load() < int64(n) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d provider calls arrived", r.prov.gate.waiting.Load(), n)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
	// The generate activity heartbeats every 3 s; the SDK then keeps a
	// goroutine per activity to batch heartbeats.
	return ids, sleep(ctx, 4*time.Second)
}

// waitBlocked waits until at least want long polls are parked in Temporal's
// history service (the deepest point of a blocked wait_for_completion) and
// the goroutine count has stopped moving for a second.
func waitBlocked(ctx context.Context, want int, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	var (
		g      = goroutines()
		stable time.Time
	)
	for {
		if time.Now().After(deadline) {
			return fmt.Errorf("waiters did not block within %s: %d long polls in history, want %d", bound, g.longPolls, want)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
		prev := g
		g = goroutines()
		switch {
		case g.longPolls < want || abs(g.total-prev.total) > 20:
			stable = time.Time{}
		case stable.IsZero():
			stable = time.Now()
		case time.Since(stable) >= time.Second:
			return nil
		}
	}
}

func abs(x int) int { return max(x, -x) }

// history sums the protobuf size of the events of one completed job, and of
// one bare job for comparison.
func (r *runner) history(ctx context.Context, rep *Report) error {
	var err error
	if rep.History.Events, rep.History.Bytes, err = r.historySize(ctx, r.jobID); err != nil {
		return err
	}
	rep.History.BareEvents, rep.History.BareBytes, err = r.historySize(ctx, r.bareID)
	return err
}

func (r *runner) historySize(ctx context.Context, id string) (events, bytes int, err error) {
	if id == "" {
		return 0, 0, errors.New("no completed job to read the history of")
	}
	it := r.app.Temporal().GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return 0, 0, fmt.Errorf("history of %s: %w", id, err)
		}
		events++
		bytes += proto.Size(ev)
	}
	return events, bytes, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
