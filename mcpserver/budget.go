package mcpserver

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/imagegen/imagegen/jobs"
)

// BudgetReader reads the day's budget (jobs.Client).
type BudgetReader interface {
	Budget(ctx context.Context) (jobs.BudgetStatus, error)
}

// BudgetResult is what get_budget returns. Amounts are US dollars.
type BudgetResult struct {
	Configured bool   `json:"configured" jsonschema:"false when no budget bounds what jobs cost here"`
	Day        string `json:"day" jsonschema:"the UTC day the figures count"`
	// LimitUSD is the daily budget (0: none); PerJobUSD the per-job ceiling (0: none).
	LimitUSD    float64 `json:"limit_usd"`
	PerJobUSD   float64 `json:"per_job_ceiling_usd,omitempty"`
	SpentUSD    float64 `json:"spent_usd" jsonschema:"what today's finished jobs cost"`
	ReservedUSD float64 `json:"reserved_usd" jsonschema:"the estimates running jobs hold"`
	LeftUSD     float64 `json:"left_usd" jsonschema:"limit minus spent minus reserved"`
	// ByModel splits spent and reserved by model.
	ByModel []ModelBudget `json:"by_model"`
	// RunningJobs holds reservations; SettledJobs have ended today.
	RunningJobs int    `json:"running_jobs"`
	SettledJobs int    `json:"settled_jobs"`
	ResetsAt    string `json:"resets_at" jsonschema:"when the daily budget resets (00:00 UTC)"`
	ResetsIn    string `json:"resets_in"`
	// Free: this server renders previews, which cost nothing.
	Free    bool   `json:"free,omitempty"`
	Message string `json:"message"`
}

// ModelBudget is one model's share of the day.
type ModelBudget struct {
	Model       string  `json:"model"`
	SpentUSD    float64 `json:"spent_usd"`
	ReservedUSD float64 `json:"reserved_usd"`
}

// noBudget is what get_budget says on a server whose jobs no budget bounds.
const noBudget = "No budget is set on this server: jobs are not limited by cost."

func (s *Server) getBudgetTool() server.ServerTool {
	tool := mcp.NewTool("get_budget",
		mcp.WithDescription("Show today's image budget: what was spent, what running jobs reserved, what is left, by model, "+
			"and when it resets (00:00 UTC). Check it before starting costly jobs (n > 1, large sizes), and tell the user "+
			"when a job would not fit: generate_image refuses jobs whose estimate exceeds what is left. list_models shows prices."),
		mcp.WithTitleAnnotation("Show the budget"),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
		mcp.WithOutputSchema[BudgetResult](),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct{}
		if err := decodeArgs(req, &args); err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		if s.opts.Budget == nil {
			return structured(BudgetResult{ByModel: []ModelBudget{}, Message: noBudget}), nil
		}
		st, err := s.opts.Budget.Budget(ctx)
		if err != nil {
			return s.toolError(ctx, "get_budget", err), nil
		}
		return structured(budgetResult(st)), nil
	}}
}

func budgetResult(st jobs.BudgetStatus) BudgetResult {
	r := BudgetResult{
		Configured: st.Configured, Day: st.Day, LimitUSD: st.Limit.Dollars(), PerJobUSD: st.PerJob.Dollars(),
		SpentUSD: st.Spent.Dollars(), ReservedUSD: st.Reserved.Dollars(), LeftUSD: st.Left.Dollars(),
		ByModel: []ModelBudget{}, RunningJobs: st.Reservations, SettledJobs: st.Settled,
		ResetsAt: st.ResetsAt.Format("2006-01-02T15:04:05Z"), ResetsIn: st.ResetsIn, Free: st.Free,
	}
	for _, m := range st.ByModel {
		r.ByModel = append(r.ByModel, ModelBudget{Model: m.Model, SpentUSD: m.Spent.Dollars(), ReservedUSD: m.Reserved.Dollars()})
	}
	var b strings.Builder
	switch {
	case st.Free:
		b.WriteString("Images here are offline previews, which cost nothing: no job is refused for its cost.")
	case !st.Configured:
		b.WriteString(noBudget)
	case st.Limit > 0:
		fmt.Fprintf(&b, "Today (%s, UTC): %s spent, %s reserved by %d running job(s), %s left of the daily budget of %s. It resets at 00:00 UTC, in %s.",
			st.Day, st.Spent, st.Reserved, st.Reservations, st.Left, st.Limit, st.ResetsIn)
	default:
		b.WriteString("No daily budget is set.")
	}
	if st.PerJob > 0 && !st.Free {
		fmt.Fprintf(&b, " A single job may be estimated at %s at most.", st.PerJob)
	}
	r.Message = b.String()
	return r
}
