package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Register registers the workflows under their stable names: the job and
// the daily budget ledger.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(GenerateImage, workflow.RegisterOptions{Name: WorkflowName})
	r.RegisterWorkflowWithOptions(BudgetLedger, workflow.RegisterOptions{Name: BudgetWorkflowName})
}
