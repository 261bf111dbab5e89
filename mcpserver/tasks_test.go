package mcpserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/mcpserver"
	"github.com/imagegen/imagegen/workflows"
)

// taskJobs is a job layer whose jobs finish when the test says so: Wait
// blocks on a channel, as jobs.Client blocks on the workflow result.
type taskJobs struct {
	mu      sync.Mutex
	jobs    map[string]*jobs.Job
	done    map[string]chan struct{}
	n       int
	cancels []string
	// waiting receives the id of every Wait that has begun to block.
	waiting chan string
}

func newTaskJobs() *taskJobs {
	return &taskJobs{jobs: map[string]*jobs.Job{}, done: map[string]chan struct{}{}, waiting: make(chan string, 1000)}
}

// blocked returns once a Wait on id is blocked.
func (f *taskJobs) blocked(t *testing.T, id string) {
	t.Helper()
	deadline := time.After(time.Minute) // a bound on a hang, not a speed check
	for {
		select {
		case got := <-f.waiting:
			if got == id {
				return
			}
		case <-deadline:
			t.Fatalf("no wait on %s began", id)
		}
	}
}

func (f *taskJobs) add(status workflows.Status) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", f.n)
	now := time.Date(2026, 12, 1, 8, 0, f.n, 0, time.UTC)
	f.jobs[id] = &jobs.Job{ID: id, Status: status, Prompt: "a fox", Model: imagegen.DefaultModel, CreatedAt: now, UpdatedAt: now}
	f.done[id] = make(chan struct{})
	if status.Terminal() {
		f.finishLocked(id, status)
	}
	return id
}

func (f *taskJobs) finish(id string, status workflows.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finishLocked(id, status)
}

func (f *taskJobs) finishLocked(id string, status workflows.Status) {
	j := f.jobs[id]
	j.Status, j.UpdatedAt = status, j.UpdatedAt.Add(3*time.Second)
	switch status {
	case workflows.StatusCompleted:
		j.ImageURL = "http://img.test/" + id + ".png"
		j.Result = &workflows.Result{ImageURL: j.ImageURL, ContentType: "image/png", SizeBytes: 42}
	case workflows.StatusFailed:
		j.Error, j.ErrorKind = "the provider refused the prompt", "invalid_input"
	}
	select {
	case <-f.done[id]:
	default:
		close(f.done[id])
	}
}

func (f *taskJobs) get(id string) (jobs.Job, chan struct{}, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := jobs.ValidateID(id); err != nil {
		return jobs.Job{}, nil, err
	}
	j, ok := f.jobs[id]
	if !ok {
		return jobs.Job{}, nil, jobs.ErrNotFound
	}
	return *j, f.done[id], nil
}

func (f *taskJobs) StartWith(ctx context.Context, req imagegen.Request, opts jobs.StartOptions) (jobs.Job, bool, error) {
	id := f.add(workflows.StatusPending)
	j, _, err := f.get(id)
	return j, false, err
}

func (f *taskJobs) Get(ctx context.Context, id string) (jobs.Job, error) {
	j, _, err := f.get(id)
	return j, err
}

func (f *taskJobs) Wait(ctx context.Context, id string, timeout time.Duration) (jobs.Job, bool, error) {
	j, done, err := f.get(id)
	if err != nil {
		return jobs.Job{}, false, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f.waiting <- id:
	default:
	}
	select {
	case <-done:
		j, _, err = f.get(id)
		return j, true, err
	case <-t.C:
		return j, false, nil
	case <-ctx.Done():
		return jobs.Job{}, false, ctx.Err()
	}
}

// Watch is Wait; these jobs report no stages.
func (f *taskJobs) Watch(ctx context.Context, id string, timeout time.Duration, _ func(jobs.Progress)) (jobs.Job, bool, error) {
	return f.Wait(ctx, id, timeout)
}

func (f *taskJobs) List(ctx context.Context, opts jobs.ListOptions) ([]jobs.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []jobs.Job
	for i, id := range ids {
		if i >= opts.Offset && len(out) < opts.Limit {
			out = append(out, *f.jobs[id])
		}
	}
	return out, nil
}

func (f *taskJobs) Cancel(ctx context.Context, id string) (jobs.Job, error) {
	j, _, err := f.get(id)
	if err != nil {
		return jobs.Job{}, err
	}
	if j.Status.Terminal() {
		return j, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "already finished"}
	}
	f.mu.Lock()
	f.cancels = append(f.cancels, id)
	f.mu.Unlock()
	f.finish(id, workflows.StatusCanceled)
	return j, nil
}

func (f *taskJobs) Retry(ctx context.Context, id, reason string) (jobs.Job, error) {
	return jobs.Job{}, fmt.Errorf("not used")
}

func (f *taskJobs) Retention(ctx context.Context) (time.Duration, error) { return 72 * time.Hour, nil }

func (f *taskJobs) cancelled() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cancels...)
}

const taskToken = "task-test-token"

func taskServer(t *testing.T, j mcpserver.JobService) *httptest.Server {
	t.Helper()
	return httpServer(t, j, mcpserver.HTTPOptions{AuthToken: taskToken})
}

// modernMeta is the per-request _meta of a 2026-07-28 client; withTasks
// declares the Tasks extension.
func modernMeta(withTasks bool) map[string]any {
	ext := map[string]any{}
	if withTasks {
		ext[mcpserver.TasksExtension] = map[string]any{}
	}
	return map[string]any{
		"io.modelcontextprotocol/protocolVersion":    "2026-07-28",
		"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "raw", "version": "1"},
		"io.modelcontextprotocol/clientCapabilities": map[string]any{"extensions": ext},
	}
}

// rpcCall is one raw JSON-RPC POST to /mcp.
type rpcCall struct {
	method  string
	params  map[string]any
	modern  bool              // 2026-07-28 headers (version, method, name)
	name    string            // Mcp-Name; "" = derived from params, "-" = none
	headers map[string]string // extra or overriding headers ("" value removes)
}

type rpcReply struct {
	status int
	ctype  string
	msgs   []map[string]any // the JSON body, or each SSE message in order
	raw    string
}

func (r rpcReply) last() map[string]any {
	if len(r.msgs) == 0 {
		return nil
	}
	return r.msgs[len(r.msgs)-1]
}

func (r rpcReply) result(t *testing.T) map[string]any {
	t.Helper()
	res, ok := r.last()["result"].(map[string]any)
	if !ok {
		t.Fatalf("no result in %d %s", r.status, r.raw)
	}
	return res
}

func (r rpcReply) errorCode() int {
	e, _ := r.last()["error"].(map[string]any)
	code, _ := e["code"].(float64)
	return int(code)
}

func (c rpcCall) request(t *testing.T, url string, id any) *http.Request {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": c.method, "params": c.params})
	req, err := http.NewRequest(http.MethodPost, url+"/mcp", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+taskToken)
	if c.modern {
		req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		req.Header.Set("Mcp-Method", c.method)
		name := c.name
		if name == "" {
			if v, ok := c.params["taskId"].(string); ok {
				name = v
			} else if v, ok := c.params["name"].(string); ok && c.method == "tools/call" {
				name = v
			}
		}
		if name != "" && name != "-" {
			req.Header.Set("Mcp-Name", name)
		}
	} else {
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	for k, v := range c.headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return req
}

func (c rpcCall) do(t *testing.T, url string) rpcReply {
	t.Helper()
	resp, err := http.DefaultClient.Do(c.request(t, url, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return parseReply(t, resp, b)
}

func parseReply(t *testing.T, resp *http.Response, b []byte) rpcReply {
	t.Helper()
	r := rpcReply{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), raw: string(b)}
	if strings.HasPrefix(r.ctype, "text/event-stream") {
		for _, line := range strings.Split(string(b), "\n") {
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var m map[string]any
				if err := json.Unmarshal([]byte(data), &m); err != nil {
					t.Fatalf("bad SSE data %q: %v", data, err)
				}
				r.msgs = append(r.msgs, m)
			}
		}
		return r
	}
	var m map[string]any
	if json.Unmarshal(b, &m) == nil {
		r.msgs = []map[string]any{m}
	}
	return r
}

func modernCall(method string, withTasks bool, params map[string]any) rpcCall {
	if params == nil {
		params = map[string]any{}
	}
	params["_meta"] = modernMeta(withTasks)
	return rpcCall{method: method, params: params, modern: true}
}

func legacyCall(method string, params map[string]any) rpcCall {
	if params == nil {
		params = map[string]any{}
	}
	return rpcCall{method: method, params: params}
}

func generateCall(withTasks bool) rpcCall {
	return modernCall("tools/call", withTasks, map[string]any{"name": "generate_image_and_wait", "arguments": map[string]any{"prompt": "a fox"}})
}

func TestModernToolCallAnswersWithATaskThatTasksGetResolves(t *testing.T) {
	f := newTaskJobs()
	srv := taskServer(t, f)

	created := generateCall(true).do(t, srv.URL)
	task := created.result(t)
	id, _ := task["taskId"].(string)
	if created.status != 200 || task["resultType"] != "task" || task["status"] != "working" || id == "" {
		t.Fatalf("CreateTaskResult: %d %s", created.status, created.raw)
	}
	for _, field := range []string{"statusMessage", "createdAt", "lastUpdatedAt", "pollIntervalMs"} {
		if task[field] == nil || task[field] == "" {
			t.Errorf("CreateTaskResult lacks %s: %s", field, created.raw)
		}
	}
	if task["ttlMs"] != float64((72 * time.Hour).Milliseconds()) {
		t.Errorf("ttlMs = %v, want the namespace retention", task["ttlMs"])
	}
	if _, ok := task["ttl"]; ok {
		t.Errorf("2026-07-28 task uses the 2025-11-25 field name ttl: %s", created.raw)
	}

	got := modernCall("tasks/get", true, map[string]any{"taskId": id}).do(t, srv.URL).result(t)
	if got["resultType"] != "complete" || got["status"] != "working" || got["statusMessage"] != "pending" || got["result"] != nil {
		t.Fatalf("working task: %v", got)
	}

	f.finish(id, workflows.StatusCompleted)
	done := modernCall("tasks/get", true, map[string]any{"taskId": id}).do(t, srv.URL).result(t)
	if done["status"] != "completed" {
		t.Fatalf("finished task: %v", done)
	}
	// The task's result is the very result the blocking tool returns for
	// the same job (answered by mcp-go's own tools/call path).
	blocking := modernCall("tools/call", false, map[string]any{"name": "wait_for_completion", "arguments": map[string]any{"job_id": id}}).do(t, srv.URL).result(t)
	if !reflect.DeepEqual(done["result"], blocking) {
		t.Fatalf("task result differs from the blocking call's:\ntask:     %v\nblocking: %v", done["result"], blocking)
	}
	if blocking["isError"] == true || !strings.Contains(fmt.Sprint(blocking["content"]), "http://img.test/"+id+".png") {
		t.Fatalf("blocking result: %v", blocking)
	}
}

func TestJobOutcomesAsTaskStatuses(t *testing.T) {
	cases := []struct {
		name       string
		end        workflows.Status
		modern     string // 2026-07-28 status
		legacy     string // 2025-11-25 status
		modernErr  bool   // result.isError
		wantResult bool
	}{
		{"completed job", workflows.StatusCompleted, "completed", "completed", false, true},
		{"failed job is a completed task with isError (2026) and a failed task (2025)", workflows.StatusFailed, "completed", "failed", true, true},
		{"canceled job", workflows.StatusCanceled, "cancelled", "cancelled", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTaskJobs()
			srv := taskServer(t, f)
			id := f.add(workflows.StatusProcessing)
			f.finish(id, tc.end)
			m := modernCall("tasks/get", true, map[string]any{"taskId": id}).do(t, srv.URL).result(t)
			if m["status"] != tc.modern {
				t.Errorf("2026-07-28 status %v, want %s", m["status"], tc.modern)
			}
			res, _ := m["result"].(map[string]any)
			if (res != nil) != tc.wantResult || (res != nil && (res["isError"] == true) != tc.modernErr) {
				t.Errorf("2026-07-28 result %v, want result=%v isError=%v", res, tc.wantResult, tc.modernErr)
			}
			if _, ok := m["error"]; ok {
				t.Errorf("a job outcome must not be a JSON-RPC-level failure: %v", m)
			}
			l := legacyCall("tasks/get", map[string]any{"taskId": id}).do(t, srv.URL).result(t)
			if l["status"] != tc.legacy || l["ttl"] == nil || l["result"] != nil {
				t.Errorf("2025-11-25 task %v, want status %s with ttl and no inline result", l, tc.legacy)
			}
		})
	}
}

func TestTaskProtocolErrors(t *testing.T) {
	f := newTaskJobs()
	srv := taskServer(t, f)
	id := f.add(workflows.StatusProcessing)
	unknown := "00000000-0000-4000-8000-999999999999"
	withName := func(c rpcCall, name string) rpcCall { c.name = name; return c }
	withHeaders := func(c rpcCall, h map[string]string) rpcCall { c.headers = h; return c }
	cases := []struct {
		name   string
		call   rpcCall
		code   int
		status int
	}{
		{"unknown task id", modernCall("tasks/get", true, map[string]any{"taskId": unknown}), -32602, 400},
		{"malformed task id", modernCall("tasks/get", true, map[string]any{"taskId": "../../etc"}), -32602, 400},
		{"missing task id", withName(modernCall("tasks/get", true, nil), "x"), -32020, 400},
		{"cancel of an unknown task", modernCall("tasks/cancel", true, map[string]any{"taskId": unknown}), -32602, 400},
		{"update of an unknown task", modernCall("tasks/update", true, map[string]any{"taskId": unknown, "inputResponses": map[string]any{}}), -32602, 400},
		{"update with inputResponses not an object", modernCall("tasks/update", true, map[string]any{"taskId": id, "inputResponses": []any{1}}), -32602, 400},
		{"tasks/get without the extension", modernCall("tasks/get", false, map[string]any{"taskId": id}), -32021, 400},
		{"tasks/cancel without the extension", modernCall("tasks/cancel", false, map[string]any{"taskId": id}), -32021, 400},
		{"tasks/update without the extension", modernCall("tasks/update", false, map[string]any{"taskId": id, "inputResponses": map[string]any{}}), -32021, 400},
		{"subscriptions/listen for tasks without the extension", modernCall("subscriptions/listen", false, map[string]any{"notifications": map[string]any{"taskIds": []string{id}}}), -32021, 400},
		{"tasks/result is not in the extension", modernCall("tasks/result", true, map[string]any{"taskId": id}), -32601, 404},
		{"tasks/list is not in the extension", modernCall("tasks/list", true, nil), -32601, 404},
		{"Mcp-Name missing", withName(modernCall("tasks/get", true, map[string]any{"taskId": id}), "-"), -32020, 400},
		{"Mcp-Name names another task", withName(modernCall("tasks/get", true, map[string]any{"taskId": id}), unknown), -32020, 400},
		{"Mcp-Method missing", withHeaders(modernCall("tasks/get", true, map[string]any{"taskId": id}), map[string]string{"Mcp-Method": ""}), -32020, 400},
		{"protocol version header disagrees with _meta", withHeaders(modernCall("tasks/get", true, map[string]any{"taskId": id}), map[string]string{"Mcp-Protocol-Version": "2099-01-01"}), -32020, 400},
		{"task id that is not a string", rpcCall{method: "tasks/get", params: map[string]any{"taskId": 5}, modern: true, name: "5"}, -32602, 400},
		{"2025-11-25 task id that is not a string", legacyCall("tasks/result", map[string]any{"taskId": []int{1}}), -32602, 200},
		{"subscription to too many tasks", modernCall("subscriptions/listen", true, map[string]any{"notifications": map[string]any{"taskIds": manyIDs(101)}}), -32602, 400},
		{"unknown tasks/ method", modernCall("tasks/delete", true, map[string]any{"taskId": id}), -32601, 404},
		{"2025-11-25 has no tasks/update", legacyCall("tasks/update", map[string]any{"taskId": id}), -32601, 200},
		{"2025-11-25 cancel of a finished task", legacyCall("tasks/cancel", map[string]any{"taskId": f.add(workflows.StatusCompleted)}), -32602, 200},
		{"2025-11-25 unknown task", legacyCall("tasks/get", map[string]any{"taskId": unknown}), -32602, 200},
		{"2025-11-25 tasks/result of an unknown task", legacyCall("tasks/result", map[string]any{"taskId": unknown}), -32602, 200},
		{"2025-11-25 bad cursor", legacyCall("tasks/list", map[string]any{"cursor": "not-a-cursor"}), -32602, 200},
		{"2025-11-25 task on a tool without task support", legacyCall("tools/call", map[string]any{"name": "list_jobs", "arguments": map[string]any{}, "task": map[string]any{}}), -32601, 200},
		{"2025-11-25 task with bad arguments", legacyCall("tools/call", map[string]any{"name": "generate_image_and_wait", "arguments": map[string]any{}, "task": map[string]any{}}), -32602, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.call.do(t, srv.URL)
			if r.errorCode() != tc.code || r.status != tc.status {
				t.Fatalf("got %d %s, want error %d with HTTP %d", r.status, r.raw, tc.code, tc.status)
			}
			msg, _ := r.last()["error"].(map[string]any)["message"].(string)
			if len(strings.Fields(msg)) < 3 {
				t.Errorf("error message %q does not say what is wrong", msg)
			}
		})
	}
	if got := f.cancelled(); len(got) != 0 {
		t.Errorf("refused requests canceled jobs %v", got)
	}
	if r := modernCall("tasks/get", false, map[string]any{"taskId": id}).do(t, srv.URL); r.last()["error"].(map[string]any)["data"] == nil {
		t.Errorf("-32021 must name the missing capability: %s", r.raw)
	}
}

func manyIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", 500000+i)
	}
	return ids
}

func TestClientWithoutTheExtensionNeverGetsATask(t *testing.T) {
	f := newTaskJobs()
	srv := taskServer(t, f)
	id := f.add(workflows.StatusCompleted)
	for name, c := range map[string]rpcCall{
		"2026-07-28 without the extension": modernCall("tools/call", false, map[string]any{"name": "wait_for_completion", "arguments": map[string]any{"job_id": id}}),
		"2025-11-25 without params.task":   legacyCall("tools/call", map[string]any{"name": "wait_for_completion", "arguments": map[string]any{"job_id": id}}),
	} {
		t.Run(name, func(t *testing.T) {
			res := c.do(t, srv.URL).result(t)
			if res["resultType"] == "task" || res["task"] != nil || res["taskId"] != nil || res["content"] == nil {
				t.Fatalf("got a task instead of the tool result: %v", res)
			}
		})
	}
	// With the extension, bad arguments are still the tool's own error
	// result, and no job is started.
	bad := modernCall("tools/call", true, map[string]any{"name": "generate_image_and_wait", "arguments": map[string]any{"prompt": 7}}).do(t, srv.URL).result(t)
	if bad["isError"] != true || bad["resultType"] != "complete" || bad["taskId"] != nil {
		t.Fatalf("bad arguments: %v", bad)
	}
	if f.n != 1 {
		t.Fatalf("bad arguments started a job (%d jobs)", f.n)
	}
}

func TestTaskCapabilitiesPerProtocolGeneration(t *testing.T) {
	srv := taskServer(t, newTaskJobs())
	disc := modernCall("server/discover", false, nil).do(t, srv.URL).result(t)
	caps, _ := disc["capabilities"].(map[string]any)
	ext, _ := caps["extensions"].(map[string]any)
	if _, ok := ext[mcpserver.TasksExtension]; !ok || caps["tasks"] != nil {
		t.Fatalf("server/discover capabilities %v: want extensions[%s] and no legacy tasks", caps, mcpserver.TasksExtension)
	}
	if caps["tools"] == nil {
		t.Fatalf("server/discover lost mcp-go's own capabilities: %v", caps)
	}
	init := legacyCall("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "raw", "version": "1"}}).do(t, srv.URL).result(t)
	want := map[string]any{"list": map[string]any{}, "cancel": map[string]any{}, "requests": map[string]any{"tools": map[string]any{"call": map[string]any{}}}}
	if got := init["capabilities"].(map[string]any)["tasks"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("initialize capabilities.tasks = %v, want %v", got, want)
	}
	list := legacyCall("tools/list", nil).do(t, srv.URL).result(t)
	support := map[string]any{}
	for _, tool := range list["tools"].([]any) {
		m := tool.(map[string]any)
		if e, ok := m["execution"].(map[string]any); ok {
			support[m["name"].(string)] = e["taskSupport"]
		}
	}
	if want := map[string]any{"generate_image_and_wait": "optional", "wait_for_completion": "optional"}; !reflect.DeepEqual(support, want) {
		t.Fatalf("execution.taskSupport = %v, want %v", support, want)
	}
}

func TestTaskCallsNeedTheBearerTokenAndAnAllowedOrigin(t *testing.T) {
	f := newTaskJobs()
	srv := taskServer(t, f)
	id := f.add(workflows.StatusProcessing)
	for name, c := range map[string]rpcCall{
		"tasks/get":             modernCall("tasks/get", true, map[string]any{"taskId": id}),
		"tasks/cancel":          modernCall("tasks/cancel", true, map[string]any{"taskId": id}),
		"subscriptions/listen":  modernCall("subscriptions/listen", true, map[string]any{"notifications": map[string]any{"taskIds": []string{id}}}),
		"task tools/call":       generateCall(true),
		"2025-11-25 tasks/list": legacyCall("tasks/list", nil),
	} {
		t.Run(name+" without token", func(t *testing.T) {
			c.headers = map[string]string{"Authorization": ""}
			if r := c.do(t, srv.URL); r.status != http.StatusUnauthorized {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
		})
		t.Run(name+" with a wrong token", func(t *testing.T) {
			c.headers = map[string]string{"Authorization": "Bearer nope"}
			if r := c.do(t, srv.URL); r.status != http.StatusUnauthorized {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
		})
		t.Run(name+" from a foreign origin", func(t *testing.T) {
			c.headers = map[string]string{"Origin": "https://evil.example"}
			if r := c.do(t, srv.URL); r.status != http.StatusForbidden {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
		})
	}
	if got := f.cancelled(); len(got) != 0 || f.n != 1 {
		t.Fatalf("unauthenticated calls changed jobs: canceled %v, %d jobs", got, f.n)
	}
}

func TestTaskCancel(t *testing.T) {
	f := newTaskJobs()
	srv := taskServer(t, f)
	id := f.add(workflows.StatusProcessing)
	ack := modernCall("tasks/cancel", true, map[string]any{"taskId": id}).do(t, srv.URL).result(t)
	if !reflect.DeepEqual(ack, map[string]any{"resultType": "complete"}) {
		t.Fatalf("cancel ack %v", ack)
	}
	if got := modernCall("tasks/get", true, map[string]any{"taskId": id}).do(t, srv.URL).result(t); got["status"] != "cancelled" {
		t.Fatalf("after cancel: %v", got)
	}
	// Cancelling a finished task is acknowledged (cancellation is
	// cooperative) and changes nothing.
	done := f.add(workflows.StatusCompleted)
	if ack := modernCall("tasks/cancel", true, map[string]any{"taskId": done}).do(t, srv.URL).result(t); ack["resultType"] != "complete" {
		t.Fatalf("cancel of a finished task: %v", ack)
	}
	legacy := f.add(workflows.StatusProcessing)
	task := legacyCall("tasks/cancel", map[string]any{"taskId": legacy}).do(t, srv.URL).result(t)
	if task["taskId"] != legacy || task["status"] != "cancelled" {
		t.Fatalf("2025-11-25 cancel answers the cancelled task: %v", task)
	}
	if got := f.cancelled(); !reflect.DeepEqual(got, []string{id, legacy}) {
		t.Fatalf("canceled %v, want %v", got, []string{id, legacy})
	}
	upd := modernCall("tasks/update", true, map[string]any{"taskId": done, "inputResponses": map[string]any{"x": map[string]any{"action": "accept"}}}).do(t, srv.URL).result(t)
	if !reflect.DeepEqual(upd, map[string]any{"resultType": "complete"}) {
		t.Fatalf("tasks/update ack %v", upd)
	}
}

// sseStream reads a server-sent event stream message by message.
type sseStream struct {
	t    *testing.T
	body io.ReadCloser
	sc   *bufio.Scanner
}

func openStream(t *testing.T, url string, c rpcCall, id any) *sseStream {
	t.Helper()
	resp, err := http.DefaultClient.Do(c.request(t, url, id))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("not a stream: %d %s", resp.StatusCode, b)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sseStream{t: t, body: resp.Body, sc: bufio.NewScanner(resp.Body)}
}

func (s *sseStream) next() map[string]any {
	s.t.Helper()
	for s.sc.Scan() {
		if data, ok := strings.CutPrefix(s.sc.Text(), "data: "); ok {
			var m map[string]any
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				s.t.Fatal(err)
			}
			return m
		}
	}
	s.t.Fatalf("stream ended: %v", s.sc.Err())
	return nil
}

func TestSubscriptionPushesTheFinishedTask(t *testing.T) {
	f := newTaskJobs()
	srv := taskServer(t, f)
	a, b := f.add(workflows.StatusProcessing), f.add(workflows.StatusPending)
	unknown := "00000000-0000-4000-8000-999999999999"
	listen := modernCall("subscriptions/listen", true, map[string]any{"notifications": map[string]any{"taskIds": []string{a, unknown, b}}})
	s := openStream(t, srv.URL, listen, "listen:1")

	ack := s.next()
	params, _ := ack["params"].(map[string]any)
	if ack["method"] != "notifications/subscriptions/acknowledged" ||
		!reflect.DeepEqual(params["notifications"], map[string]any{"taskIds": []any{a, b}}) ||
		params["_meta"].(map[string]any)["io.modelcontextprotocol/subscriptionId"] != "listen:1" {
		t.Fatalf("ack %v: want the two known task ids, tagged with the subscription id", ack)
	}
	// Nothing is pushed before a job finishes; each push follows its job's end.
	f.finish(b, workflows.StatusFailed)
	first := s.next()
	task, _ := first["params"].(map[string]any)
	if first["method"] != "notifications/tasks" || task["taskId"] != b || task["status"] != "completed" {
		t.Fatalf("first push %v: want task %s completed", first, b)
	}
	want := modernCall("tasks/get", true, map[string]any{"taskId": b}).do(t, srv.URL).result(t)
	delete(want, "resultType")
	delete(task, "_meta")
	if !reflect.DeepEqual(task, want) {
		t.Fatalf("pushed task differs from tasks/get:\npush: %v\nget:  %v", task, want)
	}
	f.finish(a, workflows.StatusCompleted)
	if second := s.next(); second["params"].(map[string]any)["taskId"] != a {
		t.Fatalf("second push %v", second)
	}
	end := s.next()
	if end["id"] != "listen:1" || end["result"].(map[string]any)["resultType"] != "complete" {
		t.Fatalf("graceful end %v", end)
	}
}

func TestLegacyTaskLifecycle(t *testing.T) {
	f := newTaskJobs()
	srv := taskServer(t, f)
	created := legacyCall("tools/call", map[string]any{"name": "generate_image_and_wait", "arguments": map[string]any{"prompt": "a fox"}, "task": map[string]any{"ttl": 60000}}).do(t, srv.URL).result(t)
	task, _ := created["task"].(map[string]any)
	id, _ := task["taskId"].(string)
	if id == "" || task["status"] != "working" || task["ttl"] != float64((72*time.Hour).Milliseconds()) || task["pollInterval"] == nil {
		t.Fatalf("CreateTaskResult %v", created)
	}
	s := openStream(t, srv.URL, legacyCall("tasks/result", map[string]any{"taskId": id}), 9)
	f.finish(id, workflows.StatusCompleted)
	status := s.next()
	if status["method"] != "notifications/tasks/status" || status["params"].(map[string]any)["status"] != "completed" {
		t.Fatalf("status notification %v", status)
	}
	final := s.next()
	res, _ := final["result"].(map[string]any)
	if final["id"] != float64(9) || res["_meta"].(map[string]any)["io.modelcontextprotocol/related-task"].(map[string]any)["taskId"] != id {
		t.Fatalf("tasks/result %v", final)
	}
	blocking := legacyCall("tools/call", map[string]any{"name": "wait_for_completion", "arguments": map[string]any{"job_id": id}}).do(t, srv.URL).result(t)
	delete(res, "_meta")
	if !reflect.DeepEqual(res, blocking) {
		t.Fatalf("tasks/result differs from the blocking call:\n%v\n%v", res, blocking)
	}
	// A finished task's result is answered at once, as plain JSON.
	again := legacyCall("tasks/result", map[string]any{"taskId": id}).do(t, srv.URL)
	if !strings.HasPrefix(again.ctype, "application/json") || again.result(t)["content"] == nil {
		t.Fatalf("tasks/result of a finished task: %s %s", again.ctype, again.raw)
	}
}

func TestLegacyTasksListPages(t *testing.T) {
	f := newTaskJobs()
	srv := taskServer(t, f)
	for range 60 {
		f.add(workflows.StatusCompleted)
	}
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		res := legacyCall("tasks/list", params).do(t, srv.URL).result(t)
		for _, task := range res["tasks"].([]any) {
			seen[task.(map[string]any)["taskId"].(string)] = true
		}
		next, _ := res["nextCursor"].(string)
		if next == "" {
			break
		}
		if page > 5 {
			t.Fatal("tasks/list does not end")
		}
		cursor = next
	}
	if len(seen) != 60 {
		t.Fatalf("tasks/list pages listed %d of 60 tasks", len(seen))
	}
}

func TestReplicasGiveTheSameAnswers(t *testing.T) {
	f := newTaskJobs()
	one, two := taskServer(t, f), taskServer(t, f)
	id := generateCall(true).do(t, one.URL).result(t)["taskId"].(string)
	f.finish(id, workflows.StatusCompleted)
	a := modernCall("tasks/get", true, map[string]any{"taskId": id}).do(t, one.URL).result(t)
	b := modernCall("tasks/get", true, map[string]any{"taskId": id}).do(t, two.URL).result(t)
	if !reflect.DeepEqual(a, b) || a["status"] != "completed" {
		t.Fatalf("replicas disagree:\n%v\n%v", a, b)
	}
}
