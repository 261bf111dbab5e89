package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

const budgetUsage = `Usage:
  imagegen budget [--day YYYY-MM-DD] [--json]

Shows a day's budget (default today, UTC) as the day's ledger workflow holds it:
spent, reserved by running jobs, left, by model. The limit shown is this
command's IMAGEGEN_DAILY_BUDGET_USD (--daily-budget-usd): set it as the service
has it. Connects to TEMPORAL_ADDRESS like "imagegen jobs".
`

// runBudget is the operators' view of the daily budget.
func runBudget(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help", "help":
			_, err := fmt.Fprint(stdout, budgetUsage)
			return err
		}
	}
	fs := flag.NewFlagSet("imagegen budget", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config.Bind(fs, getenv, "jobs")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	day := fs.String("day", "", "the UTC day to show, e.g. 2026-12-01 (default today)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("budget: unexpected argument %q", fs.Arg(0))
	}
	c := cfg.Defaults()
	_, client, closeClient, err := connectJobs(ctx, c, stderr)
	if err != nil {
		return err
	}
	defer closeClient()
	var st jobs.BudgetStatus
	if *day == "" || *day == workflows.BudgetDay(time.Now()) {
		st, err = client.Budget(ctx)
	} else {
		st, err = pastDay(ctx, client, *day)
	}
	if errors.Is(err, jobs.ErrNotFound) {
		return fmt.Errorf("no budget ledger for %s in Temporal at %s, namespace %q: no job reserved on it (or it is older than the namespace's retention)", *day, c.TemporalAddress, c.TemporalNamespace)
	}
	if err != nil {
		return err
	}
	out := printer{w: stdout, json: *asJSON}
	if out.json {
		return out.encode(st)
	}
	return printBudget(stdout, st)
}

// pastDay reads another day's ledger as it ended (or stands).
func pastDay(ctx context.Context, client *jobs.Client, day string) (jobs.BudgetStatus, error) {
	v, err := client.Ledger(ctx, day)
	if err != nil {
		return jobs.BudgetStatus{}, err
	}
	return jobs.BudgetStatus{Configured: v.Limit > 0, Day: v.Day, Limit: v.Limit, Spent: v.Spent, Reserved: v.Reserved,
		Left: max(v.Left, 0), ByModel: v.ByModel, Reservations: v.Reservations, Settled: v.Settled, Released: v.Released}, nil
}

func printBudget(w io.Writer, st jobs.BudgetStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, termSafe(v)) }
	when := "UTC"
	if !st.ResetsAt.IsZero() {
		when = "UTC; resets at 00:00 UTC, in " + st.ResetsIn
	}
	row("day", fmt.Sprintf("%s (%s)", st.Day, when))
	switch {
	case st.Free:
		row("limit", "none: this process renders previews, which cost nothing")
	case st.Limit > 0:
		row("limit", st.Limit.String())
	default:
		row("limit", "none (IMAGEGEN_DAILY_BUDGET_USD is not set here)")
	}
	if st.PerJob > 0 {
		row("per job", st.PerJob.String()+" at most")
	}
	row("spent", fmt.Sprintf("%s by %d settled job(s)", st.Spent, st.Settled))
	row("reserved", fmt.Sprintf("%s by %d running job(s)", st.Reserved, st.Reservations))
	if st.Limit > 0 {
		row("left", st.Left.String())
	}
	if st.Released > 0 {
		row("released", fmt.Sprintf("%d reservation(s) of jobs that never ran", st.Released))
	}
	if len(st.ByModel) > 0 {
		fmt.Fprintln(tw, "\t")
		fmt.Fprintln(tw, "MODEL\tSPENT\tRESERVED")
		for _, m := range st.ByModel {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", termSafe(m.Model), m.Spent, m.Reserved)
		}
	}
	return tw.Flush()
}
