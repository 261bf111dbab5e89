package mcpserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/imagegen/imagegen/mcpserver"
	"github.com/imagegen/imagegen/workflows"
)

// stdioPeer is a client on the two pipes of ServeStdio.
type stdioPeer struct {
	t   *testing.T
	in  *io.PipeWriter
	out *bufio.Scanner
	n   int
}

func startStdio(t *testing.T, j mcpserver.JobService) *stdioPeer {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		mcpserver.New(mcpserver.Options{Jobs: j, Version: "test"}).ServeStdio(ctx, inR, outW)
		outW.Close()
	}()
	t.Cleanup(func() { inW.Close(); cancel(); <-done })
	sc := bufio.NewScanner(outR)
	sc.Buffer(nil, 16<<20)
	return &stdioPeer{t: t, in: inW, out: sc}
}

// send writes one request and returns its id.
func (p *stdioPeer) send(method string, params map[string]any) int {
	p.t.Helper()
	p.n++
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": p.n, "method": method, "params": params})
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		p.t.Fatal(err)
	}
	return p.n
}

// next reads the next message.
func (p *stdioPeer) next() map[string]any {
	p.t.Helper()
	if !p.out.Scan() {
		p.t.Fatalf("stdio output ended: %v", p.out.Err())
	}
	var m map[string]any
	if err := json.Unmarshal(p.out.Bytes(), &m); err != nil {
		p.t.Fatalf("not a JSON line %q: %v", p.out.Text(), err)
	}
	return m
}

func (p *stdioPeer) call(method string, params map[string]any) map[string]any {
	p.t.Helper()
	id := p.send(method, params)
	for {
		if m := p.next(); m["id"] == float64(id) {
			return m
		}
	}
}

func TestTasksOverStdio(t *testing.T) {
	f := newTaskJobs()
	p := startStdio(t, f)
	init := p.call("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "stdio", "version": "1"}})
	if init["result"].(map[string]any)["capabilities"].(map[string]any)["tasks"] == nil {
		t.Fatalf("initialize over stdio lacks capabilities.tasks: %v", init)
	}
	p.in.Write([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"))
	list := p.call("tools/list", map[string]any{})
	support := 0
	for _, tool := range list["result"].(map[string]any)["tools"].([]any) {
		if e, ok := tool.(map[string]any)["execution"].(map[string]any); ok && e["taskSupport"] == "optional" {
			support++
		}
	}
	if support != 2 {
		t.Fatalf("%d tools with taskSupport over stdio, want 2", support)
	}

	created := p.call("tools/call", map[string]any{"name": "generate_image_and_wait", "arguments": map[string]any{"prompt": "a fox"}, "task": map[string]any{}})
	task, _ := created["result"].(map[string]any)["task"].(map[string]any)
	id, _ := task["taskId"].(string)
	if id == "" || task["status"] != "working" {
		t.Fatalf("task over stdio: %v", created)
	}
	rid := p.send("tasks/result", map[string]any{"taskId": id})
	// An ordinary call is answered while tasks/result waits.
	if got := p.call("tasks/get", map[string]any{"taskId": id}); got["result"].(map[string]any)["status"] != "working" {
		t.Fatalf("tasks/get over stdio: %v", got)
	}
	f.blocked(t, id) // tasks/result is waiting on the job
	f.finish(id, workflows.StatusCompleted)
	status := p.next()
	if status["method"] != "notifications/tasks/status" || status["params"].(map[string]any)["status"] != "completed" {
		t.Fatalf("status notification over stdio: %v", status)
	}
	res := p.next()
	if res["id"] != float64(rid) || res["result"].(map[string]any)["content"] == nil {
		t.Fatalf("tasks/result over stdio: %v", res)
	}

	modern := func(withTasks bool, params map[string]any) map[string]any {
		params["_meta"] = modernMeta(withTasks)
		return params
	}
	got := p.call("tasks/get", modern(true, map[string]any{"taskId": id}))
	if r := got["result"].(map[string]any); r["status"] != "completed" || r["result"] == nil {
		t.Fatalf("2026-07-28 tasks/get over stdio: %v", got)
	}
	if e := p.call("tasks/get", modern(false, map[string]any{"taskId": id}))["error"]; e == nil || e.(map[string]any)["code"] != float64(-32021) {
		t.Fatalf("tasks/get without the extension over stdio: %v", e)
	}
	if e := p.call("tasks/get", map[string]any{"taskId": "nope"})["error"]; e == nil || e.(map[string]any)["code"] != float64(-32602) {
		t.Fatalf("unknown task over stdio: %v", e)
	}
	plain := p.call("tools/call", map[string]any{"name": "get_job_status", "arguments": map[string]any{"job_id": id}})
	if r, _ := plain["result"].(map[string]any); r == nil || r["isError"] == true {
		t.Fatalf("ordinary tool call over stdio: %v", plain)
	}
}
