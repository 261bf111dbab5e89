// Package jobs is the client side of the generation workflow: it starts jobs,
// reads their state, waits for them and lists them, all through Temporal. The
// MCP tools and the operator CLI both use it; neither knows about workflows.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
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
}

// Options configures a Client.
type Options struct {
	Namespace string
	// UIBaseURL is the Temporal Web UI's base URL ("" = no links).
	UIBaseURL string
	Logger    *slog.Logger
}

// New wraps a connected Temporal client.
func New(c client.Client, opts Options) *Client {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{temporal: c, namespace: opts.Namespace, uiBase: strings.TrimRight(opts.UIBaseURL, "/"), log: opts.Logger, dc: converter.GetDefaultDataConverter()}
}

// jobIDPattern accepts the UUIDs this service makes. Anything else is refused
// before it reaches Temporal, so path-like or huge ids never travel further.
var jobIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ValidateID checks that id looks like a job id.
func ValidateID(id string) error {
	if id == "" {
		return &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "job_id is empty: pass the job_id returned by generate_image"}
	}
	if !jobIDPattern.MatchString(id) {
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
	// Everything the workflow needs from the models table is resolved now and
	// travels in its input: replay never reads the table.
	input, err := workflows.NewInput(req, opts.N)
	if err != nil {
		return Job{}, false, err
	}
	id := uuid.NewString()
	if opts.IdempotencyKey != "" {
		if err := ValidateIdempotencyKey(opts.IdempotencyKey); err != nil {
			return Job{}, false, err
		}
		id = IDForKey(opts.IdempotencyKey)
	}
	now := time.Now().UTC()
	rec := workflows.Record{Status: workflows.StatusPending, Request: req, UpdatedAt: now}
	sopts := client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: workflows.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.StatusKey.ValueSet(string(workflows.StatusPending)),
			workflows.ModelKey.ValueSet(req.Model),
		),
		Memo: map[string]any{workflows.MemoKey: rec},
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
		job, err := c.sameRequest(ctx, id, req)
		return job, true, err
	case err != nil:
		return Job{}, false, c.wrap("start job", err)
	}
	c.log.Info("job started", "job_id", id, "model", req.Model, "n", max(opts.N, 1))
	return c.withLink(Job{ID: id, Status: workflows.StatusPending, Prompt: req.Prompt, Model: req.Model, CreatedAt: now, UpdatedAt: now}), false, nil
}

// ValidateIdempotencyKey checks a non-empty idempotency key.
func ValidateIdempotencyKey(key string) error {
	if len(key) > MaxIdempotencyKeyLength || strings.TrimSpace(key) == "" || strings.ContainsRune(key, 0) {
		return &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("idempotency_key must be 1 to %d visible characters (no NUL)", MaxIdempotencyKeyLength)}
	}
	return nil
}

// IDForKey is the job id an idempotency key maps to.
func IDForKey(key string) string {
	return uuid.NewSHA1(idempotencyNamespace, []byte(key)).String()
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

// Wait blocks until the job finishes or timeout passes, whichever is first,
// by waiting on the workflow result: it returns as soon as the workflow
// closes. done is false when the timeout passed first.
func (c *Client) Wait(ctx context.Context, id string, timeout time.Duration) (job Job, done bool, err error) {
	if err := ValidateID(id); err != nil {
		return Job{}, false, err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	werr := c.temporal.GetWorkflow(wctx, id, "").Get(wctx, nil)
	if werr != nil && isTimeout(werr) {
		if ctx.Err() != nil {
			return Job{}, false, ctx.Err()
		}
		job, err := c.Get(ctx, id)
		return job, job.Status.Terminal(), err
	}
	var nf *serviceerror.NotFound
	if errors.As(werr, &nf) {
		return Job{}, false, ErrNotFound
	}
	// Finished (completed, failed or canceled): read the recorded state. Use
	// the caller's context, the wait budget may be spent.
	job, err = c.Get(ctx, id)
	if err != nil {
		return Job{}, false, err
	}
	return job, job.Status.Terminal(), nil
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
	// canceled lists make sure the listed run is still the job's current one.
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
		for _, info := range resp.GetExecutions() {
			id := info.GetExecution().GetWorkflowId()
			if seen[id] || len(seen) >= want {
				continue
			}
			job := c.fromInfo(info)
			if verify {
				cur, err := c.Get(ctx, id)
				if err != nil || cur.Status != opts.Status {
					continue
				}
				job = cur
			}
			seen[id] = true
			if len(seen) > opts.Offset {
				jobs = append(jobs, job)
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 || len(seen) >= want {
			return jobs, nil
		}
	}
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
		CreatedAt: info.GetStartTime().AsTime(),
		UpdatedAt: rec.UpdatedAt,
		Result:    rec.Result,
	}
	if rec.Result != nil {
		job.ImageURL = rec.Result.ImageURL
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
