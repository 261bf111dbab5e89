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

// Retry and timeout policy besides the job's Plan. See README "Pipeline and
// retries" for the why.
const (
	// heartbeatTimeout: a worker that dies mid-generation is noticed this fast.
	heartbeatTimeout = 20 * time.Second
	// storeScheduleToStart: how long a staged image waits for its worker to
	// come back before the job generates again elsewhere.
	storeScheduleToStart = 2 * time.Minute
	// storeBudget is how long an upload keeps being retried through an outage.
	storeBudget = 30 * time.Minute
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
	if in.Budget != nil {
		// Last of all, whatever the outcome: settle what the job cost.
		defer func() { settleBudget(ctx, *in.Budget, jobID, in.Request.Model, settledCost(&rec, in.Budget.Amount)) }()
	}

	metrics := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"model": in.Request.Model})
	metrics.Counter(jobsStartedMetric).Inc(1)
	defer func() {
		metrics.WithTags(map[string]string{"status": string(rec.Status)}).Counter(jobsFinishedMetric).Inc(1)
	}()

	plan, ok := in.plan()
	if !ok { // only inputs without a plan, whose model the legacy table lacks
		return Result{}, fail(ctx, &rec, imagegen.KindUnknownModel, fmt.Sprintf("unknown model %q", in.Request.Model))
	}

	if in.Plan != nil && in.Plan.Cost != nil {
		rec.Cost = &Cost{Estimate: in.Plan.Cost.Estimate}
	}
	// An edit stages its input images first, once for all its images. A
	// job without inputs schedules nothing here: its commands are those of
	// every text-to-image job before editing existed.
	var inputs activities.FetchedInputs
	if len(in.Request.Inputs) > 0 || in.Request.Mask != "" || len(in.Inputs) > 0 || in.Mask != nil {
		var err error
		if inputs, err = fetchInputs(ctx, &rec, in, plan, jobID); err != nil {
			return Result{}, err
		}
	}

	rec.Stage = "generating"
	if err := record(ctx, &rec, StatusProcessing); err != nil {
		return Result{}, err
	}

	genCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           TaskQueue,
		StartToCloseTimeout: plan.GenerateTimeout,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        plan.GenerateAttempts,
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
			outcomes[i] = makeImage(ctx, genCtx, &rec, plan, jobID, info.WorkflowStartTime, imageRequest(in.Request, i, n), inputs, i)
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
			kind, what := describeFailure(o.err)
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %s", kind, what))
			if firstErr == nil {
				firstErr = o.err
			}
			continue
		}
		res.Images = append(res.Images, o.image)
	}
	if rec.Cost != nil {
		rec.Cost = jobCost(rec.Cost.Estimate, outcomes)
		res.Cost = rec.Cost
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
	// spend is what the image's provider calls cost, every generation and
	// paid retry included.
	spend activities.Spend
	// placeholder: the image came from the offline preview renderer.
	placeholder bool
}

// jobCost sums the images' spend into the job's cost.
func jobCost(estimate *imagegen.USD, outcomes []imageOutcome) *Cost {
	c := &Cost{Estimate: estimate}
	var total activities.Spend
	for _, o := range outcomes {
		total = total.Add(o.spend)
		c.PaidWithoutImage += o.spend.PaidCalls
		if o.err == nil && o.spend.PaidCalls > 0 {
			c.PaidWithoutImage-- // the call that made the stored image
		}
		c.Preview = c.Preview || o.placeholder
	}
	c.PaidCalls = total.PaidCalls
	if !total.Unpriced {
		actual := total.Cost
		c.Actual = &actual
	}
	return c
}

// imageCost is an image's cost as Image reports it.
func imageCost(s activities.Spend) *imagegen.USD {
	if s.Unpriced {
		return nil
	}
	c := s.Cost
	return &c
}

// makeImage runs one image's pipeline: generate, then store on the worker
// that staged it; a staged image lost with its worker is generated again once.
func makeImage(ctx, genCtx workflow.Context, rec *Record, plan Plan, jobID string, started time.Time, req imagegen.Request, inputs activities.FetchedInputs, index int) imageOutcome {
	var a *activities.Activities
	var spend activities.Spend
	for generation := 1; ; generation++ {
		rec.Generations = max(rec.Generations, generation)
		var staged activities.Staged
		in := activities.GenerateInput{JobID: jobID, Index: index, Request: req, Provider: plan.Provider, Inputs: inputs.Images, Mask: inputs.Mask}
		err := workflow.ExecuteActivity(genCtx, a.Generate, in).Get(ctx, &staged)
		if err != nil {
			return imageOutcome{err: err, spend: spend.Add(activities.SpendOf(err))}
		}
		spend = spend.Add(staged.Spend)

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
		storeIn := activities.StoreInput{
			JobID: jobID, Key: key, Staged: staged, Index: index, Request: &req, Created: started,
			Generated: workflow.Now(ctx),
		}
		if plan.Cost != nil {
			sp := spend
			storeIn.Spend = &sp
		}
		var stored activities.Stored
		err = workflow.ExecuteActivity(storeCtx, a.Store, storeIn).Get(ctx, &stored)
		if err != nil {
			if stagedImageLost(err) && generation < plan.Generations {
				workflow.GetLogger(ctx).Warn("staged image unreachable, generating again", "job_id", jobID, "image", index, "error", err)
				rec.Stage = "generating"
				continue
			}
			return imageOutcome{err: err, spend: spend, placeholder: staged.Placeholder}
		}
		img := Image{
			URL: stored.URL, Key: stored.Key, ThumbnailKey: stored.ThumbnailKey, ContentType: staged.ContentType, SizeBytes: staged.SizeBytes,
			Width: staged.Width, Height: staged.Height, ProviderMillis: staged.ProviderMillis, StoreMillis: stored.StoreMillis,
			Provider: staged.Provider, Placeholder: staged.Placeholder,
		}
		if plan.Cost != nil {
			img.PaidCalls, img.Cost = spend.PaidCalls, imageCost(spend)
		}
		return imageOutcome{image: img, spend: spend, placeholder: staged.Placeholder}
	}
}

// fetchInputs runs the FetchInputs activity of an edit, recording the
// "fetching inputs" stage first. Its error is the workflow's own (the job
// is recorded failed or canceled).
func fetchInputs(ctx workflow.Context, rec *Record, in Input, plan Plan, jobID string) (activities.FetchedInputs, error) {
	// Every reference must have been resolved at start: an input that
	// bypassed the start path with unresolved references fails rather than
	// reaching the provider without its images.
	if len(in.Inputs) != len(in.Request.Inputs) || (in.Mask == nil) != (in.Request.Mask == "") {
		return activities.FetchedInputs{}, fail(ctx, rec, imagegen.KindInvalidInput,
			"the job's input images were not resolved when it started")
	}
	rec.Stage = "fetching inputs"
	if err := record(ctx, rec, StatusProcessing); err != nil {
		return activities.FetchedInputs{}, err
	}
	fetchCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           TaskQueue,
		StartToCloseTimeout: fetchInputsTimeout,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        fetchInputsAttempts,
			NonRetryableErrorTypes: nonRetryableKinds,
		},
	})
	var a *activities.Activities
	var out activities.FetchedInputs
	err := workflow.ExecuteActivity(fetchCtx, a.FetchInputs, activities.FetchInputsInput{
		JobID: jobID, Sources: in.Inputs, Mask: in.Mask, MaxSide: plan.InputSide,
	}).Get(ctx, &out)
	if err != nil {
		return activities.FetchedInputs{}, failFrom(ctx, rec, err)
	}
	return out, nil
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
	kind, what := describeFailure(err)
	return fail(ctx, rec, kind, what)
}

// fail records the job as failed. This is the one place a failed job's
// model-facing message is built: what happened, then the kind's advice.
func fail(ctx workflow.Context, rec *Record, kind imagegen.ErrorKind, what string) error {
	rec.Stage = ""
	rec.ErrorKind = string(kind)
	rec.Error = kind.Explain(what)
	if err := record(ctx, rec, StatusFailed); err != nil {
		return err
	}
	return temporal.NewNonRetryableApplicationError(rec.Error, string(kind), nil)
}

// describeFailure finds the kind and what-happened sentence of an activity
// error: from the failure details the activities attach (see
// activities.FailureDetails) and the error's own message, never from the
// decorated Error() text. Timeouts are Temporal's, not the provider's.
func describeFailure(err error) (kind imagegen.ErrorKind, what string) {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		var d activities.FailureDetails
		if ae.HasDetails() && ae.Details(&d) == nil && d.Kind != "" {
			return d.Kind, ae.Message()
		}
		// No details: a staged image lost twice, an unclassified error, or a
		// failure recorded before details existed.
		if k := imagegen.ErrorKind(ae.Type()); k.Known() || ae.Type() == activities.ErrTypeStagedImageLost {
			return k, ae.Message()
		}
		return imagegen.KindUpstream, ae.Message()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		var actErr *temporal.ActivityError
		store := errors.As(err, &actErr) && actErr.ActivityType().GetName() == "Store"
		fetch := errors.As(err, &actErr) && actErr.ActivityType().GetName() == "FetchInputs"
		switch {
		case fetch && te.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT:
			return imagegen.KindTimeout, "the worker fetching the input images stopped responding"
		case fetch:
			return imagegen.KindTimeout, "fetching the input images did not finish in time"
		case store && te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START:
			return imagegen.KindStorage, "the worker holding the generated image did not come back in time to store it"
		case store:
			return imagegen.KindStorage, "storing the image did not finish in time"
		case te.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT:
			return imagegen.KindTimeout, "the worker generating the image stopped responding"
		default:
			return imagegen.KindTimeout, "the provider did not answer in time"
		}
	}
	return imagegen.KindUpstream, err.Error()
}
