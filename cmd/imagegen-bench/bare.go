package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// The bare baseline: the least a Temporal job with the same shape as a
// generation can cost on the same server. Two instant activities in a row
// give the same three workflow tasks as GenerateImage, minus everything this
// project adds (MCP over HTTP, search attributes and memo, describe, staging).
const (
	bareQueue        = "imagegen-bench-bare"
	bareWorkflowName = "BenchBareWorkflow"
	bareActivityName = "BenchBareStep"
)

func bareWorkflow(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	for range 2 {
		if err := workflow.ExecuteActivity(ctx, bareActivityName).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

func bareStep(context.Context) error { return nil }

// startBareWorker runs the baseline's worker with default options, as the
// app's own workers are, on its own task queue.
func startBareWorker(c client.Client) (worker.Worker, error) {
	w := worker.New(c, bareQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(bareWorkflow, workflow.RegisterOptions{Name: bareWorkflowName})
	w.RegisterActivityWithOptions(bareStep, activity.RegisterOptions{Name: bareActivityName})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start bare worker: %w", err)
	}
	return w, nil
}

// runBare starts one baseline job through the SDK client and waits for it.
func runBare(ctx context.Context, c client.Client) (string, error) {
	id := uuid.NewString()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: bareQueue}, bareWorkflowName)
	if err != nil {
		return "", fmt.Errorf("start bare job: %w", err)
	}
	if err := run.Get(ctx, nil); err != nil {
		return id, fmt.Errorf("bare job %s: %w", id, err)
	}
	return id, nil
}
