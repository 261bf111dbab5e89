// Command imagegen is an MCP server that generates images through durable
// Temporal workflows. Subcommands: dev, serve, worker, stdio.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/devserver"
	"github.com/imagegen/imagegen/internal/logging"
)

const usage = `imagegen: image generation for AI assistants, over MCP, on Temporal.

Usage:
  imagegen dev      everything in one process: embedded Temporal + Web UI, worker, MCP HTTP server
  imagegen serve    MCP HTTP server (/mcp, /sse) against TEMPORAL_ADDRESS
  imagegen worker   worker against TEMPORAL_ADDRESS
  imagegen stdio    MCP over stdin/stdout against TEMPORAL_ADDRESS, for desktop clients
  imagegen jobs     operators: list, show, retry and cancel jobs (see "imagegen jobs")
  imagegen history  operators: "history rebuild" records images stored before image records existed
  imagegen budget   operators: today's budget: spent, reserved, left, by model (see "imagegen budget -h")

Run "imagegen <command> -h" for flags. Configuration comes from the environment
(see README); flags override it.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		var ie *imagegen.Error
		switch {
		case errors.Is(err, flag.ErrHelp):
		case errors.As(err, &ie):
			fmt.Fprintln(os.Stderr, "imagegen:", termSafe(ie.Message))
		default:
			fmt.Fprintln(os.Stderr, "imagegen:", termSafe(err.Error()))
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	mode, rest := args[0], args[1:]
	switch mode {
	case "dev", "serve", "worker", "stdio":
	case "jobs":
		return runJobs(ctx, rest, getenv, stdout, stderr)
	case "history":
		return runHistory(ctx, rest, getenv, stdout, stderr)
	case "budget":
		return runBudget(ctx, rest, getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", mode)
	}
	cfg, err := config.Parse(mode, rest, getenv)
	if err != nil {
		return err
	}
	log := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	opts, err := cfg.Resolve(log)
	if err != nil {
		return err
	}

	var a *app.App
	switch mode {
	case "stdio":
		// stdout carries the protocol: logs go to stderr only.
		if !given(rest, getenv, "temporal-address", "TEMPORAL_ADDRESS") {
			// No Temporal named: use (or start) the dev stack of the data
			// dir, by default the user's data directory.
			if !given(rest, getenv, "data-dir", "IMAGEGEN_DATA_DIR") {
				if cfg.DataDir, err = userDataDir(getenv); err != nil {
					return err
				}
			}
			if cfg, err = ensureStack(ctx, cfg, log); err != nil {
				return err
			}
			if opts, err = cfg.Resolve(log); err != nil {
				return err
			}
		}
		return app.Stdio(ctx, opts, stdin, stdout)
	case "dev":
		a, err = app.StartDev(ctx, opts)
	case "serve":
		a, err = app.StartServe(ctx, opts)
	case "worker":
		a, err = app.StartWorker(ctx, opts)
	}
	if err != nil {
		return portAdvice(err)
	}
	// The ready line names what this process really serves.
	log.Info("imagegen ready", append([]any{"mode", mode}, a.Serves()...)...)
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-a.Served():
		log.Error("http server stopped", "error", err)
	}
	return a.Close()
}

// portAdvice turns a busy port of the embedded Temporal or its UI into a
// sentence naming the flag that moves it.
func portAdvice(err error) error {
	var pe *devserver.PortInUseError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Service {
	case "frontend":
		return fmt.Errorf("port %d for the embedded Temporal is in use (is another imagegen dev or a Temporal server running?): choose another with --temporal-port N, or --temporal-port 0 for a free one", pe.Port)
	case "ui":
		return fmt.Errorf("port %d for the Temporal Web UI is in use (is another imagegen dev running?): choose another with --ui-port N, --ui-port 0 for a free one, or --ui-port -1 for no UI", pe.Port)
	}
	return err
}

// given reports whether a setting was given as --flag (or -flag) in args or
// in the environment.
func given(args []string, getenv func(string) string, flagName, env string) bool {
	if getenv(env) != "" {
		return true
	}
	for _, a := range args {
		for _, p := range []string{"-" + flagName, "--" + flagName} {
			if a == p || strings.HasPrefix(a, p+"=") {
				return true
			}
		}
	}
	return false
}
