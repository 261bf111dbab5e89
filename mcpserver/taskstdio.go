package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
)

// stdioTasks is the MCP Tasks dispatch for the stdio transport: the same
// methods as TaskDispatch takes off HTTP, read from the input lines before
// mcp-go's stdio server sees them. Answers are written as lines on the
// shared output; initialize, tools/list and server/discover answers of
// mcp-go are patched on their way out. Streamable HTTP's header rules
// (Mcp-Method, Mcp-Name) do not apply to stdio.
type stdioTasks struct {
	s   *Server
	d   *taskDispatch // for the patches it shares with HTTP
	out *stdioOut
	wg  sync.WaitGroup
}

// filter copies in to the returned reader, minus the lines it answers itself.
func (t *stdioTasks) filter(ctx context.Context, in io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		r := bufio.NewReaderSize(in, 64<<10)
		for {
			line, err := r.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 && !t.take(ctx, line) {
				if !bytes.HasSuffix(line, []byte("\n")) {
					line = append(line, '\n')
				}
				if _, werr := pw.Write(line); werr != nil {
					return
				}
			}
			if err != nil {
				pw.Close()
				return
			}
		}
	}()
	return pr
}

// take answers a line if it is one of the task methods, or registers the
// patch of mcp-go's answer; it reports whether the line was answered here.
func (t *stdioTasks) take(ctx context.Context, line []byte) bool {
	var env rpcEnvelope
	if trimmed := bytes.TrimSpace(line); trimmed[0] != '{' || json.Unmarshal(trimmed, &env) != nil || env.JSONRPC != "2.0" || env.Method == "" {
		return false
	}
	var p taskParams
	if len(env.Params) > 0 && json.Unmarshal(env.Params, &p) != nil {
		if strings.HasPrefix(env.Method, "tasks/") {
			t.out.send(rpcErrorMessage(env.ID, &rpcError{Code: mcp.INVALID_PARAMS, Message: "invalid " + env.Method + " params: taskId must be a string"}))
			return true
		}
		return false
	}
	id := ""
	if p.TaskID != nil {
		id = *p.TaskID
	}
	modern := mcp.IsModernProtocol(p.Meta.ProtocolVersion)
	answer := func(fn func(ctx context.Context) (any, error)) bool {
		t.wg.Go(func() {
			res, err := fn(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				t.out.send(rpcErrorMessage(env.ID, asRPCError(err)))
				return
			}
			t.out.send(map[string]any{"jsonrpc": "2.0", "id": rpcID(env.ID), "result": res})
		})
		return true
	}
	switch {
	case modern && env.Method == "server/discover":
		t.out.patch(env.ID, patchDiscover)
	case !modern && env.Method == "initialize":
		t.out.patch(env.ID, patchInitialize)
	case !modern && env.Method == "tools/list":
		t.out.patch(env.ID, t.d.patchToolsList)
	case env.Method == "tools/call":
		if _, ok := t.s.taskTool(p.Name); !ok {
			if !modern && len(p.Task) > 0 && string(p.Task) != "null" {
				t.out.send(rpcErrorMessage(env.ID, &rpcError{Code: mcp.METHOD_NOT_FOUND, Message: "tool " + p.Name + " does not support task execution: call it without params.task"}))
				return true
			}
			return false
		}
		if (modern && !p.declaresTasks()) || (!modern && (len(p.Task) == 0 || string(p.Task) == "null")) {
			return false
		}
		return answer(func(ctx context.Context) (any, error) {
			req, err := callRequest(env.Params)
			if err != nil {
				return nil, &rpcError{Code: mcp.INVALID_PARAMS, Message: "invalid tools/call params: " + err.Error()}
			}
			gen := genLegacy
			if modern {
				gen = genModern
			}
			out, err := t.s.createTask(ctx, gen, p.Name, req)
			switch {
			case err != nil:
				return nil, err
			case out.task == nil && modern:
				return t.s.modernResult(out.result), nil
			case out.task == nil:
				return nil, &rpcError{Code: mcp.INVALID_PARAMS, Message: toolResultText(out.result)}
			case modern:
				out.task["resultType"] = "task"
				return out.task, nil
			}
			return map[string]any{"task": out.task}, nil
		})
	case modern && (env.Method == "tasks/get" || env.Method == "tasks/update" || env.Method == "tasks/cancel"):
		if !p.declaresTasks() {
			t.out.send(rpcErrorMessage(env.ID, missingTasksCapability()))
			return true
		}
		return answer(func(ctx context.Context) (any, error) {
			switch env.Method {
			case "tasks/get":
				return t.s.getTask(ctx, genModern, id)
			case "tasks/cancel":
				return t.s.cancelTask(ctx, genModern, id)
			}
			return t.s.updateTask(ctx, id)
		})
	case modern && env.Method == "subscriptions/listen" && p.Notifies != nil && p.Notifies.TaskIDs != nil:
		switch {
		case !p.declaresTasks():
			t.out.send(rpcErrorMessage(env.ID, missingTasksCapability()))
		case len(p.Notifies.TaskIDs) > maxListenTasks:
			t.out.send(rpcErrorMessage(env.ID, &rpcError{Code: mcp.INVALID_PARAMS, Message: "subscriptions/listen takes at most 100 taskIds"}))
		default:
			t.wg.Go(func() { t.listen(ctx, env, p.Notifies.TaskIDs) })
		}
		return true
	case !modern && env.Method == "tasks/get":
		return answer(func(ctx context.Context) (any, error) { return t.s.getTask(ctx, genLegacy, id) })
	case !modern && env.Method == "tasks/cancel":
		return answer(func(ctx context.Context) (any, error) { return t.s.cancelTask(ctx, genLegacy, id) })
	case !modern && env.Method == "tasks/list":
		cursor := ""
		if p.Cursor != nil {
			cursor = *p.Cursor
		}
		return answer(func(ctx context.Context) (any, error) { return t.s.listTasks(ctx, cursor) })
	case !modern && env.Method == "tasks/result":
		return answer(func(ctx context.Context) (any, error) {
			job, err := t.s.lookupTask(ctx, id)
			if err != nil {
				return nil, err
			}
			return t.s.taskPayload(ctx, id, job, func(task map[string]any) {
				t.out.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": task})
			})
		})
	case strings.HasPrefix(env.Method, "tasks/"):
		t.out.send(rpcErrorMessage(env.ID, &rpcError{Code: mcp.METHOD_NOT_FOUND, Message: "Method not found: " + env.Method}))
		return true
	}
	return false
}

// listen is subscriptions/listen for tasks on stdio: the same messages as
// on HTTP, as lines.
func (t *stdioTasks) listen(ctx context.Context, env rpcEnvelope, ids []string) {
	var subID any
	json.Unmarshal(env.ID, &subID)
	meta := map[string]any{mcp.MetaKeySubscriptionID: subID}
	accepted := t.s.acceptTaskIDs(ctx, ids)
	t.out.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged", "params": map[string]any{
		"_meta": meta, "notifications": map[string]any{"taskIds": accepted},
	}})
	t.s.pushTasks(ctx, accepted, func(task map[string]any) {
		task["_meta"] = meta
		t.out.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/tasks", "params": task})
	})
	if ctx.Err() == nil {
		t.out.send(map[string]any{"jsonrpc": "2.0", "id": rpcID(env.ID), "result": map[string]any{"resultType": "complete", "_meta": meta}})
	}
}

func rpcErrorMessage(id json.RawMessage, e *rpcError) map[string]any {
	return map[string]any{"jsonrpc": "2.0", "id": rpcID(id), "error": e}
}

// stdioOut is the shared output: whole lines, one writer at a time, with
// the results of chosen requests patched.
type stdioOut struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	patches map[string]func(map[string]any)
}

func (o *stdioOut) patch(id json.RawMessage, fn func(map[string]any)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.patches[string(bytes.TrimSpace(id))] = fn
}

// Write takes mcp-go's output, which may arrive in pieces, and writes it on
// line by line.
func (o *stdioOut) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, b...)
	for {
		i := bytes.IndexByte(o.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := o.buf[:i]
		if len(o.patches) > 0 {
			var m struct {
				ID json.RawMessage `json:"id"`
			}
			if json.Unmarshal(line, &m) == nil {
				key := string(bytes.TrimSpace(m.ID))
				if fn, ok := o.patches[key]; ok && key != "" {
					delete(o.patches, key)
					line = bytes.TrimRight(patchMessage(line, m.ID, fn), "\n")
				}
			}
		}
		if _, err := o.w.Write(append(append([]byte(nil), line...), '\n')); err != nil {
			return len(b), err
		}
		o.buf = o.buf[i+1:]
	}
}

func (o *stdioOut) send(msg any) {
	b, err := json.Marshal(msg)
	if err != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.w.Write(append(b, '\n'))
}
