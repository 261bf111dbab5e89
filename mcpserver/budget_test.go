package mcpserver

import (
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

func TestGetBudgetSaysWhatIsLeftAndWhenItResets(t *testing.T) {
	cent := imagegen.Dollar / 100
	reset := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		st   jobs.BudgetStatus
		says []string
	}{
		{"a daily budget", jobs.BudgetStatus{Configured: true, Day: "2026-12-01", Limit: 100 * cent, Spent: 40 * cent, Reserved: 10 * cent, Left: 50 * cent,
			Reservations: 2, ResetsAt: reset, ResetsIn: "3 h 5 min",
			ByModel: []workflows.ModelSpend{{Model: "flux-schnell", Spent: 40 * cent, Reserved: 10 * cent}}},
			[]string{"$0.40 spent", "$0.10 reserved by 2 running job(s)", "$0.50 left of the daily budget of $1.00", "00:00 UTC, in 3 h 5 min"}},
		{"a ceiling only", jobs.BudgetStatus{Configured: true, PerJob: 5 * cent}, []string{"No daily budget is set", "estimated at $0.05 at most"}},
		{"no budget", jobs.BudgetStatus{}, []string{"No budget is set"}},
		{"previews", jobs.BudgetStatus{Free: true, Limit: cent}, []string{"cost nothing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := budgetResult(tc.st)
			for _, s := range tc.says {
				if !strings.Contains(r.Message, s) {
					t.Errorf("message %q does not say %q", r.Message, s)
				}
			}
			if r.LeftUSD != tc.st.Left.Dollars() || len(r.ByModel) != len(tc.st.ByModel) {
				t.Errorf("result %+v does not carry the figures of %+v", r, tc.st)
			}
		})
	}
	if got := budgetResult(jobs.BudgetStatus{ResetsAt: reset}).ResetsAt; got != "2026-12-02T00:00:00Z" {
		t.Errorf("resets_at %q", got)
	}
}
