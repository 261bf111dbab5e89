package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/imagegen/imagegen"
)

// settleBudget tells the job's ledger what the job cost, which ends its
// reservation (a job that cost nothing releases it). It runs when the job
// ends, canceled jobs included, and waits until the signal is in the
// ledger's history: the ledger releases the reservation of a job that ended
// without settling, and may only conclude that after the job closed. A
// ledger that is gone is logged, never a reason to fail the job.
func settleBudget(ctx workflow.Context, r BudgetReservation, jobID, model string, cost imagegen.USD) {
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	err := workflow.SignalExternalWorkflow(dctx, r.Ledger, "", SignalSettle, SettleRequest{JobID: jobID, Model: model, Actual: cost}).Get(dctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("budget: cannot settle the job's reservation", "job_id", jobID, "ledger", r.Ledger, "cost", cost.String(), "error", err)
	}
}

// settledCost is what a budgeted job settles to: the actual cost of its
// paid provider calls (retries, regenerations and failed images included;
// see Cost). Where the actual cost is unknown although a call was made, it
// settles to its reservation: never less than the estimate it held.
func settledCost(rec *Record, reserved imagegen.USD) imagegen.USD {
	switch {
	case rec.Cost != nil && rec.Cost.Actual != nil:
		return *rec.Cost.Actual
	case rec.Cost != nil && rec.Cost.Preview, rec.Generations == 0:
		return 0
	}
	return reserved
}
