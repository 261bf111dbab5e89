package reliability

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workersai/workersaitest"
	"github.com/imagegen/imagegen/workflows"
)

// TestKilledInTheMiddleOfReservationsLosesNoneAndCountsNoneTwice sends 20
// concurrent generate_image calls to `imagegen dev` with a daily budget for
// 12 jobs and SIGKILLs the process as soon as the first call is answered
// with a started job, while other calls are still reserving and starting. After a
// restart on the same data dir every job that was started finishes, and the
// day's ledger (Temporal state, in the embedded server's database) has
// spent exactly what those jobs report, settled each once, and holds no
// reservation: those of calls that died between reserving and starting
// their job are released after the orphan grace period (3 s here).
func TestKilledInTheMiddleOfReservationsLosesNoneAndCountsNoneTwice(t *testing.T) {
	t.Parallel()
	const calls, fits = 20, 12
	bin := imagegenBinary(t)
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	fake.SetDelay(5 * time.Second) // jobs are in flight when the process dies
	est, ok := imagegen.EstimateCost(imagegen.Request{Prompt: "x", Model: "flux-schnell"}.WithDefaults(), 1)
	if !ok {
		t.Fatal("flux-schnell has no estimate")
	}

	dir := t.TempDir()
	ports := freePorts(t, 2)
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	args := []string{"dev", "--addr", addr, "--temporal-port", strconv.Itoa(ports[1]), "--ui-port", "-1", "--data-dir", dir}
	env := workersAIEnv(fake)
	env["IMAGEGEN_DAILY_BUDGET_USD"] = (fits * est).String()
	env["IMAGEGEN_BUDGET_ORPHAN_GRACE"] = "3s"

	first := startProc(t, "imagegen dev (first run)", bin, args, env)
	first.waitReady(t)
	clients := make([]*client.Client, calls)
	for i := range clients {
		clients[i] = newClient(t, "http://"+addr+"/mcp")
	}
	var (
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		answered, refused   []string
		cutOff              int
		gate                = make(chan struct{})
		ctx, cancel         = context.WithTimeout(context.Background(), 5*time.Minute)
		killed              = make(chan struct{})
		killedAtProviderHit int
		firstStarted        = make(chan struct{})
		firstOnce           sync.Once
	)
	defer cancel()
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
			defer ccancel()
			res, out, err := call(cctx, c, "generate_image", map[string]any{"prompt": fmt.Sprintf("a lighthouse %d", i), "model": "flux-schnell"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				cutOff++ // the process died under the call
			case res.IsError && strings.Contains(fmt.Sprint(out["text"]), "Refused"):
				refused = append(refused, fmt.Sprint(out["text"]))
			case res.IsError:
				cutOff++ // e.g. "temporarily unavailable" while the process dies
			default:
				answered = append(answered, fmt.Sprint(out["job_id"]))
				firstOnce.Do(func() { close(firstStarted) })
			}
		}()
	}
	go func() {
		defer close(killed)
		// Kill as soon as the first call is answered with a started job,
		// while the others are reserving and starting theirs (or after 30 s:
		// the test then fails on what is missing, not here).
		select {
		case <-firstStarted:
		case <-time.After(30 * time.Second):
		}
		first.kill()
		killedAtProviderHit = fake.Calls()
	}()
	close(gate)
	<-killed
	wg.Wait()
	fake.SetDelay(0)

	second := startProc(t, "imagegen dev (after SIGKILL)", bin, args, env)
	second.waitReady(t)
	jc := devJobs(t, ctx, dir, ports[1])
	day := workflows.BudgetDay(time.Now())

	// Every started job ends (the ones killed mid-call are retried after
	// the heartbeat timeout) and every reservation is settled or released.
	var v workflows.BudgetView
	waitFor(t, 4*time.Minute, "no reservation left on the ledger", func() bool {
		var err error
		v, err = jc.Ledger(ctx, day)
		return err == nil && v.Reservations == 0
	})
	// The jobs that exist: wait until visibility lists as many as the
	// ledger settled (a ledger that lost or doubled one never gets there).
	var list []jobs.Job
	waitFor(t, time.Minute, "visibility to list every settled job", func() bool {
		var err error
		list, err = jc.List(ctx, jobs.ListOptions{Limit: 50})
		return err == nil && len(list) == v.Settled
	})
	var paid imagegen.USD
	ids := map[string]bool{}
	for _, j := range list {
		job, done, err := jc.Wait(ctx, j.ID, time.Minute)
		if err != nil || !done {
			t.Fatalf("job %s: done %v, %v", j.ID, done, err)
		}
		if job.Result == nil || job.Result.Cost == nil || job.Result.Cost.Actual == nil {
			if job.Status == workflows.StatusCompleted {
				t.Fatalf("completed job %s reports no cost", j.ID)
			}
		} else {
			paid += *job.Result.Cost.Actual
		}
		ids[j.ID] = true
	}
	for _, id := range answered {
		if !ids[id] {
			t.Errorf("job %s, answered as started before the kill, is not among the jobs", id)
		}
	}
	if v.Spent != paid {
		t.Errorf("the ledger spent %s, the %d jobs report %s", v.Spent, len(list), paid)
	}
	if len(list) > fits || v.Spent+v.Reserved > fits*est+fits*est/2 {
		t.Errorf("%d jobs ran on a budget for %d (spent %s)", len(list), fits, v.Spent)
	}
	t.Logf("measured: SIGKILL at the first started job (%d provider call(s) by then): %d calls answered as started, %d refused, %d cut off; after restart %d jobs ran and settled once each, "+
		"ledger spent %s = the jobs' %s, %d orphan reservation(s) released, %d reserved, %d ledger run(s)",
		killedAtProviderHit, len(answered), len(refused), cutOff, len(list), v.Spent, paid, v.Released, v.Reservations, v.Runs+1)
}

// devJobs connects a job client to the embedded Temporal of an `imagegen
// dev` on dir, with the secret it keeps there.
func devJobs(t *testing.T, ctx context.Context, dir string, port int) *jobs.Client {
	t.Helper()
	opts, err := config.Config{TemporalAddress: fmt.Sprintf("127.0.0.1:%d", port), DataDir: dir}.Defaults().Options(logging.New(io.Discard, "text", "error"))
	if err != nil {
		t.Fatal(err)
	}
	jc, closeJC, err := app.ConnectJobs(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeJC)
	return jc
}
