package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/internal/testkit"
)

// TestQuickRunIsCompleteAndConsistent runs every scenario in the quick
// configuration so that the benchmark cannot rot. It checks that the report
// is complete and adds up; it asserts no timing.
func TestQuickRunIsCompleteAndConsistent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dev stack twice and runs every scenario")
	}
	cfg := QuickConfig()
	cfg.DataDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}

	checkDist := func(name string, d Dist, n int) {
		t.Helper()
		if d.N != n {
			t.Errorf("%s: %d samples, want %d", name, d.N, n)
		}
		if !(d.P50 <= d.P90 && d.P90 <= d.P99 && d.P99 <= d.Max) || d.Mean <= 0 || d.Mean > d.Max {
			t.Errorf("%s: inconsistent distribution %+v", name, d)
		}
	}

	if m := rep.Machine; m.Cores < 1 || m.GoVersion == "" {
		t.Errorf("machine = %+v", m)
	}
	st := rep.Startup
	if st.FreshReadyMS <= 0 || st.RestartReadyMS <= 0 || st.RestartFirstJobMS <= 0 || st.IdleRSSMB <= 0 || st.IdleGoroutines <= 0 {
		t.Errorf("startup incomplete: %+v", st)
	}

	wl := rep.WaitLatency
	if wl.Jobs != cfg.Jobs {
		t.Errorf("latency jobs = %d, want %d", wl.Jobs, cfg.Jobs)
	}
	checkDist("wait_for_completion", wl.Ours, cfg.Jobs)
	if len(wl.Pollers) != len(cfg.PollIntervals) {
		t.Fatalf("%d pollers, want %d", len(wl.Pollers), len(cfg.PollIntervals))
	}
	for i, p := range wl.Pollers {
		checkDist(fmt.Sprintf("poller %v", cfg.PollIntervals[i]), p.Latency, cfg.Jobs)
		if p.IntervalMS != ms(cfg.PollIntervals[i]) || p.Calls < cfg.Jobs || p.TimesP50 <= 0 {
			t.Errorf("poller %d = %+v", i, p)
		}
	}

	tk := rep.Tasks
	checkDist("task push", tk.Push, cfg.Jobs)
	checkDist("task poller", tk.Poller, cfg.Jobs)
	if tk.Jobs != cfg.Jobs || tk.PollIntervalMS <= 0 || tk.PollerCalls < cfg.Jobs || tk.TasksGet.N != tk.PollerCalls || tk.TimesP50 <= 0 {
		t.Errorf("tasks = %+v", tk)
	}

	ov := rep.Overhead
	checkDist("overhead", ov.Wall, cfg.Jobs)
	if ov.Jobs != cfg.Jobs || ov.P50PercentOf7s <= 0 || ov.P50PercentOf7s > ov.P99PercentOf7s || ov.Measured7s != nil {
		t.Errorf("overhead = %+v", ov)
	}

	if len(rep.Throughput) != len(cfg.Clients) {
		t.Fatalf("%d throughput levels, want %d", len(rep.Throughput), len(cfg.Clients))
	}
	for i, tp := range rep.Throughput {
		n := cfg.Clients[i]
		want := n * ((cfg.Jobs + n - 1) / n)
		if tp.Clients != n || tp.Jobs != want || tp.Completed != want || tp.Lost != 0 || tp.Errors != 0 {
			t.Errorf("throughput %d clients: %+v, want %d jobs all completed", n, tp, want)
		}
		if tp.Bare.Jobs != want || tp.Bare.Completed != want || tp.JobsPerSec <= 0 || tp.Bare.JobsPerSec <= 0 || tp.PercentOfBare <= 0 ||
			tp.SteadyJobsPerSec <= 0 || tp.Bare.SteadyJobsPerSec <= 0 || tp.Stalls > want || tp.Bare.Stalls > want {
			t.Errorf("throughput %d clients: bare %+v, ours %.1f jobs/s, %.0f%%", n, tp.Bare, tp.JobsPerSec, tp.PercentOfBare)
		}
		checkDist(fmt.Sprintf("throughput %d", n), tp.Latency, want)
		checkDist(fmt.Sprintf("bare throughput %d", n), tp.Bare.Latency, want)
	}

	mm := rep.Memory
	if mm.Waiters != cfg.Waiters || mm.Completed != cfg.Waiters || mm.Errors != 0 {
		t.Errorf("memory: %d waiters, %d completed, %d errors; want all %d completed", mm.Waiters, mm.Completed, mm.Errors, cfg.Waiters)
	}
	if mm.Jobs < 1 || mm.WaiterPathPerWaiter < 1 || mm.ClientGoroutinesPerWaiter <= 0 || mm.RSSBeforeMB <= 0 || mm.RSSDuringMB <= 0 {
		t.Errorf("memory readings inconsistent: %+v", mm)
	}

	h := rep.History
	if h.Events == 0 || h.Bytes == 0 || h.BareEvents == 0 || h.BareBytes == 0 {
		t.Errorf("history = %+v", h)
	}

	wc := rep.WaiterCost
	if len(wc.Modes) != 5 || len(wc.Late) != 3 {
		t.Fatalf("waiter cost: %d modes and %d late runs, want 5 and 3", len(wc.Modes), len(wc.Late))
	}
	for _, m := range wc.Modes {
		if m.PerWait < 1 || m.PerWaiterPerMinute <= 0 || m.ByMethod["GetWorkflowExecutionHistory"] < 1 {
			t.Errorf("waiter cost %q: %+v, want at least one history long poll per wait", m.Mode, m)
		}
		// Waits now describe once, for the final state: no ticker.
		if strings.HasPrefix(m.Mode, "now") && m.ByMethod["DescribeWorkflowExecution"] != 1 {
			t.Errorf("waiter cost %q: %v describes per wait, want 1", m.Mode, m.ByMethod["DescribeWorkflowExecution"])
		}
	}
	if before, now := wc.Modes[0], wc.Modes[2]; before.ByMethod["DescribeWorkflowExecution"] <= now.ByMethod["DescribeWorkflowExecution"] {
		t.Errorf("the describe ticker (%v per wait) should cost more describes than the history long poll (%v)", before.ByMethod, now.ByMethod)
	}
	for _, l := range wc.Late {
		if l.Waits != cfg.LateWaits || l.Late < 0 || l.Late > l.Waits || l.MaxMS < l.P50MS {
			t.Errorf("late waits %q inconsistent: %+v", l.Mode, l)
		}
	}

	if len(rep.Targets) == 0 {
		t.Error("no targets")
	}
	for _, tg := range rep.Targets {
		if tg.Name == "" || tg.Goal == "" || tg.Value == "" {
			t.Errorf("incomplete target %+v", tg)
		}
	}

	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, rep) {
		t.Errorf("JSON does not round-trip:\n%s", b)
	}

	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"STARTUP", "WAIT LATENCY", "OVERHEAD", "THROUGHPUT", "MEMORY", "HISTORY", "WAITER COST", "LATE WAITS", "TARGETS", "get_job_status every 3 s"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table misses %q:\n%s", want, table.String())
		}
	}
}

func TestDistIsOrderedNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	d := distOf(s)
	if d.N != 100 || d.P50 != 50 || d.P90 != 90 || d.P99 != 99 || d.Max != 100 || d.Mean != 50.5 {
		t.Errorf("distOf(1..100 ms) = %+v", d)
	}
	if one := distOf([]time.Duration{time.Millisecond}); one.P50 != 1 || one.P99 != 1 {
		t.Errorf("distOf(one sample) = %+v", one)
	}
	if (distOf(nil) != Dist{}) {
		t.Error("distOf(nil) is not empty")
	}
}

func TestSteadyRateLeavesStallsOut(t *testing.T) {
	calls := []call{
		{client: 0, took: 100 * time.Millisecond},
		{client: 0, took: 100 * time.Millisecond, late: 10 * time.Millisecond},
		{client: 1, took: 100 * time.Millisecond},
		{client: 1, took: 20100 * time.Millisecond, late: 20 * time.Second},
	}
	rate, stalls := steadyRate(calls)
	if stalls != 1 || rate != 20 {
		t.Errorf("steadyRate = %v jobs/s, %d stalls; want 20 jobs/s (4 calls in 200 ms), 1 stall", rate, stalls)
	}
}

func TestLastSSEDataTakesTheResponse(t *testing.T) {
	body := "event: message\ndata: {\"method\":\"notifications/progress\"}\n\nevent: message\ndata: {\"id\":1,\"result\":{}}\n\n"
	if got := string(lastSSEData([]byte(body))); got != `{"id":1,"result":{}}` {
		t.Errorf("lastSSEData = %q", got)
	}
}

func TestConfigRejectsNonsense(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"no jobs":       func(c *Config) { c.Jobs = 0 },
		"no waiters":    func(c *Config) { c.Waiters = 0 },
		"no clients":    func(c *Config) { c.Clients = nil },
		"zero clients":  func(c *Config) { c.Clients = []int{1, 0} },
		"negative wait": func(c *Config) { c.ProviderDelay = -time.Second },
		"no late waits": func(c *Config) { c.LateWaits = 0 },
		"negative hold": func(c *Config) { c.WaiterHold = -time.Second },
	} {
		cfg := QuickConfig()
		mutate(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%s: Run accepted the configuration", name)
		}
	}
	cfg := QuickConfig()
	cfg.DataDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "leftover"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty data dir: err = %v", err)
	}
}

// BenchmarkGenerateImageAndWait is one generate_image_and_wait over MCP
// Streamable HTTP against the dev stack, with an instant provider.
func BenchmarkGenerateImageAndWait(b *testing.B) {
	prov := newProvider()
	defer prov.close()
	token := randomToken()
	ctx := context.Background()
	a, err := testkit.Dev(ctx, appConfig(b.TempDir(), token, prov), quietLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	c, err := dialMCP(ctx, a.MCPURL, token, 4)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	r := &runner{prov: prov}
	// The first job after a start pays for connections and caches.
	if _, err := r.generateAndWait(ctx, c, "benchmark warm-up"); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		if _, err := r.generateAndWait(ctx, c, fmt.Sprintf("benchmark job %d", i)); err != nil {
			b.Fatal(err)
		}
	}
}
