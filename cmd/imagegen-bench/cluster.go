package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/deploy"
	"github.com/imagegen/imagegen/internal/testkit"
)

// ClusterConfig chooses what RunCluster measures: imagegen serve and
// workers against an external Temporal cluster, next to the embedded
// SQLite dev stack, in one run.
type ClusterConfig struct {
	// Address is the Temporal frontend (host:port) of the cluster.
	Address string
	// Jobs is the number of jobs of the overhead measurement and of each
	// throughput level.
	Jobs int
	// Clients are the throughput levels (concurrent MCP clients).
	Clients []int
	// Workers are the worker counts measured on the cluster, ascending.
	Workers []int
	// Progress receives one line per step; nil for none.
	Progress io.Writer
	// Logger receives the service's own logs; nil discards them.
	Logger *slog.Logger
}

// DefaultClusterConfig: overhead with one client and throughput with 10 and
// 50 clients, for 1, 2 and 3 workers.
func DefaultClusterConfig() ClusterConfig {
	return ClusterConfig{Jobs: 200, Clients: []int{10, 50}, Workers: []int{1, 2, 3}}
}

func (c ClusterConfig) validate() error {
	switch {
	case c.Address == "":
		return errors.New("bench: no Temporal address given")
	case c.Jobs < 1:
		return errors.New("bench: jobs must be at least 1")
	case len(c.Clients) == 0:
		return errors.New("bench: no client counts given")
	case len(c.Workers) == 0:
		return errors.New("bench: no worker counts given")
	}
	prev := 0
	for _, n := range c.Workers {
		if n <= prev {
			return fmt.Errorf("bench: worker counts must be positive and ascending, got %v", c.Workers)
		}
		prev = n
	}
	return nil
}

// ClusterReport is the result of RunCluster.
type ClusterReport struct {
	Machine   Machine `json:"machine"`
	Address   string  `json:"temporal_address"`
	Namespace string  `json:"namespace"`
	Jobs      int     `json:"jobs"`
	// Runs: the dev stack first, then the cluster with each worker count.
	Runs            []ClusterRun `json:"runs"`
	DurationSeconds float64      `json:"duration_s"`
}

// ClusterRun is one stack: overhead with one client, throughput per level.
type ClusterRun struct {
	Stack   string `json:"stack"` // "dev" or "cluster"
	Workers int    `json:"workers"`
	// Overhead is generate_image_and_wait end to end, one job at a time,
	// with an instant provider: all of it is what the system adds.
	Overhead   Dist         `json:"overhead"`
	Throughput []Throughput `json:"throughput"`
}

// RunCluster measures the dev stack (embedded Temporal on SQLite, one
// worker, all in this process) and then, on the cluster at cfg.Address, one
// imagegen serve with 1, 2, 3... workers: each worker a component of its
// own with its own Temporal connection and data dir, in this process, as
// the dev stack's is. Images go to an in-process S3 server (gofakes3), the
// provider is the instant Workers AI fake. The jobs run in a namespace of
// the run's own, registered with deploy.RegisterNamespace.
func RunCluster(ctx context.Context, cfg ClusterConfig) (*ClusterReport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	began := time.Now()
	dir, cleanup, err := prepareDataDir("")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	r := &runner{
		cfg:  Config{Jobs: cfg.Jobs, Clients: cfg.Clients, Progress: cfg.Progress, Logger: cfg.Logger},
		prov: newProvider(), token: randomToken(), runID: randomToken()[:8], dir: filepath.Join(dir, "dev"), began: began,
	}
	defer r.prov.close()
	rep := &ClusterReport{Machine: machine(), Address: cfg.Address, Namespace: "imagegen-bench-" + r.runID, Jobs: cfg.Jobs}

	r.progress("dev stack (embedded SQLite)")
	a, _, err := r.startApp(ctx)
	if err != nil {
		return nil, err
	}
	r.app = a
	run, err := r.measureStack(ctx, "dev", 1)
	a.Close()
	if err != nil {
		return nil, fmt.Errorf("bench dev stack: %w", err)
	}
	rep.Runs = append(rep.Runs, run)

	r.progress("cluster at %s: namespace %s", cfg.Address, rep.Namespace)
	nctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = deploy.RegisterNamespace(nctx, cfg.Address, rep.Namespace, 24*time.Hour)
	cancel()
	if err != nil {
		return nil, err
	}
	backend := s3mem.New()
	if err := backend.CreateBucket("images"); err != nil {
		return nil, err
	}
	s3 := httptest.NewServer(gofakes3.New(backend).Server())
	defer s3.Close()
	clusterCfg := func(name string) config.Config {
		c := appConfig(filepath.Join(dir, name), r.token, r.prov)
		c.TemporalAddress, c.TemporalNamespace = cfg.Address, rep.Namespace
		c.R2Endpoint, c.R2PathStyle, c.R2Bucket = s3.URL, true, "images"
		c.R2AccessKeyID, c.R2SecretAccessKey = "bench", "bench-secret-key"
		return c
	}
	log := quietLogger(cfg.Logger)
	serve, err := testkit.Serve(ctx, clusterCfg("serve"), log)
	if err != nil {
		return nil, fmt.Errorf("start serve against %s: %w", cfg.Address, err)
	}
	defer serve.Close()
	r.app = serve
	var workers []*app.App
	defer func() {
		for _, w := range workers {
			w.Close()
		}
	}()
	for _, n := range cfg.Workers {
		for len(workers) < n {
			w, err := testkit.Worker(ctx, clusterCfg(fmt.Sprintf("worker-%d", len(workers)+1)), log)
			if err != nil {
				return nil, fmt.Errorf("start worker %d: %w", len(workers)+1, err)
			}
			workers = append(workers, w)
		}
		r.progress("cluster, %d worker(s)", n)
		run, err := r.measureStack(ctx, "cluster", n)
		if err != nil {
			return nil, fmt.Errorf("bench cluster with %d workers: %w", n, err)
		}
		rep.Runs = append(rep.Runs, run)
	}
	rep.DurationSeconds = round2(time.Since(began).Seconds())
	return rep, nil
}

// measureStack warms the stack r.app points at up, then measures the
// overhead with one client and the throughput at each level.
func (r *runner) measureStack(ctx context.Context, stack string, workers int) (ClusterRun, error) {
	run := ClusterRun{Stack: stack, Workers: workers}
	c, err := dialMCP(ctx, r.app.MCPURL, r.token, 4)
	if err != nil {
		return run, err
	}
	defer c.close()
	for i := range 10 {
		if _, err := r.generateAndWait(ctx, c, fmt.Sprintf("bench warm-up %s %s %d #%d", r.runID, stack, workers, i)); err != nil {
			return run, fmt.Errorf("warm-up: %w", err)
		}
	}
	walls := make([]time.Duration, 0, r.cfg.Jobs)
	for i := range r.cfg.Jobs {
		start := time.Now()
		if _, err := r.generateAndWait(ctx, c, fmt.Sprintf("bench overhead %s %s %d #%d", r.runID, stack, workers, i)); err != nil {
			return run, err
		}
		walls = append(walls, time.Since(start))
	}
	run.Overhead = distOf(walls)
	r.progress("%s, %d worker(s): overhead p50 %.1f ms", stack, workers, run.Overhead.P50)
	for _, n := range r.cfg.Clients {
		per := (r.cfg.Jobs + n - 1) / n
		// Prompts must differ from the other stacks' runs of the same level.
		id := r.runID
		r.runID = fmt.Sprintf("%s-%s%d", id, stack, workers)
		tp, err := r.throughputOurs(ctx, n, per)
		r.runID = id
		if err != nil {
			return run, err
		}
		r.progress("%s, %d worker(s), %d clients: %.1f jobs/s, %d lost", stack, workers, n, tp.JobsPerSec, tp.Lost)
		run.Throughput = append(run.Throughput, tp)
	}
	return run, nil
}

// WriteTable prints the report, every cluster figure next to the dev stack's.
func (r *ClusterReport) WriteTable(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	m := r.Machine
	p("imagegen bench --temporal %s: %d cores, GOMAXPROCS %d, %s %s/%s, load %s, took %.0f s", r.Address, m.Cores, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch, m.LoadAverage, r.DurationSeconds)
	p("%d jobs per measurement, instant provider, namespace %s", r.Jobs, r.Namespace)
	p("")
	header := "stack\tworkers\toverhead p50 / p99 ms (1 client)\tvs dev"
	if len(r.Runs) > 0 {
		for _, tp := range r.Runs[0].Throughput {
			header += fmt.Sprintf("\t%d clients jobs/s\tvs dev\tp50 / p99 ms\tlost", tp.Clients)
		}
	}
	p("%s\t", header)
	var dev ClusterRun
	for i, run := range r.Runs {
		if i == 0 {
			dev = run
		}
		name := "dev (embedded SQLite)"
		if run.Stack != "dev" {
			name = "cluster (PostgreSQL)"
		}
		line := fmt.Sprintf("%s\t%d\t%.1f / %.1f\t%s×", name, run.Workers, run.Overhead.P50, run.Overhead.P99, times(ratio(run.Overhead.P50, dev.Overhead.P50)))
		for j, tp := range run.Throughput {
			base := 0.0
			if j < len(dev.Throughput) {
				base = dev.Throughput[j].JobsPerSec
			}
			line += fmt.Sprintf("\t%.1f\t%s×\t%.0f / %.0f\t%d", tp.JobsPerSec, times(ratio(tp.JobsPerSec, base)), tp.Latency.P50, tp.Latency.P99, tp.Lost)
		}
		p("%s\t", line)
	}
	return w.Flush()
}
