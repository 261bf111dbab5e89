package workflows_test

import (
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/imagegen/imagegen/workflows"
)

type (
	activityInfo  = activity.Info
	encodedValue  = converter.EncodedValue
	encodedValues = converter.EncodedValues
)

func workflowOpts() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: workflows.WorkflowName}
}

// noisyMachine raises the deadlock detector's 1 s limit for workflow code
// in test environments: on a shared, loaded machine a workflow goroutine can
// be descheduled for longer than that without any deadlock.
var noisyMachine = worker.Options{DeadlockDetectionTimeout: time.Minute}
