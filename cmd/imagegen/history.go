package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

const historyUsage = `Usage:
  imagegen history rebuild [--dry-run] [--json]

Writes an image record (see README "Image history and retention") for every
completed job that Temporal still retains and that has none yet: images
stored before records existed. Jobs that have records are left alone, so it
is safe to run again, and next to running workers. Same settings as
"imagegen jobs" (TEMPORAL_ADDRESS, IMAGEGEN_DATA_DIR or R2_*).
`

// historyPage is how many jobs one visibility call of the rebuild lists.
const historyPage = 100

func runHistory(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, historyUsage)
		return errors.New("history: no subcommand given")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		_, err := fmt.Fprint(stdout, historyUsage)
		return err
	case "rebuild":
	default:
		fmt.Fprint(stderr, historyUsage)
		return fmt.Errorf("history: unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("imagegen history rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config.Bind(fs, getenv, "jobs")
	dryRun := fs.Bool("dry-run", false, "count what would be written, write nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("history rebuild: unexpected argument %q", fs.Arg(0))
	}
	c := cfg.Defaults()
	opts, client, closeClient, err := connectJobs(ctx, c, stderr)
	if err != nil {
		return err
	}
	defer closeClient()
	store, err := app.HistoryStore(ctx, opts)
	if err != nil {
		return err
	}
	var candidates []history.Record
	listed := 0
	for offset := 0; offset <= jobs.MaxOffset; offset += historyPage {
		page, err := client.List(ctx, jobs.ListOptions{Status: workflows.StatusCompleted, Limit: historyPage, Offset: offset})
		if err != nil {
			return fmt.Errorf("history rebuild: list completed jobs: %w", err)
		}
		for _, j := range page {
			candidates = append(candidates, recordsOf(j)...)
		}
		listed += len(page)
		if len(page) < historyPage {
			break
		}
	}
	st, err := history.Backfill(ctx, store, candidates, *dryRun)
	if err != nil {
		return fmt.Errorf("history rebuild: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"completed_jobs_listed": listed, "dry_run": *dryRun, "result": st})
	}
	verb := "wrote"
	if *dryRun {
		verb = "would write"
	}
	_, err = fmt.Fprintf(stdout, "%d completed job(s) listed, %d already recorded; %s %d record(s)\n", listed, st.Recorded, verb, st.Written)
	return err
}

// recordsOf is the history record of each image of a completed job, as the
// Store activity would have written it (the job's first start as its time):
// prompt, model and the input images, mask and strength of an edit (as the
// job layer shows them), not the other parameters.
func recordsOf(j jobs.Job) []history.Record {
	r := j.Result
	if r == nil {
		return nil
	}
	images := r.Images
	if len(images) == 0 && r.Key != "" {
		images = []workflows.Image{{Key: r.Key, ThumbnailKey: r.ThumbnailKey, ContentType: r.ContentType, SizeBytes: r.SizeBytes,
			Width: r.Width, Height: r.Height, Provider: r.Provider, Placeholder: r.Placeholder}}
	}
	var out []history.Record
	for i, img := range images {
		if img.Key == "" {
			continue
		}
		out = append(out, history.Record{
			JobID: j.ID, Index: i,
			Request:     imagegen.Request{Prompt: j.Prompt, Model: j.Model, Inputs: j.Inputs, Mask: j.Mask, Strength: j.Strength},
			ContentType: img.ContentType, SizeBytes: img.SizeBytes, Width: img.Width, Height: img.Height,
			Key: img.Key, ThumbnailKey: img.ThumbnailKey, Provider: img.Provider, Placeholder: img.Placeholder,
			CreatedAt: j.CreatedAt,
		})
	}
	return out
}
