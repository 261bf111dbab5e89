package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

const jobsUsage = `Usage:
  imagegen jobs list   [--status S] [--model M] [--limit N] [--offset N] [--json]
  imagegen jobs show   JOB_ID [--json]
  imagegen jobs retry  JOB_ID [--json]
  imagegen jobs retry  --all-failed [--since DURATION] [--model M] [--limit N] [--dry-run] [--json]
  imagegen jobs cancel JOB_ID [--json]

Connects to TEMPORAL_ADDRESS (default 127.0.0.1:7233, where "imagegen dev" runs
its embedded Temporal).
`

// connectJobs connects an operators' command (jobs, history, budget) to
// the job layer with c's settings, logging warnings and worse to stderr.
// The caller closes the client.
func connectJobs(ctx context.Context, c config.Config, stderr io.Writer) (app.Options, *jobs.Client, func(), error) {
	opts, err := c.Options(logging.New(stderr, c.LogFormat, "warn"))
	if err != nil {
		return app.Options{}, nil, nil, err
	}
	client, closeClient, err := app.ConnectJobs(ctx, opts)
	if err != nil {
		return app.Options{}, nil, nil, err
	}
	return opts, client, closeClient, nil
}

// runJobs is the operators' command line over the job layer.
func runJobs(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, jobsUsage)
		return errors.New("jobs: no subcommand given")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		_, err := fmt.Fprint(stdout, jobsUsage)
		return err
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("imagegen jobs "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config.Bind(fs, getenv, "jobs")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	status := fs.String("status", "all", "list: all, pending, processing, completed, failed or canceled")
	model := fs.String("model", "", "only jobs of this model")
	limit := fs.Int("limit", 20, "how many jobs at most")
	offset := fs.Int("offset", 0, "list: how many to skip")
	allFailed := fs.Bool("all-failed", false, "retry: every job whose current run failed")
	since := fs.Duration("since", 0, "retry --all-failed: only jobs that failed within this duration, e.g. 2h")
	dryRun := fs.Bool("dry-run", false, "retry --all-failed: list the jobs without retrying them")
	// Flags may come after the job id: parse, take the id, parse the rest.
	if err := fs.Parse(rest); err != nil {
		return err
	}
	var id string
	if fs.NArg() > 0 {
		id = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("jobs %s: unexpected argument %q", sub, fs.Arg(0))
		}
	}
	c := cfg.Defaults()
	if c.TemporalUIURL == "" {
		// The UI of an `imagegen dev` on this data dir, on whatever ports
		// it runs; else dev's default UI next to dev's default frontend.
		c.TemporalUIURL = app.DevUIURL(c.DataDir, c.TemporalAddress)
		if c.TemporalUIURL == "" && c.TemporalAddress == "127.0.0.1:7233" {
			c.TemporalUIURL = "http://127.0.0.1:8233"
		}
	}
	_, client, closeClient, err := connectJobs(ctx, c, stderr)
	if err != nil {
		return err
	}
	defer closeClient()
	out := printer{w: stdout, json: *asJSON}

	// notFound says where the job was looked for: the usual cause is a CLI
	// pointed at another Temporal than the service's.
	notFound := func(err error) error {
		if errors.Is(err, jobs.ErrNotFound) {
			return fmt.Errorf("job %s not found in Temporal at %s, namespace %q: check TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE (or --temporal-address), or the job is older than the namespace's retention", id, c.TemporalAddress, c.TemporalNamespace)
		}
		return err
	}
	needID := func() error {
		if id == "" {
			return fmt.Errorf("jobs %s: give a JOB_ID", sub)
		}
		return nil
	}
	switch sub {
	case "list":
		list, err := client.List(ctx, jobs.ListOptions{Status: workflows.Status(*status), Model: *model, Limit: *limit, Offset: *offset})
		if err != nil {
			return err
		}
		return out.jobs(list)
	case "show":
		if err := needID(); err != nil {
			return err
		}
		job, err := client.Get(ctx, id)
		if err != nil {
			return notFound(err)
		}
		return out.job(job)
	case "cancel":
		if err := needID(); err != nil {
			return err
		}
		job, err := client.Cancel(ctx, id)
		if err != nil {
			return notFound(err)
		}
		return out.message(job, "cancel requested for "+id)
	case "retry":
		if *allFailed {
			if id != "" {
				return errors.New("jobs retry: give a JOB_ID or --all-failed, not both")
			}
			list, err := client.RetryFailed(ctx, jobs.RetryFailedOptions{Since: *since, Model: *model, Limit: *limit, DryRun: *dryRun})
			if perr := out.jobs(list); perr != nil {
				return perr
			}
			if !*asJSON {
				verb := "retried"
				if *dryRun {
					verb = "would retry"
				}
				fmt.Fprintf(stdout, "%s %d failed job(s)\n", verb, len(list))
			}
			return err
		}
		if err := needID(); err != nil {
			return err
		}
		job, err := client.Retry(ctx, id, "imagegen jobs retry")
		if err != nil {
			return notFound(err)
		}
		return out.message(job, "retrying "+id+" under the same job id; the earlier run stays in its history (the Temporal UI lists both runs)")
	default:
		fmt.Fprint(stderr, jobsUsage)
		return fmt.Errorf("jobs: unknown subcommand %q", sub)
	}
}

// printer writes jobs as an aligned table for people or JSON for scripts.
type printer struct {
	w    io.Writer
	json bool
}

func (p printer) encode(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (p printer) jobs(list []jobs.Job) error {
	if p.json {
		if list == nil {
			list = []jobs.Job{}
		}
		return p.encode(list)
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB ID\tSTATUS\tMODEL\tCREATED\tPROMPT")
	for _, j := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", termSafe(j.ID), termSafe(string(j.Status)), termSafe(j.Model), j.CreatedAt.Local().Format(time.DateTime), termSafe(clip(j.Prompt, 48)))
	}
	return tw.Flush()
}

func (p printer) job(j jobs.Job) error {
	if p.json {
		return p.encode(j)
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, termSafe(v))
		}
	}
	row("job id", j.ID)
	row("status", string(j.Status))
	row("stage", j.Stage)
	row("model", j.Model)
	row("prompt", j.Prompt)
	row("created", j.CreatedAt.Local().Format(time.DateTime))
	row("updated", j.UpdatedAt.Local().Format(time.DateTime))
	row("image", j.ImageURL)
	for i, in := range j.Inputs {
		k := "inputs"
		if i > 0 {
			k = ""
		}
		fmt.Fprintf(tw, "%s\t%s\n", k, termSafe(in))
	}
	row("mask", j.Mask)
	if j.Strength != nil {
		row("strength", strconv.FormatFloat(*j.Strength, 'g', -1, 64))
	}
	if r := j.Result; r != nil {
		row("image type", fmt.Sprintf("%s, %d bytes, %dx%d", r.ContentType, r.SizeBytes, r.Width, r.Height))
		row("provider", fmt.Sprintf("%s, %d ms", r.Provider, r.ProviderMillis))
	}
	if c := j.Cost; c != nil {
		row("cost", c.Summary(j.Model, j.Status.Terminal(), j.Result != nil && j.Result.Placeholder))
	}
	row("error", j.Error)
	row("temporal ui", j.UIURL)
	return tw.Flush()
}

func (p printer) message(j jobs.Job, msg string) error {
	if p.json {
		return p.encode(map[string]any{"message": msg, "job": j})
	}
	_, err := fmt.Fprintln(p.w, termSafe(msg))
	return err
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
