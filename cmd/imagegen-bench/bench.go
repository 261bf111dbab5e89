// Command imagegen-bench measures the service end to end, in one process, and puts
// every figure next to a baseline measured in the same run: blocking waits
// next to clients that poll, MCP throughput next to a bare Temporal workflow
// of the same shape on the same server. On a shared machine absolute numbers
// drift with the neighbours' load; the ratios hold.
//
// Run starts its own dev stack (embedded Temporal on SQLite, worker, MCP
// HTTP server) on a fresh data directory, with the Workers AI fake as the
// provider, and returns a Report, which the command prints (a table, or JSON
// with --json). It is a command of its own so that the imagegen binary links
// no benchmark and no test kit.
//
// Stalls: the Temporal server (v1.32.1) now and then misses the wake-up of
// a blocked workflow-result long poll. Its history event notifier hands each
// waiter events through a one-slot channel and drops an event when the slot
// is still full, so when two events of a job arrive before the waiter has
// run, the closing one can be lost; the call then returns only when the
// long poll expires (20 s by default). It hits wait_for_completion and the
// SDK's own Get alike, more often on a busy machine. The report counts such
// calls rather than hiding them, and compares throughput with and without.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/internal/testkit"
)

// Config chooses what Run measures and how much.
type Config struct {
	// DataDir holds the stack's database and images. It must be empty or
	// absent: the first start is measured on a fresh directory. "" means a
	// temporary directory, removed afterwards.
	DataDir string
	// ProviderDelay is how long the fake provider takes in the wait latency
	// scenario. It only has to be long enough for the waiters to be blocked.
	ProviderDelay time.Duration
	// Jobs is the number of jobs in the latency and overhead scenarios and at
	// each throughput level.
	Jobs int
	// Waiters is the number of concurrent wait_for_completion calls held in
	// the memory scenario.
	Waiters int
	// Clients are the concurrency levels of the throughput scenario.
	Clients []int
	// LatencySpacing is the time between the starts of two latency jobs.
	// Jobs arrive at a steady pace rather than in bursts: jobs started
	// together finish together and queue behind each other in SQLite, which
	// would measure throughput, not how fast a finished job is noticed.
	LatencySpacing time.Duration
	// PollIntervals are the baseline pollers of the latency scenario.
	PollIntervals []time.Duration
	// Full also runs jobs with a real 7 s provider delay, instead of only
	// computing the overhead's share of one.
	Full bool
	// IdleSettle is how long the fresh stack sits before its idle RSS is read.
	IdleSettle time.Duration
	// CostWaiters is how many waiters (one held job each) the waiter-cost
	// scenario holds per way of waiting, for WaiterHold.
	CostWaiters int
	WaiterHold  time.Duration
	// LateWaits is how many back-to-back jobs the late-wait count runs per
	// way of waiting, LateClients at a time.
	LateWaits   int
	LateClients int
	// Progress receives one line per step; nil for none.
	Progress io.Writer
	// Logger receives the service's own logs; nil discards them.
	Logger *slog.Logger
}

// referenceProvider is the provider time the overhead is compared with: FLUX
// Schnell, the default model, takes 7-10 s.
const referenceProvider = 7 * time.Second

// DefaultConfig is the full benchmark.
func DefaultConfig() Config {
	return Config{
		ProviderDelay: 2 * time.Second, Jobs: 200, Waiters: 1000, Clients: []int{1, 10, 50},
		LatencySpacing: 250 * time.Millisecond, PollIntervals: []time.Duration{3 * time.Second, time.Second},
		IdleSettle:  2 * time.Second,
		CostWaiters: 20, WaiterHold: 10 * time.Second, LateWaits: 1000, LateClients: 10,
	}
}

// QuickConfig is a tiny run that exercises every scenario in well under a
// minute: for tests and for trying the command out.
func QuickConfig() Config {
	return Config{
		ProviderDelay: 300 * time.Millisecond, Jobs: 5, Waiters: 20, Clients: []int{1, 2},
		LatencySpacing: 100 * time.Millisecond, PollIntervals: []time.Duration{3 * time.Second, time.Second},
		IdleSettle:  200 * time.Millisecond,
		CostWaiters: 3, WaiterHold: time.Second, LateWaits: 20, LateClients: 4,
	}
}

func (c Config) validate() error {
	switch {
	case c.Jobs < 1:
		return errors.New("bench: jobs must be at least 1")
	case c.Waiters < 1:
		return errors.New("bench: waiters must be at least 1")
	case len(c.Clients) == 0:
		return errors.New("bench: no client counts given")
	case c.LatencySpacing < 0:
		return errors.New("bench: latency spacing must not be negative")
	case c.ProviderDelay < 0:
		return errors.New("bench: provider delay must not be negative")
	case len(c.PollIntervals) == 0:
		return errors.New("bench: no poll intervals given")
	case c.CostWaiters < 1 || c.LateWaits < 1 || c.LateClients < 1:
		return errors.New("bench: cost waiters, late waits and late clients must be at least 1")
	case c.WaiterHold < 0:
		return errors.New("bench: waiter hold must not be negative")
	}
	for _, n := range c.Clients {
		if n < 1 {
			return fmt.Errorf("bench: client count %d must be at least 1", n)
		}
	}
	for _, iv := range c.PollIntervals {
		if iv <= 0 {
			return fmt.Errorf("bench: poll interval %s must be positive", iv)
		}
	}
	return nil
}

// Run starts a dev stack and runs every scenario against it.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	began := time.Now()
	dir, cleanup, err := prepareDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	r := &runner{cfg: cfg, prov: newProvider(), token: randomToken(), runID: randomToken()[:8], dir: dir, began: began}
	defer r.prov.close()
	rep := &Report{Machine: machine(), Settings: settingsOf(cfg)}

	if err := r.startup(ctx, &rep.Startup); err != nil {
		return nil, err
	}
	defer func() {
		// The baseline's worker uses the app's client: stop it first.
		if r.bare != nil {
			r.bare.Stop()
		}
		r.app.Close()
	}()
	steps := []struct {
		name string
		run  func(context.Context, *Report) error
	}{
		{"warm-up", r.warmUp},
		{"wait latency", r.latency},
		{"tasks", r.tasks},
		{"overhead", r.overhead},
		{"throughput", r.throughput},
		{"memory", r.memory},
		{"history", r.history},
		{"waiter cost", r.waiterCost},
	}
	for _, s := range steps {
		r.progress("%s", s.name)
		if err := s.run(ctx, rep); err != nil {
			return nil, fmt.Errorf("bench %s: %w", s.name, err)
		}
	}
	rep.Targets = targets(rep)
	rep.DurationSeconds = round2(time.Since(began).Seconds())
	return rep, nil
}

// prepareDataDir returns the directory to use and how to clean it up.
func prepareDataDir(dir string) (string, func(), error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "imagegen-bench-")
		if err != nil {
			return "", nil, fmt.Errorf("bench: temp data dir: %w", err)
		}
		return tmp, func() { os.RemoveAll(tmp) }, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, fmt.Errorf("bench: data dir: %w", err)
	}
	entries, err := os.ReadDir(abs)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", nil, fmt.Errorf("bench: data dir: %w", err)
	}
	if len(entries) > 0 {
		return "", nil, fmt.Errorf("bench: data dir %s is not empty: the benchmark measures a start on a fresh directory", abs)
	}
	// A directory the user named is theirs: keep it for inspection.
	return abs, func() {}, nil
}

func machine() Machine {
	return Machine{
		Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, LoadAverage: loadAverage(),
	}
}

func settingsOf(c Config) Settings {
	s := Settings{
		ProviderDelayMS: ms(c.ProviderDelay), Jobs: c.Jobs, Waiters: c.Waiters, Clients: slices.Clone(c.Clients),
		LatencySpacingMS: ms(c.LatencySpacing), Full: c.Full,
	}
	for _, iv := range c.PollIntervals {
		s.PollIntervalsMS = append(s.PollIntervalsMS, ms(iv))
	}
	return s
}

// startApp starts the dev stack on the runner's data dir and times it.
func (r *runner) startApp(ctx context.Context) (*app.App, time.Duration, error) {
	cfg := appConfig(r.dir, r.token, r.prov)
	start := time.Now()
	a, err := testkit.Dev(ctx, cfg, quietLogger(r.cfg.Logger))
	if err != nil {
		return nil, 0, fmt.Errorf("start dev stack: %w", err)
	}
	return a, time.Since(start), nil
}

func (r *runner) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "bench %5.1fs: %s\n", time.Since(r.began).Seconds(), fmt.Sprintf(format, args...))
	}
}
