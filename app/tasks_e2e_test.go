package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/mcpserver"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// taskRPC posts one 2026-07-28 JSON-RPC request that declares the Tasks
// extension (or not) and returns the response; streams are returned open.
func taskRPC(t *testing.T, url, method, name string, withTasks bool, params map[string]any) *http.Response {
	t.Helper()
	ext := map[string]any{}
	if withTasks {
		ext[mcpserver.TasksExtension] = map[string]any{}
	}
	params["_meta"] = map[string]any{
		"io.modelcontextprotocol/protocolVersion":    "2026-07-28",
		"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "e2e", "version": "1"},
		"io.modelcontextprotocol/clientCapabilities": map[string]any{"extensions": ext},
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "e2e", "method": method, "params": params})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", method)
	if name != "" {
		req.Header.Set("Mcp-Name", name)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func taskResult(t *testing.T, url, method, name string, withTasks bool, params map[string]any) map[string]any {
	t.Helper()
	resp := taskRPC(t, url, method, name, withTasks, params)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var msg struct {
		Result map[string]any `json:"result"`
	}
	if err := json.Unmarshal(b, &msg); err != nil || msg.Result == nil {
		t.Fatalf("%s: %d %s", method, resp.StatusCode, b)
	}
	return msg.Result
}

// TestTasksOnTheRealStack runs the 2026-07-28 task life cycle on the dev
// stack (embedded Temporal, worker, jobs.Client): create, tasks/get while
// working, the push on subscriptions/listen, the completed task's result,
// and a second server on the same Temporal giving the same answers.
func TestTasksOnTheRealStack(t *testing.T) {
	s := sharedDev(t)
	s.fake.SetDelay(1500 * time.Millisecond) // long enough to be seen working
	t.Cleanup(func() { s.fake.SetDelay(0) })
	url := s.app.MCPURL

	created := taskResult(t, url, "tools/call", "generate_image_and_wait", true, map[string]any{
		"name": "generate_image_and_wait", "arguments": map[string]any{"prompt": "a task on the real stack"},
	})
	id, _ := created["taskId"].(string)
	if created["resultType"] != "task" || id == "" || created["ttlMs"] == nil {
		t.Fatalf("CreateTaskResult %v", created)
	}
	// Durable before the answer: tasks/get resolves at once.
	if got := taskResult(t, url, "tasks/get", id, true, map[string]any{"taskId": id}); got["status"] != "working" {
		t.Fatalf("tasks/get right after creation: %v", got)
	}

	resp := taskRPC(t, url, "subscriptions/listen", "", true, map[string]any{"notifications": map[string]any{"taskIds": []string{id}}})
	defer resp.Body.Close()
	var pushed map[string]any
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() && pushed == nil {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		var msg map[string]any
		if ok && json.Unmarshal([]byte(data), &msg) == nil && msg["method"] == "notifications/tasks" {
			pushed = msg["params"].(map[string]any)
		}
	}
	if pushed == nil || pushed["status"] != "completed" || pushed["taskId"] != id {
		t.Fatalf("push %v (stream: %v)", pushed, sc.Err())
	}

	got := taskResult(t, url, "tasks/get", id, true, map[string]any{"taskId": id})
	delete(pushed, "_meta")
	delete(got, "resultType")
	if !reflect.DeepEqual(pushed, got) {
		t.Fatalf("pushed task differs from tasks/get:\n%v\n%v", pushed, got)
	}
	blocking := taskResult(t, url, "tools/call", "wait_for_completion", false, map[string]any{
		"name": "wait_for_completion", "arguments": map[string]any{"job_id": id},
	})
	if !reflect.DeepEqual(got["result"], blocking) {
		t.Fatalf("task result differs from the blocking call's:\n%v\n%v", got["result"], blocking)
	}

	// A second server with its own job client on the same Temporal: no state
	// is shared but Temporal's.
	replica := mcpserver.New(mcpserver.Options{Jobs: jobs.New(s.app.Temporal(), jobs.Options{}), Version: "replica"})
	h := replica.NewHTTP(mcpserver.HTTPOptions{AuthToken: testToken})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	other := taskResult(t, srv.URL+"/mcp", "tasks/get", id, true, map[string]any{"taskId": id})
	for _, k := range []string{"taskId", "status", "createdAt", "lastUpdatedAt", "ttlMs", "pollIntervalMs", "statusMessage"} {
		if !reflect.DeepEqual(other[k], got[k]) {
			t.Errorf("replica says %s = %v, the first server %v", k, other[k], got[k])
		}
	}
	if a, b := other["result"].(map[string]any)["structuredContent"], got["result"].(map[string]any)["structuredContent"]; !reflect.DeepEqual(a, b) {
		t.Errorf("replica's result differs:\n%v\n%v", a, b)
	}
}

// TestFailedJobIsACompletedTaskWithAnErrorResult: the tool call worked, the
// job did not, so (2026-07-28) the task completes with isError.
func TestFailedJobIsACompletedTaskWithAnErrorResult(t *testing.T) {
	s := sharedDev(t)
	const prompt = "a task whose provider refuses it"
	s.fake.SetPromptFailFunc(func(model, p string, call int) *workersaitest.Failure {
		if p == prompt {
			return &workersaitest.Failure{Status: 400, Code: 5006, Message: "AiError: Bad input: must NOT have additional properties"}
		}
		return nil
	})
	t.Cleanup(func() { s.fake.SetPromptFailFunc(nil) })
	url := s.app.MCPURL
	created := taskResult(t, url, "tools/call", "generate_image_and_wait", true, map[string]any{
		"name": "generate_image_and_wait", "arguments": map[string]any{"prompt": prompt},
	})
	id, _ := created["taskId"].(string)
	resp := taskRPC(t, url, "subscriptions/listen", "", true, map[string]any{"notifications": map[string]any{"taskIds": []string{id}}})
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // the stream ends after the one task is pushed
	var task map[string]any
	for _, line := range strings.Split(string(b), "\n") {
		var msg map[string]any
		if data, ok := strings.CutPrefix(line, "data: "); ok && json.Unmarshal([]byte(data), &msg) == nil && msg["method"] == "notifications/tasks" {
			task = msg["params"].(map[string]any)
		}
	}
	res, _ := task["result"].(map[string]any)
	if task["status"] != "completed" || res["isError"] != true || !strings.Contains(task["statusMessage"].(string), "failed") {
		t.Fatalf("failed job as a task: %v", task)
	}
}
