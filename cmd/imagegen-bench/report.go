package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Report is everything one run measured. Durations are in milliseconds,
// memory in MB or KB as the field names say.
type Report struct {
	Machine         Machine      `json:"machine"`
	Settings        Settings     `json:"settings"`
	Startup         Startup      `json:"startup"`
	WaitLatency     WaitLatency  `json:"wait_latency"`
	Tasks           TaskLatency  `json:"tasks"`
	Overhead        Overhead     `json:"overhead"`
	Throughput      []Throughput `json:"throughput"`
	Memory          Memory       `json:"memory"`
	History         History      `json:"history"`
	WaiterCost      WaiterCost   `json:"waiter_cost"`
	Targets         []Target     `json:"targets"`
	DurationSeconds float64      `json:"duration_s"`
}

// Machine says where the numbers come from.
type Machine struct {
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	// LoadAverage is /proc/loadavg at the start: other work on the machine
	// shifts absolute numbers, which is why baselines run alongside.
	LoadAverage string `json:"load_average"`
}

// Settings echo the configuration.
type Settings struct {
	ProviderDelayMS  float64   `json:"provider_delay_ms"`
	Jobs             int       `json:"jobs"`
	Waiters          int       `json:"waiters"`
	Clients          []int     `json:"clients"`
	LatencySpacingMS float64   `json:"latency_spacing_ms"`
	PollIntervalsMS  []float64 `json:"poll_intervals_ms"`
	Full             bool      `json:"full"`
}

// Startup is how fast the dev stack comes up and what it costs idle.
type Startup struct {
	// FreshReadyMS: testkit.Dev on an empty data dir (schema created) until it returns.
	FreshReadyMS float64 `json:"fresh_ready_ms"`
	// RestartReadyMS: testkit.Dev again on the same data dir.
	RestartReadyMS float64 `json:"restart_ready_ms"`
	// RestartFirstJobMS: the first generate_image_and_wait after the restart.
	RestartFirstJobMS float64 `json:"restart_first_job_ms"`
	// IdleRSSMB: the whole process after the fresh start settled.
	IdleRSSMB      float64 `json:"idle_rss_mb"`
	IdleGoroutines int     `json:"idle_goroutines"`
}

// WaitLatency is the time from the provider's answer to the client knowing
// the job is done, for the blocking wait and for pollers on the same jobs.
type WaitLatency struct {
	Jobs int  `json:"jobs"`
	Ours Dist `json:"wait_for_completion"`
	// Pollers call get_job_status every IntervalMS, starting at a random
	// phase (a poller's schedule has nothing to do with when a job ends).
	Pollers []Poller `json:"pollers"`
}

// Poller is one polling baseline.
type Poller struct {
	IntervalMS float64 `json:"interval_ms"`
	Latency    Dist    `json:"latency"`
	// Calls is the number of get_job_status calls it made in all.
	Calls int `json:"calls"`
	// TimesP50 and TimesP99: how many times longer than the blocking wait.
	TimesP50 float64 `json:"times_ours_p50"`
	TimesP99 float64 `json:"times_ours_p99"`
}

// Overhead is what the system adds around the provider call.
type Overhead struct {
	Jobs int `json:"jobs"`
	// Wall is generate_image_and_wait end to end with an instant provider:
	// all of it is overhead.
	Wall Dist `json:"wall"`
	// P50PercentOf7s and P99PercentOf7s: the overhead as a share of a 7 s
	// generation (FLUX Schnell's typical time).
	P50PercentOf7s float64 `json:"p50_percent_of_7s"`
	P99PercentOf7s float64 `json:"p99_percent_of_7s"`
	// Measured7s is wall minus 7 s with a real 7 s provider (only with Full).
	Measured7s *Dist `json:"measured_7s,omitempty"`
}

// Throughput is one concurrency level.
type Throughput struct {
	Clients int `json:"clients"`
	Jobs    int `json:"jobs"`
	// Completed jobs were verified with get_job_status after the run.
	Completed  int     `json:"completed"`
	Lost       int     `json:"lost"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	JobsPerSec float64 `json:"jobs_per_s"`
	Latency    Dist    `json:"latency"`
	// Stalls are calls that returned over a second after their workflow
	// closed (a lost wake-up); SteadyJobsPerSec is the rate without them.
	Stalls           int     `json:"stalls"`
	SteadyJobsPerSec float64 `json:"steady_jobs_per_s"`
	// Bare is a bare workflow with two instant activities at the same
	// concurrency, started and awaited through the SDK.
	Bare          BareThroughput `json:"bare"`
	PercentOfBare float64        `json:"percent_of_bare"`
	// SteadyPercentOfBare compares the rates without stalls: a stall hits
	// either side at random, and one 20 s stall halves a short run's rate.
	SteadyPercentOfBare float64 `json:"steady_percent_of_bare"`
}

// BareThroughput is the baseline of one concurrency level.
type BareThroughput struct {
	Jobs             int     `json:"jobs"`
	Completed        int     `json:"completed"`
	Seconds          float64 `json:"seconds"`
	JobsPerSec       float64 `json:"jobs_per_s"`
	Latency          Dist    `json:"latency"`
	Stalls           int     `json:"stalls"`
	SteadyJobsPerSec float64 `json:"steady_jobs_per_s"`
}

// Memory is the cost of blocked waiters. The client side of each call (the
// raw HTTP client's connection: two goroutines and two buffers, plus the
// goroutine making the call) runs in the same process and is included.
type Memory struct {
	Waiters int `json:"waiters"`
	// Jobs is how many held jobs the waiters share (see waitersPerJob).
	Jobs int `json:"jobs"`
	// RSSBaselineMB: before the scenario's jobs; RSSBeforeMB: jobs running
	// (held at the provider) but no waiters; RSSDuringMB: all waiters blocked.
	RSSBaselineMB float64 `json:"rss_baseline_mb"`
	RSSBeforeMB   float64 `json:"rss_before_mb"`
	RSSDuringMB   float64 `json:"rss_during_mb"`
	RSSAfterMB    float64 `json:"rss_after_mb"`
	PerWaiterKB   float64 `json:"per_waiter_kb"`

	GoroutinesBaseline  int     `json:"goroutines_baseline"`
	GoroutinesBefore    int     `json:"goroutines_before"`
	GoroutinesDuring    int     `json:"goroutines_during"`
	GoroutinesAfter     int     `json:"goroutines_after"`
	GoroutinesPerWaiter float64 `json:"goroutines_per_waiter"`
	// ClientGoroutinesPerWaiter is the benchmark's own HTTP client's share.
	ClientGoroutinesPerWaiter float64 `json:"client_goroutines_per_waiter"`
	// WaiterPathPerWaiter counts goroutines on the waiter's path only (HTTP
	// connection, MCP handler, job client, history long poll).
	WaiterPathPerWaiter float64 `json:"waiter_path_goroutines_per_waiter"`
	// LeftoverWaiterPath is goroutines on the waiters' path above the
	// baseline once the waiters returned and SettleMS (bounded) passed;
	// Leftover is all goroutines above the baseline, which includes the
	// Temporal server's and the SDK pollers' own ups and downs.
	LeftoverWaiterPath int     `json:"leftover_waiter_path_goroutines"`
	Leftover           int     `json:"leftover_goroutines"`
	SettleMS           float64 `json:"settle_ms"`
	// Completed waiters returned done with a completed job.
	Completed int `json:"completed"`
	Errors    int `json:"errors"`
}

// History is the Temporal history of one completed job.
type History struct {
	Events     int `json:"events"`
	Bytes      int `json:"bytes"`
	BareEvents int `json:"bare_events"`
	BareBytes  int `json:"bare_bytes"`
}

// Target is one goal of the issue, reported and never asserted.
type Target struct {
	Name  string `json:"name"`
	Goal  string `json:"goal"`
	Value string `json:"value"`
	Met   bool   `json:"met"`
}

// targets checks the report against the goals.
func targets(r *Report) []Target {
	var t []Target
	add := func(name, goal string, met bool, format string, args ...any) {
		t = append(t, Target{Name: name, Goal: goal, Value: fmt.Sprintf(format, args...), Met: met})
	}
	o := r.WaitLatency.Ours
	add("wait latency p50", "<= 20 ms", o.P50 <= 20, "%.1f ms", o.P50)
	add("wait latency p99", "<= 40 ms", o.P99 <= 40, "%.1f ms", o.P99)
	for _, p := range r.WaitLatency.Pollers {
		if p.IntervalMS == 3000 {
			add("vs 3 s poller (p50)", ">= 50x", p.TimesP50 >= 50, "%.0fx", p.TimesP50)
		}
	}
	tk := r.Tasks
	add("task push p50 (job closed → notifications/tasks)", "<= 20 ms", tk.Push.P50 <= 20, "%.1f ms (tasks/get poller at %.0f ms: %.0f ms)", tk.Push.P50, tk.PollIntervalMS, tk.Poller.P50)
	w := r.Overhead.Wall
	add("overhead p50 (instant provider)", "<= 50 ms", w.P50 <= 50, "%.1f ms", w.P50)
	add("overhead p99 (instant provider)", "<= 100 ms", w.P99 <= 100, "%.1f ms", w.P99)
	for _, tp := range r.Throughput {
		add(fmt.Sprintf("throughput, %d clients", tp.Clients), ">= 90% of bare (without stalls), 0 lost",
			tp.SteadyPercentOfBare >= 90 && tp.Lost == 0, "%.0f%%, %d lost (with stalls: %.0f%%)", tp.SteadyPercentOfBare, tp.Lost, tp.PercentOfBare)
	}
	m := r.Memory
	add("memory per waiter", "<= 200 KB", m.PerWaiterKB <= 200, "%.0f KB", m.PerWaiterKB)
	add("lingering goroutines (waiter path)", "0", m.LeftoverWaiterPath == 0, "%d for %d waiters (all goroutines: %+d)", m.LeftoverWaiterPath, m.Waiters, m.GoroutinesAfter-m.GoroutinesBaseline)
	for _, l := range r.WaiterCost.Late {
		if strings.HasPrefix(l.Mode, "now:") {
			add("late waits (woke > 1 s after close)", "0", l.Late == 0, "%d of %d (max %.0f ms)", l.Late, l.Waits, l.MaxMS)
		}
	}
	add("idle RSS", "<= 200 MB", r.Startup.IdleRSSMB <= 200, "%.0f MB", r.Startup.IdleRSSMB)
	add("restart ready", "<= 1 s", r.Startup.RestartReadyMS <= 1000, "%.0f ms", r.Startup.RestartReadyMS)
	return t
}

// WriteTable prints the report as aligned text.
func (r *Report) WriteTable(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	m := r.Machine
	p("imagegen bench: %d cores, GOMAXPROCS %d, %s %s/%s, load %s, took %.0f s", m.Cores, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch, m.LoadAverage, r.DurationSeconds)
	s := r.Settings
	p("settings: %d jobs per scenario, %d waiters, clients %s; latency jobs: provider delay %.0f ms, one started every %.0f ms",
		s.Jobs, s.Waiters, joinInts(s.Clients), s.ProviderDelayMS, s.LatencySpacingMS)
	p("")

	st := r.Startup
	p("STARTUP\t\t")
	p("fresh data dir → ready\t%.0f ms\t", st.FreshReadyMS)
	p("restart on same dir → ready\t%.0f ms\t", st.RestartReadyMS)
	p("first job after restart\t%.0f ms\t", st.RestartFirstJobMS)
	p("idle RSS (whole process)\t%.1f MB\t", st.IdleRSSMB)
	p("idle goroutines\t%d\t", st.IdleGoroutines)
	p("")

	p("WAIT LATENCY: provider answered → client knows (ms)\tn\tp50\tp90\tp99\tmax\tmean\tover 1 s\tp50 ×ours\tp99 ×ours\tcalls\t")
	o := r.WaitLatency.Ours
	p("wait_for_completion (blocking)\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t1\t1\t%d\t", o.N, o.P50, o.P90, o.P99, o.Max, o.Mean, o.Over1s, o.N)
	for _, pl := range r.WaitLatency.Pollers {
		d := pl.Latency
		p("get_job_status every %.0f s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%s\t%s\t%d\t",
			pl.IntervalMS/1000, d.N, d.P50, d.P90, d.P99, d.Max, d.Mean, d.Over1s, times(pl.TimesP50), times(pl.TimesP99), pl.Calls)
	}
	p("")

	tk := r.Tasks
	p("MCP TASKS: job closed → client knows (ms)\tn\tp50\tp90\tp99\tmax\tmean\tover 1 s\tp50 ×push\tp99 ×push\tcalls\t")
	d := tk.Push
	p("subscriptions/listen → notifications/tasks\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t1\t1\t%d\t", d.N, d.P50, d.P90, d.P99, d.Max, d.Mean, d.Over1s, d.N)
	d = tk.Poller
	p("tasks/get every pollIntervalMs (%.0f ms)\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%s\t%s\t%d\t",
		tk.PollIntervalMS, d.N, d.P50, d.P90, d.P99, d.Max, d.Mean, d.Over1s, times(tk.TimesP50), times(tk.TimesP99), tk.PollerCalls)
	d = tk.TasksGet
	p("tasks/get call duration\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t\t\t\t", d.N, d.P50, d.P90, d.P99, d.Max, d.Mean, d.Over1s)
	p("")

	ov := r.Overhead
	p("OVERHEAD: generate_image_and_wait, instant provider (ms)\tn\tp50\tp90\tp99\tmax\tmean\tover 1 s\tp50 of 7 s\tp99 of 7 s\t")
	d = ov.Wall
	p("wall time, all of it overhead\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%.2f%%\t%.2f%%\t", d.N, d.P50, d.P90, d.P99, d.Max, d.Mean, d.Over1s, ov.P50PercentOf7s, ov.P99PercentOf7s)
	if f := ov.Measured7s; f != nil {
		p("measured: wall − 7 s with a 7 s provider\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%.2f%%\t%.2f%%\t", f.N, f.P50, f.P90, f.P99, f.Max, f.Mean, f.Over1s, 100*f.P50/7000, 100*f.P99/7000)
	}
	p("")

	p("THROUGHPUT: instant provider\tclients\tjobs\tlost\terrors\tours jobs/s\tbare jobs/s\tours/bare\tstalls ours/bare\twithout stalls: ours/bare jobs/s\tours/bare\tours p50/p99 ms\tbare p50/p99 ms\t")
	for _, tp := range r.Throughput {
		p("generate_image_and_wait vs bare workflow\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.0f%%\t%d / %d\t%.1f / %.1f\t%.0f%%\t%.0f / %.0f\t%.0f / %.0f\t",
			tp.Clients, tp.Jobs, tp.Lost, tp.Errors, tp.JobsPerSec, tp.Bare.JobsPerSec, tp.PercentOfBare, tp.Stalls, tp.Bare.Stalls,
			tp.SteadyJobsPerSec, tp.Bare.SteadyJobsPerSec, tp.SteadyPercentOfBare,
			tp.Latency.P50, tp.Latency.P99, tp.Bare.Latency.P50, tp.Bare.Latency.P99)
	}
	p("")

	mm := r.Memory
	p("MEMORY: %d blocked wait_for_completion calls on %d held jobs\t\t", mm.Waiters, mm.Jobs)
	p("RSS baseline / jobs held / waiters blocked / after\t%.1f / %.1f / %.1f / %.1f MB\t", mm.RSSBaselineMB, mm.RSSBeforeMB, mm.RSSDuringMB, mm.RSSAfterMB)
	p("RSS per waiter (both ends of the connection)\t%.0f KB\t", mm.PerWaiterKB)
	p("goroutines per waiter: all / waiter path / bench client\t%.1f / %.1f / %.1f\t", mm.GoroutinesPerWaiter, mm.WaiterPathPerWaiter, mm.ClientGoroutinesPerWaiter)
	p("goroutines baseline / held / blocked / after\t%d / %d / %d / %d\t", mm.GoroutinesBaseline, mm.GoroutinesBefore, mm.GoroutinesDuring, mm.GoroutinesAfter)
	p("leftover on the waiter path after settle\t%d (after %.0f ms)\t", mm.LeftoverWaiterPath, mm.SettleMS)
	p("waiters completed / errors\t%d / %d\t", mm.Completed, mm.Errors)
	p("")

	h := r.History
	p("HISTORY per completed job\tevents\tbytes\t")
	p("GenerateImage\t%d\t%d\t", h.Events, h.Bytes)
	p("bare workflow\t%d\t%d\t", h.BareEvents, h.BareBytes)
	p("")

	wc := r.WaiterCost
	p("WAITER COST: %d waiters, jobs held %.0f ms\tTemporal calls per waiter per minute\tper wait\tby method, per wait\twait ms\t", wc.Waiters, wc.HeldMS)
	for _, m := range wc.Modes {
		p("%s\t%.1f\t%.1f\t%s\t%.0f\t", m.Mode, m.PerWaiterPerMinute, m.PerWait, byMethod(m.ByMethod), m.WaitMS)
	}
	p("")
	p("LATE WAITS: instant provider, job closed → waiter returns\twaits\tlate (> 1 s)\tp50 ms\tp99 ms\tmax ms\tcalls per wait\t")
	for _, l := range wc.Late {
		p("%s\t%d\t%d\t%.1f\t%.1f\t%.0f\t%.1f\t", l.Mode, l.Waits, l.Late, l.P50MS, l.P99MS, l.MaxMS, l.PerWait)
	}
	p("")

	p("TARGETS (reported, not asserted)\tgoal\tvalue\tmet\t")
	for _, t := range r.Targets {
		met := "yes"
		if !t.Met {
			met = "NO"
		}
		p("%s\t%s\t%s\t%s\t", t.Name, t.Goal, t.Value, met)
	}
	return w.Flush()
}

// byMethod lists calls per method, most first.
func byMethod(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		return m[names[i]] > m[names[j]] || (m[names[i]] == m[names[j]] && names[i] < names[j])
	})
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %.1f", strings.TrimSuffix(strings.TrimPrefix(k, "Get"), "Execution"), m[k])
	}
	return strings.Join(parts, ", ")
}

// times formats a ratio: one decimal below 10 (a ratio under 1 must not
// print as 0), whole numbers above.
func times(x float64) string {
	if x < 10 {
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.0f", x)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}
