package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Register registers the workflow under its stable name.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(GenerateImage, workflow.RegisterOptions{Name: WorkflowName})
}
