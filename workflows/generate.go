package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
)

// Retry and timeout policy. See README "Pipeline and retries" for the why.
const (
	// heartbeatTimeout: a worker that dies mid-generation is noticed this fast.
	heartbeatTimeout = 20 * time.Second
	// maxGenerateAttempts bounds paid provider calls per generation.
	maxGenerateAttempts = 5
	// storeScheduleToStart: how long a staged image waits for its worker to
	// come back before the job generates again elsewhere.
	storeScheduleToStart = 2 * time.Minute
	// storeBudget is how long an upload keeps being retried through an outage.
	storeBudget = 30 * time.Minute
	// maxGenerations: a lost staged image is regenerated at most once more.
	maxGenerations = 2
)

// Metric names, emitted through the SDK's replay-aware metrics handler
// (metrics.JobsStarted and metrics.JobsFinished).
const (
	jobsStartedMetric  = "imagegen_jobs_started"
	jobsFinishedMetric = "imagegen_jobs_finished"
)

// nonRetryableKinds are never retried, whatever the error says of itself.
var nonRetryableKinds = []string{
	string(imagegen.KindInvalidInput), string(imagegen.KindUnknownModel),
	string(imagegen.KindUnauthorized), string(imagegen.KindQuotaExceeded),
	string(imagegen.KindMisconfigured), activities.ErrTypeStagedImageLost,
}

// GenerateImage is the generation workflow. The job id is the workflow id.
// Status moves pending (set by the starter) → processing → completed | failed
// | canceled, mirrored in the ImagegenStatus search attribute and the memo.
func GenerateImage(ctx workflow.Context, in Input) (Result, error) {
	info := workflow.GetInfo(ctx)
	jobID := info.WorkflowExecution.ID
	rec := Record{Status: StatusPending, Request: in.Request, UpdatedAt: workflow.Now(ctx)}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (Record, error) { return rec, nil }); err != nil {
		return Result{}, err
	}

	metrics := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"model": in.Request.Model})
	metrics.Counter(jobsStartedMetric).Inc(1)
	defer func() {
		metrics.WithTags(map[string]string{"status": string(rec.Status)}).Counter(jobsFinishedMetric).Inc(1)
	}()

	model, ok := imagegen.LookupModel(in.Request.Model)
	if !ok {
		err := &imagegen.Error{Kind: imagegen.KindUnknownModel, Message: fmt.Sprintf("unknown model %q", in.Request.Model)}
		return Result{}, fail(ctx, &rec, string(err.Kind), err.Error())
	}

	rec.Stage = "generating"
	if err := record(ctx, &rec, StatusProcessing); err != nil {
		return Result{}, err
	}

	genCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           TaskQueue,
		StartToCloseTimeout: model.Timeout + 30*time.Second,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        maxGenerateAttempts,
			NonRetryableErrorTypes: nonRetryableKinds,
		},
	})

	// Each image runs its own generate → store pipeline; n images run in
	// parallel. With n = 1 the commands are the same as a single pipeline's.
	n := min(max(in.N, 1), MaxImages)
	outcomes := make([]imageOutcome, n)
	wg := workflow.NewWaitGroup(ctx)
	for i := range n {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			outcomes[i] = makeImage(ctx, genCtx, &rec, jobID, info.WorkflowStartTime, imageRequest(in.Request, i, n), i)
		})
	}
	wg.Wait(ctx)

	var (
		res      Result
		firstErr error
	)
	for _, o := range outcomes {
		if o.err != nil {
			res.Failed++
			kind, msg := describeFailure(o.err)
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %s", kind, msg))
			if firstErr == nil {
				firstErr = o.err
			}
			continue
		}
		res.Images = append(res.Images, o.image)
	}
	if len(res.Images) == 0 {
		return Result{}, failFrom(ctx, &rec, firstErr)
	}
	if ctx.Err() != nil { // canceled while some images were done: still canceled
		return Result{}, failFrom(ctx, &rec, temporal.NewCanceledError())
	}
	first := res.Images[0]
	res.ImageURL, res.Key, res.ContentType, res.SizeBytes = first.URL, first.Key, first.ContentType, first.SizeBytes
	res.Width, res.Height, res.ThumbnailKey = first.Width, first.Height, first.ThumbnailKey
	res.ProviderMillis, res.StoreMillis, res.Provider, res.Placeholder = first.ProviderMillis, first.StoreMillis, first.Provider, first.Placeholder
	if n == 1 {
		res.Images = nil // the top-level fields say it all; keeps one-image records as they were
	}
	rec.Result = &res
	rec.Stage = ""
	if err := record(ctx, &rec, StatusCompleted); err != nil {
		return Result{}, err
	}
	return res, nil
}

// MaxImages bounds n, the images one job generates.
const MaxImages = 4

// imageRequest is the provider request for image i of n: with an explicit
// seed each image gets its own (seed+i), so the images differ.
func imageRequest(req imagegen.Request, i, n int) imagegen.Request {
	if n > 1 {
		req.Variant = i
		if req.Seed != nil {
			seed := *req.Seed + int64(i)
			req.Seed = &seed
		}
	}
	return req
}

type imageOutcome struct {
	image Image
	err   error
}

// makeImage runs one image's pipeline: generate, then store on the worker
// that staged it; a staged image lost with its worker is generated again once.
func makeImage(ctx, genCtx workflow.Context, rec *Record, jobID string, started time.Time, req imagegen.Request, index int) imageOutcome {
	var a *activities.Activities
	for generation := 1; ; generation++ {
		rec.Attempts = max(rec.Attempts, generation)
		var staged activities.Staged
		err := workflow.ExecuteActivity(genCtx, a.Generate, activities.GenerateInput{JobID: jobID, Index: index, Request: req}).Get(ctx, &staged)
		if err != nil {
			return imageOutcome{err: err}
		}

		rec.Stage = "storing"
		storeCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:              staged.StoreQueue, // the worker holding the staged bytes
			ScheduleToStartTimeout: storeScheduleToStart,
			ScheduleToCloseTimeout: storeBudget,
			StartToCloseTimeout:    time.Minute,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval:        time.Second,
				BackoffCoefficient:     2,
				MaximumInterval:        time.Minute,
				NonRetryableErrorTypes: nonRetryableKinds,
			},
		})
		key := activities.ImageKey(jobID, index, started, staged.ContentType)
		var stored activities.Stored
		err = workflow.ExecuteActivity(storeCtx, a.Store, activities.StoreInput{JobID: jobID, Key: key, Staged: staged}).Get(ctx, &stored)
		if err != nil {
			if stagedImageLost(err) && generation < maxGenerations {
				workflow.GetLogger(ctx).Warn("staged image unreachable, generating again", "job_id", jobID, "image", index, "error", err)
				rec.Stage = "generating"
				continue
			}
			return imageOutcome{err: err}
		}
		return imageOutcome{image: Image{
			URL: stored.URL, Key: stored.Key, ThumbnailKey: stored.ThumbnailKey, ContentType: staged.ContentType, SizeBytes: staged.SizeBytes,
			Width: staged.Width, Height: staged.Height, ProviderMillis: staged.ProviderMillis, StoreMillis: stored.StoreMillis,
			Provider: staged.Provider, Placeholder: staged.Placeholder,
		}}
	}
}

// stagedImageLost: the worker that staged the image never picked up the
// upload, or the staged file is gone. Only a new generation can help.
func stagedImageLost(err error) bool {
	var te *temporal.TimeoutError
	if errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		return true
	}
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.Type() == activities.ErrTypeStagedImageLost
}

// record sets the status and mirrors it into the search attribute and memo.
func record(ctx workflow.Context, rec *Record, s Status) error {
	rec.Status = s
	rec.UpdatedAt = workflow.Now(ctx)
	if err := workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(string(s))); err != nil {
		return fmt.Errorf("upsert status %s: %w", s, err)
	}
	if err := workflow.UpsertMemo(ctx, map[string]any{MemoKey: *rec}); err != nil {
		return fmt.Errorf("upsert memo: %w", err)
	}
	return nil
}

// failFrom records the failure behind an activity error and returns the
// workflow's own error. Cancellation is recorded as canceled, not failed.
func failFrom(ctx workflow.Context, rec *Record, err error) error {
	if temporal.IsCanceledError(err) || errors.Is(ctx.Err(), workflow.ErrCanceled) {
		// The workflow context is cancelled: record through a disconnected one.
		dctx, cancel := workflow.NewDisconnectedContext(ctx)
		defer cancel()
		rec.Stage = ""
		rec.Error = "the job was canceled"
		if rerr := record(dctx, rec, StatusCanceled); rerr != nil {
			return rerr
		}
		return temporal.NewCanceledError()
	}
	kind, msg := describeFailure(err)
	return fail(ctx, rec, kind, msg)
}

func fail(ctx workflow.Context, rec *Record, kind, msg string) error {
	rec.Stage = ""
	rec.ErrorKind = kind
	rec.Error = msg
	if advice := imagegen.ErrorKind(kind).Advice(); advice != "" {
		rec.Error = msg + ". " + advice
	}
	if err := record(ctx, rec, StatusFailed); err != nil {
		return err
	}
	return temporal.NewNonRetryableApplicationError(rec.Error, kind, nil)
}

// describeFailure finds the model-facing message and kind inside an activity error.
func describeFailure(err error) (kind, msg string) {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type(), ae.Error()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return string(imagegen.KindTimeout), "the provider did not answer in time after several attempts"
	}
	return string(imagegen.KindUpstream), err.Error()
}
