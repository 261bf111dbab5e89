package jobs

import (
	"context"
	"time"

	"go.temporal.io/api/workflowservice/v1"
)

// Retention is how long Temporal keeps a finished job (the namespace's
// workflow execution retention): a job can be read for at least this long
// after it was created.
func (c *Client) Retention(ctx context.Context) (time.Duration, error) {
	resp, err := c.temporal.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: c.namespace})
	if err != nil {
		return 0, c.wrap("describe namespace "+c.namespace, err)
	}
	return resp.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(), nil
}
