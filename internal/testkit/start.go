// Package testkit is the one place test code starts an imagegen stack and
// talks to it: configuration as the binary resolves it, in-process stacks,
// MCP clients, log buffers. Tests and cmd/imagegen-bench import it;
// cmd/imagegen never does (its dependency test checks that).
package testkit

import (
	"context"
	"log/slog"

	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
)

// StartFunc is one of app's compositions.
type StartFunc func(context.Context, app.Options) (*app.App, error)

// Start resolves cfg as the binary does (defaults, validation, typed
// options) and starts the composition.
func Start(ctx context.Context, start StartFunc, cfg config.Config, log *slog.Logger) (*app.App, error) {
	opts, err := cfg.Resolve(log)
	if err != nil {
		return nil, err
	}
	return start(ctx, opts)
}

// Dev starts app.StartDev from cfg.
func Dev(ctx context.Context, cfg config.Config, log *slog.Logger) (*app.App, error) {
	return Start(ctx, app.StartDev, cfg, log)
}

// Serve starts app.StartServe from cfg.
func Serve(ctx context.Context, cfg config.Config, log *slog.Logger) (*app.App, error) {
	return Start(ctx, app.StartServe, cfg, log)
}

// Worker starts app.StartWorker from cfg.
func Worker(ctx context.Context, cfg config.Config, log *slog.Logger) (*app.App, error) {
	return Start(ctx, app.StartWorker, cfg, log)
}
