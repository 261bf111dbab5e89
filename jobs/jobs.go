// Package jobs is the client side of the generation workflow: it starts jobs,
// reads their state, waits for them and lists them, all through Temporal. The
// MCP tools and the operator CLI both use it; neither knows about workflows.
package jobs

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/google/uuid"
	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/workflows"
)

// Job is a job as tools and people see it.
type Job struct {
	ID        string            `json:"job_id"`
	Status    workflows.Status  `json:"status"`
	Stage     string            `json:"stage,omitempty"`
	Prompt    string            `json:"prompt"`
	Model     string            `json:"model"`
	ImageURL  string            `json:"image_url,omitempty"`
	Error     string            `json:"error,omitempty"`
	ErrorKind string            `json:"error_kind,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Result    *workflows.Result `json:"result,omitempty"`
	// UIURL links to the job in the Temporal Web UI when its address is known.
	UIURL string `json:"temporal_ui_url,omitempty"`
	// Inputs and Mask are the job's reference images as they may be shown
	// (imagegen.ShowRef: job refs as given, URLs without query or user info,
	// never bytes); Strength is its image-to-image strength. All empty for a
	// plain text-to-image job.
	Inputs   []string `json:"inputs,omitempty"`
	Mask     string   `json:"mask,omitempty"`
	Strength *float64 `json:"strength,omitempty"`
	// Cost is the estimate while the job runs and what it cost once it has
	// finished (nil for jobs started before costs were counted).
	Cost *workflows.Cost `json:"cost,omitempty"`
}

// Errors the callers tell apart.
var (
	// ErrNotFound: no job has this id (or it expired past retention).
	ErrNotFound = errors.New("job not found")
	// ErrUnavailable: Temporal could not be reached.
	ErrUnavailable = errors.New("the job service (Temporal) is unavailable")
)

// Client talks to Temporal on behalf of the tools.
type Client struct {
	temporal  client.Client
	namespace string
	uiBase    string
	log       *slog.Logger
	dc        converter.DataConverter
	closes    *closeWatcher
	idSecret  func() ([]byte, error)
	budget    Budget
}

// Options configures a Client.
type Options struct {
	Namespace string
	// UIBaseURL is the Temporal Web UI's base URL ("" = no links).
	UIBaseURL string
	Logger    *slog.Logger
	// CloseWatchEvery is the close watcher's tick (see Watch): 0 means
	// DefaultCloseWatchEvery, negative turns the watcher off.
	CloseWatchEvery time.Duration
	// IDSecret returns the key of the job ids of idempotency keys (see
	// IDForKey); it is called only when a key is used. Every process that
	// starts jobs in one namespace must use the same secret. Nil: none.
	IDSecret func() ([]byte, error)
	// Budget bounds what started jobs may cost (see Budget); the zero value
	// bounds nothing.
	Budget Budget
}

// New wraps a connected Temporal client.
func New(c client.Client, opts Options) *Client {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CloseWatchEvery == 0 {
		opts.CloseWatchEvery = DefaultCloseWatchEvery
	}
	return &Client{
		temporal: c, namespace: opts.Namespace, uiBase: strings.TrimRight(opts.UIBaseURL, "/"), log: opts.Logger,
		idSecret: opts.IDSecret, budget: opts.Budget,
		dc:     converter.GetDefaultDataConverter(),
		closes: &closeWatcher{list: c.ListWorkflow, namespace: opts.Namespace, every: opts.CloseWatchEvery, log: opts.Logger},
	}
}

// ValidateID checks that id looks like a job id (imagegen.IsJobID: the UUIDs
// this service makes). Anything else is refused before it reaches Temporal,
// so path-like or huge ids never travel further.
func ValidateID(id string) error {
	if id == "" {
		return &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "job_id is empty: pass the job_id returned by generate_image"}
	}
	if !imagegen.IsJobID(id) {
		shown := id
		if len(shown) > 40 {
			shown = shown[:40] + "…"
		}
		return &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("job_id %q is not a job id: job ids are UUIDs like 3f2c9a1e-8b7d-4c6e-9f01-23456789abcd, as returned by generate_image", shown)}
	}
	return nil
}

// Start validates the request and starts a one-image job. Bad requests start nothing.
func (c *Client) Start(ctx context.Context, req imagegen.Request) (Job, error) {
	job, _, err := c.StartWith(ctx, req, StartOptions{})
	return job, err
}

// StartOptions are the optional parts of a start.
type StartOptions struct {
	// N is how many images (1 to workflows.MaxImages; 0 means 1).
	N int
	// IdempotencyKey, when set, makes the start idempotent: the same key
	// returns the same job for as long as Temporal retains it, instead of a
	// second paid generation.
	IdempotencyKey string
	// Prepare, if set, runs once the request, its reference images and the
	// budget are checked, just before the workflow starts: the MCP layer
	// stores the inline images it was sent there, so that refused input
	// stores nothing.
	Prepare func(ctx context.Context) error
}

// MaxIdempotencyKeyLength bounds idempotency keys.
const MaxIdempotencyKeyLength = 200

// StartWith starts a job. With an idempotency key the job id is derived from
// the key (a name-based UUID), so Temporal's id conflict and reuse policies
// do the deduplication: no side table, and two concurrent calls with one key
// start one workflow. existing reports that the key's job already existed.
func (c *Client) StartWith(ctx context.Context, req imagegen.Request, opts StartOptions) (job Job, existing bool, err error) {
	req = req.WithDefaults()
	if err := req.Validate(); err != nil {
		return Job{}, false, err
	}
	if opts.N < 0 || opts.N > workflows.MaxImages {
		return Job{}, false, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("n must be between 1 and %d", workflows.MaxImages)}
	}
	// Reference images are resolved now (earlier jobs' images to their
	// keys), so that a bad reference starts nothing.
	sources, mask, err := c.resolveInputs(ctx, &req)
	if err != nil {
		return Job{}, false, err
	}
	// Everything the workflow needs from the models table is resolved now and
	// travels in its input: replay never reads the table.
	input, err := workflows.NewInput(req, opts.N)
	if err != nil {
		return Job{}, false, err
	}
	input.Inputs, input.Mask = sources, mask
	// With a budget: priced, and under the per-job ceiling.
	est, err := c.budget.estimate(req, opts.N)
	if err != nil {
		return Job{}, false, err
	}
	id := uuid.NewString()
	if opts.IdempotencyKey != "" {
		if err := ValidateIdempotencyKey(opts.IdempotencyKey); err != nil {
			return Job{}, false, err
		}
		var secret []byte
		if c.idSecret != nil {
			if secret, err = c.idSecret(); err != nil {
				return Job{}, false, fmt.Errorf("idempotency key: %w", err)
			}
		}
		id = IDForKey(secret, idMaterial(opts.IdempotencyKey, req))
	}
	// With a budget the estimate (checked above) is reserved on today's
	// ledger; a refusal starts nothing.
	reservation, fresh, err := c.reserve(ctx, id, req, est)
	if err != nil {
		return Job{}, false, err
	}
	input.Budget = reservation
	if opts.Prepare != nil {
		if err := opts.Prepare(ctx); err != nil {
			if reservation != nil && fresh {
				c.release(ctx, reservation, id, req.Model) // no job will run for it
			}
			return Job{}, false, err
		}
	}
	now := time.Now().UTC()
	rec := workflows.Record{Status: workflows.StatusPending, Request: req, UpdatedAt: now}
	if p := input.Plan; p != nil && p.Cost != nil {
		rec.Cost = &workflows.Cost{Estimate: p.Cost.Estimate} // shown while the job is pending
	}
	sopts := client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: workflows.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.StatusKey.ValueSet(string(workflows.StatusPending)),
			workflows.ModelKey.ValueSet(req.Model),
		),
		// createdMemoKey is written once, here, and never upserted: a retry
		// (a reset) starts a new run from this start event, so the job's
		// creation time survives it while the run's StartTime does not.
		Memo: map[string]any{workflows.MemoKey: rec, createdMemoKey: now},
		// Temporal's user metadata: the Web UI's job list and job page show
		// the prompt and the parameters instead of a bare UUID.
		StaticSummary: Summary(req),
		StaticDetails: Details(req, max(opts.N, 1)),
		// A job id is used once while Temporal retains the job: a running or
		// finished job under the same id (an idempotency key's) is an error
		// we turn into "here is that job".
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
	_, err = c.temporal.ExecuteWorkflow(ctx, sopts, workflows.WorkflowName, input)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started) && opts.IdempotencyKey != "":
		if reservation != nil && fresh {
			// The key's job ran before and settled: this call reserved
			// for a job it does not start.
			c.release(ctx, reservation, id, req.Model)
		}
		job, err := c.sameRequest(ctx, id, req)
		return job, true, err
	case err != nil:
		// A reservation stays until the ledger sees that no such job runs
		// (the start may have reached Temporal before the error).
		return Job{}, false, c.wrap("start job", err)
	}
	if reservation != nil {
		c.log.Info("job started", "job_id", id, "model", req.Model, "n", max(opts.N, 1), "reserved", reservation.Amount.String(), "ledger", reservation.Ledger)
	} else {
		c.log.Info("job started", "job_id", id, "model", req.Model, "n", max(opts.N, 1))
	}
	return c.withLink(Job{ID: id, Status: workflows.StatusPending, Prompt: req.Prompt, Model: req.Model, CreatedAt: now, UpdatedAt: now, Cost: rec.Cost}), false, nil
}

// maxSummary is how much of the prompt the Web UI's one-line summary shows.
const maxSummary = 120

// Summary is the one line the Temporal Web UI shows for a job: its prompt,
// on one line, clipped.
func Summary(req imagegen.Request) string {
	s := strings.Join(strings.Fields(req.Prompt), " ")
	if r := []rune(s); len(r) > maxSummary {
		s = string(r[:maxSummary-1]) + "…"
	}
	return s
}

// Details is the Markdown the Temporal Web UI shows on a job's page: the
// model and every parameter given.
func Details(req imagegen.Request, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**model** %s", req.Model)
	if req.Width != 0 || req.Height != 0 {
		fmt.Fprintf(&b, " · **size** %d×%d", req.Width, req.Height)
	}
	if req.Steps != 0 {
		fmt.Fprintf(&b, " · **steps** %d", req.Steps)
	}
	if req.Seed != nil {
		fmt.Fprintf(&b, " · **seed** %d", *req.Seed)
	}
	if req.Guidance != nil {
		fmt.Fprintf(&b, " · **guidance** %g", *req.Guidance)
	}
	if n > 1 {
		fmt.Fprintf(&b, " · **images** %d", n)
	}
	if req.Strength != nil {
		fmt.Fprintf(&b, " · **strength** %g", *req.Strength)
	}
	if len(req.Inputs) > 0 {
		fmt.Fprintf(&b, "\n\n**input images** %s", strings.Join(imagegen.ShowRefs(req.Inputs), " "))
	}
	if req.Mask != "" {
		fmt.Fprintf(&b, "\n\n**mask** %s", imagegen.ShowRef(req.Mask))
	}
	if req.NegativePrompt != "" {
		fmt.Fprintf(&b, "\n\n**negative prompt** %s", req.NegativePrompt)
	}
	return b.String()
}

// ValidateIdempotencyKey checks a non-empty idempotency key.
func ValidateIdempotencyKey(key string) error {
	if len(key) > MaxIdempotencyKeyLength || strings.TrimSpace(key) == "" || strings.ContainsRune(key, 0) {
		return &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("idempotency_key must be 1 to %d visible characters (no NUL)", MaxIdempotencyKeyLength)}
	}
	return nil
}

// IDForKey is the job id an idempotency key maps to: a UUID made of
// HMAC-SHA256(secret, key), so that knowing a key is not enough to compute
// its job id (and the path of its images). Without a secret it falls back to
// a name-based UUID (anyone can compute it; tests only).
func IDForKey(secret []byte, key string) string {
	if len(secret) == 0 {
		return uuid.NewSHA1(idempotencyNamespace, []byte(key)).String()
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("imagegen job id v1\x00" + key))
	var u uuid.UUID
	copy(u[:], m.Sum(nil))
	u[6] = (u[6] & 0x0f) | 0x80 // version 8: custom
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 9562 variant
	return u.String()
}

// idempotencyNamespace scopes name-based job ids to this service.
var idempotencyNamespace = uuid.MustParse("8f0f3c52-6b1e-4c1e-9f55-3d1a1b0e7a11")

// sameRequest returns the job an idempotency key already names, refusing a
// key reused for a different request.
func (c *Client) sameRequest(ctx context.Context, id string, req imagegen.Request) (Job, error) {
	job, err := c.Get(ctx, id)
	if err != nil {
		return Job{}, err
	}
	if job.Prompt != req.Prompt || job.Model != req.Model {
		return Job{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "idempotency_key was already used for a different prompt or model: use a new key for a new request"}
	}
	return job, nil
}

// Get returns the job's current state from a describe call: one cheap RPC,
// no visibility query and no worker round trip.
func (c *Client) Get(ctx context.Context, id string) (Job, error) {
	if err := ValidateID(id); err != nil {
		return Job{}, err
	}
	resp, err := c.temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return Job{}, c.wrap("describe job "+id, err)
	}
	if resp.GetWorkflowExecutionInfo().GetType().GetName() != workflows.WorkflowName {
		return Job{}, ErrNotFound
	}
	return c.fromInfo(resp.GetWorkflowExecutionInfo()), nil
}

// isTimeout: Get with a deadline fails with serviceerror.DeadlineExceeded, not
// context.DeadlineExceeded; accept both.
func isTimeout(err error) bool {
	var de *serviceerror.DeadlineExceeded
	return errors.As(err, &de) || errors.Is(err, context.DeadlineExceeded)
}

// ListOptions filters and pages a list. Status "" or "all" lists every job.
type ListOptions struct {
	Status workflows.Status
	Model  string
	Limit  int
	Offset int
}

// MaxOffset bounds how deep a list may page, so one call cannot walk the whole
// namespace.
const MaxOffset = 10000

// List returns jobs from Temporal visibility, running jobs first (newest
// first), then finished ones by close time, newest first.
func (c *Client) List(ctx context.Context, opts ListOptions) ([]Job, error) {
	if opts.Limit <= 0 {
		opts.Limit = 10
	}
	if opts.Offset < 0 || opts.Offset > MaxOffset {
		return nil, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("offset must be between 0 and %d", MaxOffset)}
	}
	query, err := listQuery(opts)
	if err != nil {
		return nil, err
	}
	want := opts.Offset + opts.Limit
	// A retried job keeps its failed run in visibility beside the new one:
	// count each job once (the newest run comes first), and for failed or
	// canceled lists keep a listed run only while it is still the job's
	// current one. That check is one more visibility call per page, never a
	// call per job.
	verify := opts.Status == workflows.StatusFailed || opts.Status == workflows.StatusCanceled
	var (
		jobs  []Job
		token []byte
		seen  = map[string]bool{}
	)
	for {
		resp, err := c.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace:     c.namespace,
			PageSize:      int32(min(want-len(seen)+10, 100)),
			NextPageToken: token,
			Query:         query,
		})
		if err != nil {
			return nil, c.wrap("list jobs", err)
		}
		rows := firstRunOfEach(resp.GetExecutions(), seen)
		if verify {
			if rows, err = c.currentRuns(ctx, rows); err != nil {
				return nil, err
			}
		}
		for _, info := range rows {
			if len(seen) >= want {
				break
			}
			seen[info.GetExecution().GetWorkflowId()] = true
			if len(seen) > opts.Offset {
				jobs = append(jobs, c.fromInfo(info))
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 || len(seen) >= want {
			return jobs, nil
		}
	}
}

// firstRunOfEach keeps the first row of each job not already seen (runs come
// newest first).
func firstRunOfEach(rows []*workflowpb.WorkflowExecutionInfo, seen map[string]bool) []*workflowpb.WorkflowExecutionInfo {
	out := make([]*workflowpb.WorkflowExecutionInfo, 0, len(rows))
	page := map[string]bool{}
	for _, info := range rows {
		id := info.GetExecution().GetWorkflowId()
		if seen[id] || page[id] {
			continue
		}
		page[id] = true
		out = append(out, info)
	}
	return out
}

// currentRuns keeps the rows that are their job's current run, with one
// visibility query for all of them: a job's current run is its running one,
// else the one that closed last (a retry resets a closed run into a new one,
// which closes later). Rows whose id is not a job id are dropped.
func (c *Client) currentRuns(ctx context.Context, rows []*workflowpb.WorkflowExecutionInfo) ([]*workflowpb.WorkflowExecutionInfo, error) {
	var quoted []string
	for _, info := range rows {
		if id := info.GetExecution().GetWorkflowId(); ValidateID(id) == nil {
			quoted = append(quoted, "'"+id+"'")
		}
	}
	if len(quoted) == 0 {
		return nil, nil
	}
	query := fmt.Sprintf("WorkflowType = '%s' AND WorkflowId IN (%s)", workflows.WorkflowName, strings.Join(quoted, ", "))
	current := map[string]*workflowpb.WorkflowExecutionInfo{}
	var token []byte
	for {
		resp, err := c.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: c.namespace, PageSize: int32(min(2*len(quoted)+10, 1000)), NextPageToken: token, Query: query,
		})
		if err != nil {
			return nil, c.wrap("list runs of jobs", err)
		}
		for _, info := range resp.GetExecutions() {
			id := info.GetExecution().GetWorkflowId()
			if cur := current[id]; cur == nil || newerRun(info, cur) {
				current[id] = info
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	out := rows[:0:0]
	for _, info := range rows {
		if cur := current[info.GetExecution().GetWorkflowId()]; cur != nil && cur.GetExecution().GetRunId() == info.GetExecution().GetRunId() {
			out = append(out, info)
		}
	}
	return out, nil
}

// newerRun reports whether run a of a job supersedes run b.
func newerRun(a, b *workflowpb.WorkflowExecutionInfo) bool {
	running := func(i *workflowpb.WorkflowExecutionInfo) bool {
		return i.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}
	if running(a) != running(b) {
		return running(a)
	}
	return a.GetCloseTime().AsTime().After(b.GetCloseTime().AsTime())
}

// listQuery builds the visibility query. Running jobs are told apart by the
// status search attribute; finished ones by Temporal's own execution status,
// which stays right even when an operator terminates a workflow.
func listQuery(opts ListOptions) (string, error) {
	clauses := []string{fmt.Sprintf("WorkflowType = '%s'", workflows.WorkflowName)}
	switch opts.Status {
	case "", "all":
	case workflows.StatusPending, workflows.StatusProcessing:
		clauses = append(clauses, "ExecutionStatus = 'Running'", fmt.Sprintf("%s = '%s'", workflows.AttrStatus, opts.Status))
	case workflows.StatusCompleted:
		clauses = append(clauses, "ExecutionStatus = 'Completed'")
	case workflows.StatusFailed:
		clauses = append(clauses, "ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut')")
	case workflows.StatusCanceled:
		clauses = append(clauses, "ExecutionStatus = 'Canceled'")
	default:
		return "", &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("unknown status %q: use all, pending, processing, completed, failed or canceled", opts.Status)}
	}
	if opts.Model != "" {
		if _, ok := imagegen.LookupModel(opts.Model); !ok {
			return "", &imagegen.Error{Kind: imagegen.KindUnknownModel, Message: fmt.Sprintf("unknown model %q", opts.Model)}
		}
		clauses = append(clauses, fmt.Sprintf("%s = '%s'", workflows.AttrModel, opts.Model))
	}
	return strings.Join(clauses, " AND "), nil
}

// fromInfo builds a Job from a describe or list entry: memo for the details,
// execution status for the truth about finished workflows.
func (c *Client) fromInfo(info *workflowpb.WorkflowExecutionInfo) Job {
	var rec workflows.Record
	if p := info.GetMemo().GetFields()[workflows.MemoKey]; p != nil {
		if err := c.dc.FromPayload(p, &rec); err != nil {
			c.log.Warn("undecodable job memo", "job_id", info.GetExecution().GetWorkflowId(), "error", err)
		}
	}
	job := Job{
		ID:        info.GetExecution().GetWorkflowId(),
		Status:    rec.Status,
		Stage:     rec.Stage,
		Prompt:    rec.Request.Prompt,
		Model:     rec.Request.Model,
		Error:     rec.Error,
		ErrorKind: rec.ErrorKind,
		CreatedAt: createdAt(c, info),
		UpdatedAt: rec.UpdatedAt,
		Inputs:    imagegen.ShowRefs(rec.Request.Inputs),
		Strength:  rec.Request.Strength,
		Cost:      rec.Cost,
	}
	if rec.Request.Mask != "" {
		job.Mask = imagegen.ShowRef(rec.Request.Mask)
	}
	job.Result = trustedResult(job.ID, rec.Result)
	if job.Result != nil {
		job.ImageURL = job.Result.ImageURL
	}
	if job.Status == "" {
		job.Status = statusFromAttrs(info.GetSearchAttributes())
	}
	job.Status = reconcile(job.Status, info.GetStatus())
	if job.Status == workflows.StatusFailed && job.Error == "" {
		job.Error = fmt.Sprintf("the job's workflow ended as %s", strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")))
	}
	if ct := info.GetCloseTime(); ct != nil && job.UpdatedAt.Before(ct.AsTime()) && job.Status != workflows.StatusCompleted {
		job.UpdatedAt = ct.AsTime()
	}
	if job.UpdatedAt.IsZero() {
		job.UpdatedAt = job.CreatedAt
	}
	return c.withLink(job)
}

// createdMemoKey is the memo field holding when the job was first started.
const createdMemoKey = "created_at"

// createdAt is when the job was first started: its creation memo, or, for
// jobs started before that memo existed, the current run's start time (which
// a retry moves).
func createdAt(c *Client, info *workflowpb.WorkflowExecutionInfo) time.Time {
	if p := info.GetMemo().GetFields()[createdMemoKey]; p != nil {
		var t time.Time
		if err := c.dc.FromPayload(p, &t); err == nil && !t.IsZero() {
			return t
		}
	}
	return info.GetStartTime().AsTime()
}

// reconcile trusts Temporal's execution status over the recorded one for
// closed workflows (an operator may have terminated or cancelled it).
func reconcile(recorded workflows.Status, exec enumspb.WorkflowExecutionStatus) workflows.Status {
	switch exec {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return workflows.StatusCompleted
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return workflows.StatusFailed
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return workflows.StatusCanceled
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return workflows.StatusProcessing
	}
	if recorded == "" || recorded.Terminal() {
		// Running, yet recorded as finished: a reset is replaying it.
		return workflows.StatusPending
	}
	return recorded
}

func statusFromAttrs(sa *commonpb.SearchAttributes) workflows.Status {
	p := sa.GetIndexedFields()[workflows.AttrStatus]
	if p == nil {
		return ""
	}
	var s string
	if converter.GetDefaultDataConverter().FromPayload(p, &s) != nil {
		return ""
	}
	return workflows.Status(s)
}

func (c *Client) withLink(j Job) Job {
	if c.uiBase != "" {
		j.UIURL = fmt.Sprintf("%s/namespaces/%s/workflows/%s", c.uiBase, url.PathEscape(c.namespace), url.PathEscape(j.ID))
	}
	return j
}

// wrap turns Temporal errors into the errors callers tell apart, keeping the
// original for logs.
func (c *Client) wrap(op string, err error) error {
	var nf *serviceerror.NotFound
	var na *serviceerror.NamespaceNotFound
	switch {
	case errors.As(err, &na):
		return fmt.Errorf("%s: %w: namespace %q does not exist", op, ErrUnavailable, c.namespace)
	case errors.As(err, &nf):
		return ErrNotFound
	case isUnavailable(err):
		c.log.Error("temporal unavailable", "op", op, "error", err)
		return fmt.Errorf("%s: %w", op, ErrUnavailable)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isUnavailable(err error) bool {
	var un *serviceerror.Unavailable
	var de *serviceerror.DeadlineExceeded
	var ce *serviceerror.Canceled
	return errors.As(err, &un) || errors.As(err, &de) || errors.As(err, &ce) ||
		errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "connection refused")
}
