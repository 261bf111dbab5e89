package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/workflows"
)

// WorkerOptions configure the worker component. Everything is built by the
// caller; the worker only registers and polls.
type WorkerOptions struct {
	Temporal client.Client
	// Provider generates images; ProviderName is reported in results and
	// Placeholder marks a provider whose images are not AI-generated.
	Provider     activities.Provider
	ProviderName string
	Placeholder  bool
	// Store receives finished images.
	Store activities.Store
	// StagingDir holds images between generation and upload.
	StagingDir string
	// Tuning is applied to both Temporal workers (concurrency, rate limits,
	// pollers: see go.temporal.io/sdk/worker.Options). A zero
	// WorkerStopTimeout means 15 s. TaskQueueActivitiesPerSecond applies
	// to the shared queue only, where the only activity is the provider
	// call: it is the provider rate limit, which the Temporal server holds
	// for all workers of the queue together. Uploads on the staging queue
	// are not provider calls and are not limited.
	Tuning   worker.Options
	Observer activities.Observer
	Logger   *slog.Logger
	// Fetcher downloads input images named by URL (an *imagefetch.Fetcher);
	// nil: such inputs fail as misconfigured.
	Fetcher activities.Fetcher
}

// Worker runs the workflows and activities: one Temporal worker on the
// shared queue (workflows, generation) and one on this worker's own staging
// queue (uploads of the images staged here).
type Worker struct {
	opts    WorkerOptions
	staging *activities.Staging
	workers []worker.Worker
}

// NewWorker returns a worker; Run starts it.
func NewWorker(opts WorkerOptions) *Worker {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Tuning.WorkerStopTimeout == 0 {
		opts.Tuning.WorkerStopTimeout = 15 * time.Second
	}
	return &Worker{opts: opts}
}

// Run opens the staging area, sweeps stale staged images and starts
// polling. It returns once both workers poll.
func (w *Worker) Run(ctx context.Context) error {
	if w.opts.Temporal == nil || w.opts.Provider == nil || w.opts.Store == nil {
		return errors.New("worker: Temporal client, provider and store are required")
	}
	staging, err := activities.OpenStaging(w.opts.StagingDir, "imagegen-store")
	if err != nil {
		return err
	}
	w.staging = staging
	if n := staging.Sweep(48 * time.Hour); n > 0 {
		w.opts.Logger.Info("removed stale staged images", "count", n)
	}
	acts := &activities.Activities{
		Provider: w.opts.Provider, ProviderName: w.opts.ProviderName, Placeholder: w.opts.Placeholder,
		ImageStore: w.opts.Store, Staging: staging, Logger: w.opts.Logger, Observer: w.opts.Observer,
		Decodes: activities.NewDecodeLimit(0), Fetcher: w.opts.Fetcher,
	}
	for _, queue := range []string{workflows.TaskQueue, staging.Queue()} {
		tuning := w.opts.Tuning
		if queue != workflows.TaskQueue {
			tuning.TaskQueueActivitiesPerSecond = 0
		}
		tw := worker.New(w.opts.Temporal, queue, tuning)
		if queue == workflows.TaskQueue {
			workflows.Register(tw)
			// The budget ledger's orphan check, a local activity.
			tw.RegisterActivity(&activities.Ledger{Temporal: w.opts.Temporal})
		}
		tw.RegisterActivity(acts)
		if err := tw.Start(); err != nil {
			return fmt.Errorf("start worker on %s: %w", queue, err)
		}
		w.workers = append(w.workers, tw)
	}
	return nil
}

// Queues are the task queues the worker polls (after Run).
func (w *Worker) Queues() []string {
	if w.staging == nil {
		return nil
	}
	return []string{workflows.TaskQueue, w.staging.Queue()}
}

// Close stops polling; in-flight activities get Tuning.WorkerStopTimeout to
// finish, otherwise Temporal retries them elsewhere.
func (w *Worker) Close() error {
	if len(w.workers) > 0 {
		w.opts.Logger.Info("stopping the worker: running provider calls and uploads get up to "+w.opts.Tuning.WorkerStopTimeout.String()+
			" to finish; Temporal runs any unfinished one again, after a restart here or on another worker",
			"stop_timeout", w.opts.Tuning.WorkerStopTimeout)
	}
	for _, tw := range w.workers {
		tw.Stop()
	}
	w.workers = nil
	return nil
}
