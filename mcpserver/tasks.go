package mcpserver

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// MCP Tasks, backed by Temporal. A task is a job is a workflow: the task id
// is the job id, and every answer here is read from Temporal when it is asked
// for. There is no task table, so a restarted server, or any replica behind
// the same URL, gives the same answers.
//
// Two generations of the protocol are served:
//   - the Tasks extension of protocol revision 2026-07-28
//     (io.modelcontextprotocol/tasks), called "modern" below;
//   - the tasks utility of revision 2025-11-25, called "legacy".
//
// The transport half (which JSON-RPC methods are taken from mcp-go and how
// they are answered on the wire) is taskdispatch.go.

// TasksExtension is the identifier of the 2026-07-28 Tasks extension.
const TasksExtension = "io.modelcontextprotocol/tasks"

// relatedTaskMeta is the 2025-11-25 _meta key tying a message to its task.
const relatedTaskMeta = "io.modelcontextprotocol/related-task"

// taskGen is the protocol generation a task request speaks.
type taskGen int

const (
	genModern taskGen = iota // 2026-07-28 Tasks extension
	genLegacy                // 2025-11-25 tasks utility
)

// rpcError is a JSON-RPC error answer.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("JSON-RPC error %d: %s", e.Code, e.Message) }

// missingTasksCapability is the -32021 answer to a modern client that did not
// declare the extension.
func missingTasksCapability() *rpcError {
	return &rpcError{
		Code:    mcp.MISSING_REQUIRED_CLIENT_CAPABILITY,
		Message: "Missing required client capability: declare the " + TasksExtension + " extension in _meta clientCapabilities",
		Data:    map[string]any{"requiredCapabilities": map[string]any{"extensions": map[string]any{TasksExtension: map[string]any{}}}},
	}
}

// taskBegin is the first half of a blocking tool: it validates the call and
// names the job to wait for, or returns the tool result to answer at once.
type taskBegin func(ctx context.Context, req mcp.CallToolRequest) (jobID string, immediate *mcp.CallToolResult)

// taskTool returns the first half of the tools that may answer with a task:
// the two blocking ones. The second half of both is waitResult.
func (s *Server) taskTool(name string) (taskBegin, bool) {
	switch name {
	case "generate_image_and_wait":
		return s.beginGenerateAndWait, true
	case "wait_for_completion":
		return func(ctx context.Context, req mcp.CallToolRequest) (string, *mcp.CallToolResult) {
			id, _, fail := s.beginWaitForCompletion(ctx, req)
			return id, fail
		}, true
	}
	return nil, false
}

// taskResult is what createTask answers: a task, or the tool result itself
// when no job was named (bad arguments) or, for 2026-07-28, the job has
// already finished.
type taskResult struct {
	task   map[string]any
	result *mcp.CallToolResult
}

// createTask runs the first half of a blocking tool and, when it names a
// running job, answers with that job as a task. The job's workflow has been
// started (and read back) before the answer, so a tasks/get resolves at once.
func (s *Server) createTask(ctx context.Context, gen taskGen, name string, req mcp.CallToolRequest) (taskResult, error) {
	begin, ok := s.taskTool(name)
	if !ok {
		return taskResult{}, fmt.Errorf("tool %q cannot run as a task", name)
	}
	start := time.Now()
	id, fail := begin(ctx, req)
	if fail != nil {
		s.observeTaskCall(name, "tool_error", start)
		return taskResult{result: fail}, nil
	}
	job, err := s.jobs.Get(ctx, id)
	if err != nil {
		s.observeTaskCall(name, "tool_error", start)
		return taskResult{result: s.toolError(ctx, name, err)}, nil
	}
	if job.Status.Terminal() && gen == genModern {
		// Nothing to wait for: the answer is the tool's own. (A 2025-11-25
		// client asked for a task, so it gets one, already finished.)
		s.observeTaskCall(name, "ok", start)
		return taskResult{result: s.waitResult(ctx, name, id, s.maxWait, job, true, nil)}, nil
	}
	s.observeTaskCall(name, "task", start)
	s.log.InfoContext(ctx, "task created", "task_id", id, "tool", name, "protocol", gen.String())
	return taskResult{task: s.taskFields(ctx, gen, job)}, nil
}

func (g taskGen) String() string {
	if g == genModern {
		return "2026-07-28"
	}
	return "2025-11-25"
}

func (s *Server) observeTaskCall(tool, outcome string, start time.Time) {
	if s.opts.Observer != nil {
		s.opts.Observer.ToolCall(tool, outcome, time.Since(start))
	}
}

// lookupTask reads the job behind a task id; unknown or malformed ids are the
// -32602 the specifications ask for.
func (s *Server) lookupTask(ctx context.Context, id string) (jobs.Job, error) {
	if id == "" {
		return jobs.Job{}, &rpcError{Code: mcp.INVALID_PARAMS, Message: "Failed to retrieve task: params.taskId is required"}
	}
	if err := jobs.ValidateID(id); err != nil {
		return jobs.Job{}, &rpcError{Code: mcp.INVALID_PARAMS, Message: "Failed to retrieve task: Task not found (task ids are job ids, UUIDs)"}
	}
	job, err := s.jobs.Get(ctx, id)
	return job, s.taskLookupError(ctx, id, err)
}

func (s *Server) taskLookupError(ctx context.Context, id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jobs.ErrNotFound):
		return &rpcError{Code: mcp.INVALID_PARAMS, Message: "Failed to retrieve task: Task not found (or expired past the retention period)"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, jobs.ErrUnavailable):
		s.log.ErrorContext(ctx, "task lookup failed: job service unavailable", "task_id", id, "error", err)
		return &rpcError{Code: mcp.INTERNAL_ERROR, Message: "the image service is temporarily unavailable (its job store cannot be reached); try again in a minute"}
	default:
		s.log.ErrorContext(ctx, "task lookup failed", "task_id", id, "error", err)
		return &rpcError{Code: mcp.INTERNAL_ERROR, Message: "internal error reading the task"}
	}
}

// taskStatus maps a job's status to a task status. A failed job is, in the
// 2026-07-28 extension, a completed task whose result has isError (the tool
// call itself succeeded); 2025-11-25 calls that a failed task.
func taskStatus(gen taskGen, st workflows.Status) string {
	switch st {
	case workflows.StatusCompleted:
		return "completed"
	case workflows.StatusFailed:
		if gen == genModern {
			return "completed"
		}
		return "failed"
	case workflows.StatusCanceled:
		return "cancelled"
	}
	return "working"
}

// taskFields is a job as a Task object, in the generation's field names.
func (s *Server) taskFields(ctx context.Context, gen taskGen, job jobs.Job) map[string]any {
	msg := ""
	switch {
	case job.Status == workflows.StatusFailed:
		msg = "the job failed: " + job.Error
	case job.Status == workflows.StatusCanceled:
		msg = "the job was canceled"
	case job.Status == workflows.StatusCompleted:
		msg = "the image is ready"
	default:
		_, msg = stageProgress(jobs.Progress{Status: job.Status, Stage: job.Stage})
	}
	t := map[string]any{
		"taskId":        job.ID,
		"status":        taskStatus(gen, job.Status),
		"statusMessage": msg,
		"createdAt":     taskTime(job.CreatedAt),
		"lastUpdatedAt": taskTime(latest(job.UpdatedAt, job.CreatedAt)),
	}
	ttl := s.taskTTL(ctx)
	poll := pollInterval(job.Model)
	if gen == genModern {
		t["ttlMs"], t["pollIntervalMs"] = ttl, poll
	} else {
		t["ttl"], t["pollInterval"] = ttl, poll
	}
	return t
}

// detailedTask is a job as a 2026-07-28 DetailedTask: a completed one carries
// the tool's result, exactly as the blocking call returns it.
func (s *Server) detailedTask(ctx context.Context, job jobs.Job) map[string]any {
	t := s.taskFields(ctx, genModern, job)
	if t["status"] == "completed" {
		t["result"] = s.modernResult(s.waitResult(ctx, "tasks/get", job.ID, s.maxWait, job, true, nil))
	}
	return t
}

// modernResult stamps a tool result the way mcp-go stamps every 2026-07-28
// result, so that a task's result equals the blocking call's.
func (s *Server) modernResult(res *mcp.CallToolResult) *mcp.CallToolResult {
	out := *res
	if out.GetResultType() == "" {
		out.SetResultType(mcp.ResultTypeComplete)
	}
	meta := &mcp.Meta{}
	if res.Meta != nil {
		cp := *res.Meta
		cp.AdditionalFields = map[string]any{}
		for k, v := range res.Meta.AdditionalFields {
			cp.AdditionalFields[k] = v
		}
		meta = &cp
	}
	if meta.ServerInfo() == nil {
		meta.SetServerInfo(mcp.Implementation{Name: "imagegen", Version: s.opts.Version})
	}
	out.Meta = meta
	return &out
}

// legacyResult is a tool result as 2025-11-25 tasks/result returns it: tied
// to its task through _meta.
func legacyResult(res *mcp.CallToolResult, id string) *mcp.CallToolResult {
	out := *res
	meta := &mcp.Meta{AdditionalFields: map[string]any{}}
	if res.Meta != nil {
		cp := *res.Meta
		cp.AdditionalFields = map[string]any{}
		for k, v := range res.Meta.AdditionalFields {
			cp.AdditionalFields[k] = v
		}
		meta = &cp
	}
	meta.AdditionalFields[relatedTaskMeta] = map[string]any{"taskId": id}
	out.Meta = meta
	return &out
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func taskTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// pollInterval suggests how often to poll a job of this model: a quarter of
// its shortest typical time, within 0.5-5 s.
func pollInterval(model string) int64 {
	ms := int64(2000)
	if m, ok := imagegen.LookupModel(model); ok {
		ms = int64(m.TypicalSeconds[0]) * 1000 / 4
	}
	return min(max(ms, 500), 5000)
}

// retentionReader is implemented by jobs.Client: the namespace retention is
// the tasks' ttl.
type retentionReader interface {
	Retention(ctx context.Context) (time.Duration, error)
}

// retentionCache keeps the namespace retention for a while: it is server
// configuration, not task state, and changes rarely.
type retentionCache struct {
	mu   sync.Mutex
	ms   *int64
	read time.Time
}

const retentionRefresh = 5 * time.Minute

// taskTTL is the tasks' time to live in milliseconds: the namespace
// retention, the least time Temporal keeps a job after it was created. nil
// (unlimited in the specifications' terms) only when the job layer cannot say.
func (s *Server) taskTTL(ctx context.Context) *int64 {
	rr, ok := s.jobs.(retentionReader)
	if !ok {
		return nil
	}
	c := &s.retention
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ms != nil && time.Since(c.read) < retentionRefresh {
		return c.ms
	}
	d, err := rr.Retention(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "cannot read the namespace retention for task ttl", "error", err)
		return c.ms
	}
	ms := d.Milliseconds()
	c.ms, c.read = &ms, time.Now()
	return c.ms
}

// getTask answers tasks/get.
func (s *Server) getTask(ctx context.Context, gen taskGen, id string) (any, error) {
	job, err := s.lookupTask(ctx, id)
	if err != nil {
		return nil, err
	}
	if gen == genModern {
		t := s.detailedTask(ctx, job)
		t["resultType"] = "complete"
		return t, nil
	}
	return s.taskFields(ctx, gen, job), nil
}

// cancelTask answers tasks/cancel. Modern: cancellation is cooperative and
// acknowledged at once. Legacy: a finished task is -32602, and the answer is
// the task after the workflow has closed (bounded by cancelSettle).
func (s *Server) cancelTask(ctx context.Context, gen taskGen, id string) (any, error) {
	job, err := s.lookupTask(ctx, id)
	if err != nil {
		return nil, err
	}
	if job.Status.Terminal() {
		if gen == genModern {
			return map[string]any{"resultType": "complete"}, nil
		}
		return nil, &rpcError{Code: mcp.INVALID_PARAMS, Message: fmt.Sprintf("Cannot cancel task: already in terminal status '%s'", taskStatus(gen, job.Status))}
	}
	if _, err := s.jobs.Cancel(ctx, id); err != nil {
		var ie *imagegen.Error
		if !errors.As(err, &ie) { // an imagegen.Error: it finished meanwhile
			return nil, s.taskLookupError(ctx, id, err)
		}
	}
	s.log.InfoContext(ctx, "task cancel requested", "task_id", id, "protocol", gen.String())
	if gen == genModern {
		return map[string]any{"resultType": "complete"}, nil
	}
	after, done, err := s.jobs.Wait(ctx, id, cancelSettle)
	if err != nil {
		return nil, s.taskLookupError(ctx, id, err)
	}
	if !done {
		after.Status = workflows.StatusCanceled // requested; Temporal is still closing it
		after.UpdatedAt = time.Now()
	}
	return s.taskFields(ctx, gen, after), nil
}

// cancelSettle bounds how long a 2025-11-25 tasks/cancel waits for the
// workflow to close, so that it can answer with the cancelled task.
const cancelSettle = 10 * time.Second

// updateTask answers the 2026-07-28 tasks/update: no job ever waits for
// input, so any responses are ignored, as the extension asks for keys that
// are not outstanding.
func (s *Server) updateTask(ctx context.Context, id string) (any, error) {
	if _, err := s.lookupTask(ctx, id); err != nil {
		return nil, err
	}
	return map[string]any{"resultType": "complete"}, nil
}

// awaitTask blocks until the job behind a task has finished (or ctx ends),
// on the workflow result, the same mechanism as wait_for_completion.
func (s *Server) awaitTask(ctx context.Context, id string) (jobs.Job, error) {
	s.waiterAdd(1)
	defer s.waiterAdd(-1)
	for {
		job, done, err := s.jobs.Wait(ctx, id, MaxWait)
		if err != nil || done {
			return job, s.taskLookupError(ctx, id, err)
		}
	}
}

// taskPayload answers the 2025-11-25 tasks/result: it blocks until the task
// is finished, then returns the tool's result. onFinished is told the final
// task first when it finished during the wait (notifications/tasks/status).
// before is the job as the request found it (from lookupTask).
func (s *Server) taskPayload(ctx context.Context, id string, before jobs.Job, onFinished func(task map[string]any)) (any, error) {
	job, err := s.awaitTask(ctx, id)
	if err != nil {
		return nil, err
	}
	if !before.Status.Terminal() && onFinished != nil {
		onFinished(s.taskFields(ctx, genLegacy, job))
	}
	return legacyResult(s.waitResult(ctx, "tasks/result", id, s.maxWait, job, true, nil), id), nil
}

// taskListPage is the page size of tasks/list.
const taskListPage = 50

// listTasks answers the 2025-11-25 tasks/list from Temporal visibility; the
// cursor is an opaque offset.
func (s *Server) listTasks(ctx context.Context, cursor string) (any, error) {
	offset := 0
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		n, perr := strconv.Atoi(string(b))
		if err != nil || perr != nil || n < 0 || n > jobs.MaxOffset {
			return nil, &rpcError{Code: mcp.INVALID_PARAMS, Message: "invalid cursor: pass the nextCursor of the previous page"}
		}
		offset = n
	}
	list, err := s.jobs.List(ctx, jobs.ListOptions{Limit: taskListPage, Offset: offset})
	if err != nil {
		var ie *imagegen.Error
		if errors.As(err, &ie) {
			return nil, &rpcError{Code: mcp.INVALID_PARAMS, Message: ie.Message}
		}
		return nil, s.taskLookupError(ctx, "", err)
	}
	tasks := make([]map[string]any, 0, len(list))
	for _, j := range list {
		tasks = append(tasks, s.taskFields(ctx, genLegacy, j))
	}
	out := map[string]any{"tasks": tasks}
	if len(list) == taskListPage && offset+taskListPage <= jobs.MaxOffset {
		out["nextCursor"] = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset + taskListPage)))
	}
	return out, nil
}

// acceptTaskIDs keeps the subscribed task ids that name existing jobs.
func (s *Server) acceptTaskIDs(ctx context.Context, ids []string) []string {
	accepted := []string{}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, err := s.lookupTask(ctx, id); err == nil {
			accepted = append(accepted, id)
		}
	}
	return accepted
}

// pushTasks sends each task's DetailedTask the moment its job finishes: one
// waiter per task blocks on the workflow result, never on a timer. It
// returns when every task has been sent or ctx ends.
func (s *Server) pushTasks(ctx context.Context, ids []string, send func(task map[string]any)) {
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			job, err := s.awaitTask(ctx, id)
			if err != nil {
				if ctx.Err() == nil {
					s.log.WarnContext(ctx, "task subscription ended without a result", "task_id", id, "error", err)
				}
				return
			}
			send(s.detailedTask(ctx, job))
		})
	}
	wg.Wait()
}
