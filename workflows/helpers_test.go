package workflows_test

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
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
