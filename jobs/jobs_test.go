package jobs

import (
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/workflows"
)

func TestValidateIDAcceptsOnlyJobUUIDs(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"3f2c9a1e-8b7d-4c6e-9f01-23456789abcd", true},
		{IDForKey(nil, "order-1"), true},
		{IDForKey([]byte("install secret"), "order-1"), true},
		{"", false},
		{"3F2C9A1E-8B7D-4C6E-9F01-23456789ABCD", false},
		{"../../etc/passwd", false},
		{"3f2c9a1e-8b7d-4c6e-9f01-23456789abcd ", false},
		{strings.Repeat("a", 10000), false},
		{"'; DROP TABLE jobs; --", false},
	} {
		if err := ValidateID(tc.id); (err == nil) != tc.ok {
			t.Errorf("ValidateID(%.40q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

func TestIdempotencyKeysMapToStableDistinctIDs(t *testing.T) {
	if IDForKey(nil, "a") != IDForKey(nil, "a") || IDForKey(nil, "a") == IDForKey(nil, "b") {
		t.Error("key → id mapping is not a function of the key")
	}
	for _, key := range []string{"", "   ", strings.Repeat("k", MaxIdempotencyKeyLength+1), "k\x00"} {
		if ValidateIdempotencyKey(key) == nil {
			t.Errorf("key %.20q accepted", key)
		}
	}
}

func TestListQueryFiltersByStatusAndModel(t *testing.T) {
	for _, tc := range []struct {
		opts ListOptions
		want string
		err  imagegen.ErrorKind
	}{
		{ListOptions{}, "WorkflowType = 'GenerateImage'", ""},
		{ListOptions{Status: "all"}, "WorkflowType = 'GenerateImage'", ""},
		{ListOptions{Status: workflows.StatusPending}, "WorkflowType = 'GenerateImage' AND ExecutionStatus = 'Running' AND ImagegenStatus = 'pending'", ""},
		{ListOptions{Status: workflows.StatusCompleted, Model: "sdxl-base"}, "WorkflowType = 'GenerateImage' AND ExecutionStatus = 'Completed' AND ImagegenModel = 'sdxl-base'", ""},
		{ListOptions{Status: workflows.StatusFailed}, "WorkflowType = 'GenerateImage' AND ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut')", ""},
		{ListOptions{Status: "done"}, "", imagegen.KindInvalidInput},
		{ListOptions{Model: "x' OR '1'='1"}, "", imagegen.KindUnknownModel},
	} {
		got, err := listQuery(tc.opts)
		if got != tc.want || imagegen.KindOf(err) != tc.err {
			t.Errorf("listQuery(%+v) = %q, %v; want %q, kind %q", tc.opts, got, err, tc.want, tc.err)
		}
	}
}

func TestReconcileTrustsTemporalForClosedWorkflows(t *testing.T) {
	for _, tc := range []struct {
		recorded workflows.Status
		exec     enumspb.WorkflowExecutionStatus
		want     workflows.Status
	}{
		{workflows.StatusProcessing, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, workflows.StatusProcessing},
		{workflows.StatusProcessing, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, workflows.StatusFailed},
		{workflows.StatusProcessing, enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT, workflows.StatusFailed},
		{workflows.StatusCanceled, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, workflows.StatusCanceled},
		{workflows.StatusCompleted, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, workflows.StatusCompleted},
		// A reset run still carries the failed run's memo until it records anew.
		{workflows.StatusFailed, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, workflows.StatusPending},
	} {
		if got := reconcile(tc.recorded, tc.exec); got != tc.want {
			t.Errorf("reconcile(%s, %s) = %s, want %s", tc.recorded, tc.exec, got, tc.want)
		}
	}
}
