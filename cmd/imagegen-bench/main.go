package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/imagegen/imagegen/internal/logging"
)

// main starts its own dev stack on a fresh data directory, with the Workers
// AI fake as the provider, runs every scenario and prints the report.
// Progress goes to stderr so that stdout stays the report.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runBench(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "imagegen-bench:", err)
		}
		os.Exit(1)
	}
}

// runBench parses the flags and runs the benchmark.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("imagegen-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := DefaultConfig()
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quick := fs.Bool("quick", false, "tiny configuration: 5 jobs, 20 waiters, clients 1,2, a 300 ms provider (explicit flags still apply)")
	full := fs.Bool("full", false, "also run jobs with a real 7 s provider to measure the overhead on top of it")
	delay := fs.Duration("provider-delay", def.ProviderDelay, "how long the fake provider takes in the wait latency scenario")
	jobs := fs.Int("jobs", def.Jobs, "jobs in the latency and overhead scenarios and at each throughput level")
	waiters := fs.Int("waiters", def.Waiters, "concurrent wait_for_completion calls in the memory scenario")
	lateWaits := fs.Int("late-waits", def.LateWaits, "jobs per way of waiting in the late-wait count (woke > 1 s after the job closed)")
	dataDir := fs.String("data-dir", "", "data directory for the benchmark's stack; must be empty or absent (default: a temporary directory, removed afterwards)")
	clients := fs.String("clients", joinInts(def.Clients), "comma-separated numbers of concurrent MCP clients for the throughput scenario")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file, for go tool pprof")
	temporal := fs.String("temporal", "", "Temporal frontend host:port of a cluster: measure serve with 1, 2 and 3 workers against it next to the dev stack (overhead with 1 client, throughput with --clients, default 10,50)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: imagegen-bench [flags]\n\nStarts its own dev stack and measures wait latency (next to pollers), overhead,\nthroughput (next to a bare Temporal workflow), memory per waiter, history size\nand start-up. Takes a few minutes; --quick takes well under one.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	cfg := def
	if *quick {
		cfg = QuickConfig()
	}
	// Flags given explicitly win over the quick configuration.
	var parseErr error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "provider-delay":
			cfg.ProviderDelay = *delay
		case "jobs":
			cfg.Jobs = *jobs
		case "waiters":
			cfg.Waiters = *waiters
		case "late-waits":
			cfg.LateWaits = *lateWaits
		case "clients":
			cfg.Clients, parseErr = parseInts(*clients)
		}
	})
	if parseErr != nil {
		return fmt.Errorf("--clients: %w", parseErr)
	}
	cfg.Full = *full
	cfg.DataDir = *dataDir
	cfg.Progress = stderr
	// Only the service's errors: its info logs would bury the progress lines.
	cfg.Logger = logging.New(stderr, "text", "error")

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	if *temporal != "" {
		cc := DefaultClusterConfig()
		cc.Address, cc.Jobs, cc.Progress, cc.Logger = *temporal, cfg.Jobs, cfg.Progress, cfg.Logger
		if *quick {
			cc.Jobs, cc.Workers = 5, []int{1, 2}
		}
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "clients" {
				cc.Clients = cfg.Clients
			}
		})
		rep, err := RunCluster(ctx, cc)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "bench: done in %s\n", time.Since(start).Round(time.Second))
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}
		return rep.WriteTable(stdout)
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: done in %s\n", time.Since(start).Round(time.Second))
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteTable(stdout)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no numbers in %q", s)
	}
	return out, nil
}
