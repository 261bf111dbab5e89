package activities

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
)

// WorkflowDescriber describes a workflow execution (client.Client does).
type WorkflowDescriber interface {
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// Ledger holds the budget ledger's activity: asking Temporal whether the
// jobs behind old reservations still run.
type Ledger struct {
	Temporal WorkflowDescriber
}

// JobsGone returns the job ids, of those given, whose workflow does not
// exist or is no longer running: their reservations will never be settled.
func (l *Ledger) JobsGone(ctx context.Context, jobIDs []string) ([]string, error) {
	if l == nil || l.Temporal == nil {
		return nil, errors.New("ledger activity: no Temporal client")
	}
	gone := []string{}
	for _, id := range jobIDs {
		resp, err := l.Temporal.DescribeWorkflowExecution(ctx, id, "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			gone = append(gone, id)
		case err != nil:
			return nil, fmt.Errorf("describe job %s: %w", id, err)
		case resp.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			gone = append(gone, id)
		}
	}
	return gone, nil
}
