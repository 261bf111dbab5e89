package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// TaskDispatch is the MCP Tasks dispatch layer in front of mcp-go's
// Streamable HTTP handler. mcp-go lets a server register neither custom
// JSON-RPC methods nor task results of its own (and its built-in task code
// keeps tasks in memory, so it must not run), so this layer takes the task
// methods off the wire before mcp-go sees them:
//
//   - 2026-07-28 (Tasks extension): tasks/get, tasks/update, tasks/cancel,
//     subscriptions/listen with notifications.taskIds, tools/call of the two
//     blocking tools from a client that declared the extension, and the
//     extension in server/discover; tasks/result and tasks/list are -32601.
//   - 2025-11-25: tools/call with params.task, tasks/get, tasks/result,
//     tasks/list, tasks/cancel, capabilities.tasks in initialize and
//     execution.taskSupport in tools/list.
//
// Everything else passes through to next untouched. Wrap it inside the
// bearer and origin checks: it adds no protection of its own.
func (s *Server) TaskDispatch(next http.Handler) http.Handler {
	return &taskDispatch{s: s, next: next}
}

type taskDispatch struct {
	s    *Server
	next http.Handler
}

// rpcEnvelope is the part of a JSON-RPC request the dispatch reads.
type rpcEnvelope struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// requestMeta is the per-request _meta of the 2026-07-28 core.
type requestMeta struct {
	ProtocolVersion    string `json:"io.modelcontextprotocol/protocolVersion"`
	ClientCapabilities *struct {
		Extensions map[string]json.RawMessage `json:"extensions"`
	} `json:"io.modelcontextprotocol/clientCapabilities"`
}

type taskParams struct {
	Meta     requestMeta     `json:"_meta"`
	TaskID   *string         `json:"taskId"`
	Name     string          `json:"name"`
	Task     json.RawMessage `json:"task"`
	Cursor   *string         `json:"cursor"`
	Inputs   json.RawMessage `json:"inputResponses"`
	Notifies *struct {
		TaskIDs []string `json:"taskIds"`
	} `json:"notifications"`
}

// declaresTasks reports whether the request's client capabilities declare
// the Tasks extension (with the empty settings object it defines).
func (p taskParams) declaresTasks() bool {
	if p.Meta.ClientCapabilities == nil {
		return false
	}
	raw, ok := p.Meta.ClientCapabilities.Extensions[TasksExtension]
	if !ok {
		return false
	}
	var settings map[string]any
	return json.Unmarshal(raw, &settings) == nil && settings != nil
}

func (d *taskDispatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		d.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			// As mcp-go answers an unreadable body: a JSON-RPC parse error,
			// so a client sees the same error whichever layer read first.
			writeJSON(w, http.StatusBadRequest, map[string]any{"jsonrpc": "2.0", "id": nil,
				"error": &rpcError{Code: mcp.PARSE_ERROR, Message: fmt.Sprintf("request body too large: the limit is %d bytes", tooBig.Limit)}})
			return
		}
		writeHTTPError(w, http.StatusBadRequest, "cannot read request body")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var env rpcEnvelope
	if trimmed := bytes.TrimSpace(body); len(trimmed) == 0 || trimmed[0] != '{' ||
		json.Unmarshal(body, &env) != nil || env.JSONRPC != "2.0" || env.Method == "" {
		d.next.ServeHTTP(w, r) // batches, responses, malformed bodies: mcp-go's to answer
		return
	}
	var p taskParams
	if len(env.Params) > 0 && json.Unmarshal(env.Params, &p) != nil {
		if strings.HasPrefix(env.Method, "tasks/") {
			// Never mcp-go's: its own task code must not answer.
			modern := mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion))
			writeRPCError(w, modern, env.ID, &rpcError{Code: mcp.INVALID_PARAMS, Message: "invalid " + env.Method + " params: taskId must be a string"})
			return
		}
		d.next.ServeHTTP(w, r)
		return
	}
	modern := mcp.IsModernProtocol(p.Meta.ProtocolVersion) || mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion))
	if modern {
		d.serveModern(w, r, env, p)
	} else {
		d.serveLegacy(w, r, env, p)
	}
}

func (d *taskDispatch) serveModern(w http.ResponseWriter, r *http.Request, env rpcEnvelope, p taskParams) {
	ctx := r.Context()
	switch env.Method {
	case "server/discover":
		d.passPatched(w, r, env.ID, patchDiscover)
		return
	case "tools/call":
		if _, ok := d.s.taskTool(p.Name); !ok || !p.declaresTasks() {
			break
		}
		if e := checkModernRequest(r, env, p); e != nil {
			writeRPCError(w, true, env.ID, e)
			return
		}
		req, err := callRequest(env.Params)
		if err != nil {
			writeRPCError(w, true, env.ID, &rpcError{Code: mcp.INVALID_PARAMS, Message: "invalid tools/call params: " + err.Error()})
			return
		}
		out, err := d.s.createTask(ctx, genModern, p.Name, req)
		if err != nil {
			writeRPCError(w, true, env.ID, asRPCError(err))
			return
		}
		if out.task == nil {
			writeRPCResult(w, env.ID, d.s.modernResult(out.result))
			return
		}
		out.task["resultType"] = "task"
		writeRPCResult(w, env.ID, out.task)
		return
	case "tasks/get", "tasks/update", "tasks/cancel":
		if e := checkModernRequest(r, env, p); e != nil {
			writeRPCError(w, true, env.ID, e)
			return
		}
		if !p.declaresTasks() {
			writeRPCError(w, true, env.ID, missingTasksCapability())
			return
		}
		id := ""
		if p.TaskID != nil {
			id = *p.TaskID
		}
		var res any
		var err error
		switch env.Method {
		case "tasks/get":
			res, err = d.s.getTask(ctx, genModern, id)
		case "tasks/cancel":
			res, err = d.s.cancelTask(ctx, genModern, id)
		default:
			if p.Inputs != nil && !isJSONObject(p.Inputs) {
				err = &rpcError{Code: mcp.INVALID_PARAMS, Message: "params.inputResponses must be an object"}
				break
			}
			res, err = d.s.updateTask(ctx, id)
		}
		d.answer(w, true, env.ID, res, err)
		return
	case "tasks/result", "tasks/list":
		writeRPCError(w, true, env.ID, &rpcError{Code: mcp.METHOD_NOT_FOUND, Message: "Method not found: " + env.Method + " is not part of the 2026-07-28 Tasks extension (use tasks/get, or subscriptions/listen with notifications.taskIds)"})
		return
	default:
		if strings.HasPrefix(env.Method, "tasks/") {
			// The prefix is the extension's: never mcp-go's own task code.
			writeRPCError(w, true, env.ID, &rpcError{Code: mcp.METHOD_NOT_FOUND, Message: "Method not found: " + env.Method + " (the Tasks extension has tasks/get, tasks/update and tasks/cancel)"})
			return
		}
	case "subscriptions/listen":
		if p.Notifies == nil || p.Notifies.TaskIDs == nil {
			break // not about tasks: mcp-go's
		}
		if e := checkModernRequest(r, env, p); e != nil {
			writeRPCError(w, true, env.ID, e)
			return
		}
		if !p.declaresTasks() {
			writeRPCError(w, true, env.ID, missingTasksCapability())
			return
		}
		if isNullID(env.ID) {
			writeRPCError(w, true, env.ID, &rpcError{Code: mcp.INVALID_REQUEST, Message: "subscriptions/listen requires a request id"})
			return
		}
		if len(p.Notifies.TaskIDs) > maxListenTasks {
			writeRPCError(w, true, env.ID, &rpcError{Code: mcp.INVALID_PARAMS, Message: "subscriptions/listen takes at most " + strconv.Itoa(maxListenTasks) + " taskIds: open another subscription for the rest"})
			return
		}
		d.listen(w, r, env, p.Notifies.TaskIDs)
		return
	}
	d.next.ServeHTTP(w, r)
}

func (d *taskDispatch) serveLegacy(w http.ResponseWriter, r *http.Request, env rpcEnvelope, p taskParams) {
	ctx := r.Context()
	id := ""
	if p.TaskID != nil {
		id = *p.TaskID
	}
	switch env.Method {
	case "initialize":
		d.passPatched(w, r, env.ID, patchInitialize)
		return
	case "tools/list":
		d.passPatched(w, r, env.ID, d.patchToolsList)
		return
	case "tools/call":
		if len(p.Task) == 0 || string(p.Task) == "null" {
			break
		}
		if _, ok := d.s.taskTool(p.Name); !ok {
			writeRPCError(w, false, env.ID, &rpcError{Code: mcp.METHOD_NOT_FOUND, Message: "tool " + strconv.Quote(p.Name) + " does not support task execution (execution.taskSupport is forbidden): call it without params.task"})
			return
		}
		req, err := callRequest(env.Params)
		if err != nil || !isJSONObject(p.Task) {
			writeRPCError(w, false, env.ID, &rpcError{Code: mcp.INVALID_PARAMS, Message: "invalid tools/call params: params.task must be an object"})
			return
		}
		out, err := d.s.createTask(ctx, genLegacy, p.Name, req)
		switch {
		case err != nil:
			writeRPCError(w, false, env.ID, asRPCError(err))
		case out.task == nil:
			// Bad arguments: no job, so no task to create. The 2025-11-25
			// client asked for a CreateTaskResult, so the tool's message
			// travels as invalid params.
			writeRPCError(w, false, env.ID, &rpcError{Code: mcp.INVALID_PARAMS, Message: toolResultText(out.result)})
		default:
			writeRPCResult(w, env.ID, map[string]any{
				"task":  out.task,
				"_meta": map[string]any{"io.modelcontextprotocol/model-immediate-response": "The image is being generated as job " + out.task["taskId"].(string) + "; the result arrives when the task completes."},
			})
		}
		return
	case "tasks/get":
		res, err := d.s.getTask(ctx, genLegacy, id)
		d.answer(w, false, env.ID, res, err)
		return
	case "tasks/cancel":
		res, err := d.s.cancelTask(ctx, genLegacy, id)
		d.answer(w, false, env.ID, res, err)
		return
	case "tasks/list":
		cursor := ""
		if p.Cursor != nil {
			cursor = *p.Cursor
		}
		res, err := d.s.listTasks(ctx, cursor)
		d.answer(w, false, env.ID, res, err)
		return
	case "tasks/result":
		d.taskResult(w, r, env, id)
		return
	}
	if strings.HasPrefix(env.Method, "tasks/") {
		writeRPCError(w, false, env.ID, &rpcError{Code: mcp.METHOD_NOT_FOUND, Message: "Method not found: " + env.Method + " (2025-11-25 tasks are tasks/get, tasks/result, tasks/list and tasks/cancel)"})
		return
	}
	d.next.ServeHTTP(w, r)
}

// toolResultText is the text of a tool result, for an error message.
func toolResultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, " ")
}

func (d *taskDispatch) answer(w http.ResponseWriter, modern bool, id json.RawMessage, res any, err error) {
	if err != nil {
		writeRPCError(w, modern, id, asRPCError(err))
		return
	}
	writeRPCResult(w, id, res)
}

func asRPCError(err error) *rpcError {
	var re *rpcError
	switch {
	case errors.As(err, &re):
		return re
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &rpcError{Code: mcp.INTERNAL_ERROR, Message: "the request was interrupted"}
	}
	return &rpcError{Code: mcp.INTERNAL_ERROR, Message: "internal error"}
}

func callRequest(params json.RawMessage) (mcp.CallToolRequest, error) {
	var req mcp.CallToolRequest
	req.Method = string(mcp.MethodToolsCall)
	err := json.Unmarshal(params, &req.Params)
	return req, err
}

func isJSONObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

func isNullID(id json.RawMessage) bool {
	t := bytes.TrimSpace(id)
	return len(t) == 0 || string(t) == "null"
}

// checkModernRequest applies the 2026-07-28 Streamable HTTP rules mcp-go
// applies to the requests it serves: version in header and _meta, client
// capabilities present, Mcp-Method (and Mcp-Name) mirroring the body. On
// tasks/get, tasks/update and tasks/cancel, Mcp-Name is the task id.
func checkModernRequest(r *http.Request, env rpcEnvelope, p taskParams) *rpcError {
	hv, mv := r.Header.Get(mcp.HeaderProtocolVersion), p.Meta.ProtocolVersion
	switch {
	case hv == "":
		return &rpcError{Code: mcp.HEADER_MISMATCH, Message: mcp.HeaderProtocolVersion + " header is required for requests carrying " + mcp.MetaKeyProtocolVersion}
	case mv == "":
		return &rpcError{Code: mcp.INVALID_PARAMS, Message: "missing or invalid _meta field " + mcp.MetaKeyProtocolVersion}
	case hv != mv:
		return &rpcError{Code: mcp.HEADER_MISMATCH, Message: mcp.HeaderProtocolVersion + " header " + hv + " does not match request " + mcp.MetaKeyProtocolVersion + " " + mv}
	case !mcp.IsValidProtocolVersion(mv):
		return &rpcError{Code: mcp.UNSUPPORTED_PROTOCOL_VERSION, Message: "Unsupported protocol version " + mv, Data: map[string]any{"supported": mcp.ValidProtocolVersions, "requested": mv}}
	case p.Meta.ClientCapabilities == nil:
		return &rpcError{Code: mcp.INVALID_PARAMS, Message: "missing or invalid _meta field " + mcp.MetaKeyClientCapabilities}
	}
	if err := mcp.ValidateStandardHeaders(r.Header.Get, mv, mcp.MCPMethod(env.Method), env.Params); err != nil {
		return &rpcError{Code: mcp.HEADER_MISMATCH, Message: err.Error()}
	}
	if !strings.HasPrefix(env.Method, "tasks/") {
		return nil
	}
	name := r.Header.Get(mcp.HeaderName)
	if name == "" {
		return &rpcError{Code: mcp.HEADER_MISMATCH, Message: mcp.HeaderName + " header is required on " + env.Method + ": set it to params.taskId"}
	}
	decoded, ok := mcp.DecodeHeaderValue(name)
	if !ok || p.TaskID == nil || decoded != *p.TaskID {
		return &rpcError{Code: mcp.HEADER_MISMATCH, Message: mcp.HeaderName + " header does not match params.taskId"}
	}
	return nil
}

// httpStatus is the HTTP status 2026-07-28 prescribes for a JSON-RPC error
// (the mapping mcp-go uses); earlier revisions answer 200.
func httpStatus(modern bool, code int) int {
	if !modern {
		return http.StatusOK
	}
	switch code {
	case mcp.METHOD_NOT_FOUND:
		return http.StatusNotFound
	case mcp.HEADER_MISMATCH, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, mcp.UNSUPPORTED_PROTOCOL_VERSION,
		mcp.INVALID_REQUEST, mcp.INVALID_PARAMS, mcp.PARSE_ERROR:
		return http.StatusBadRequest
	}
	return http.StatusOK
}

func rpcID(id json.RawMessage) json.RawMessage {
	if isNullID(id) {
		return json.RawMessage("null")
	}
	return id
}

func writeRPCResult(w http.ResponseWriter, id json.RawMessage, result any) {
	writeJSON(w, http.StatusOK, map[string]any{"jsonrpc": "2.0", "id": rpcID(id), "result": result})
}

func writeRPCError(w http.ResponseWriter, modern bool, id json.RawMessage, e *rpcError) {
	writeJSON(w, httpStatus(modern, e.Code), map[string]any{"jsonrpc": "2.0", "id": rpcID(id), "error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// sseWriter writes JSON-RPC messages as server-sent events, one writer at a
// time, flushing each.
type sseWriter struct {
	mu sync.Mutex
	w  http.ResponseWriter
}

func startSSE(w http.ResponseWriter) *sseWriter {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	return &sseWriter{w: w}
}

func (s *sseWriter) send(msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return s.raw("event: message\ndata: " + string(b) + "\n\n")
}

func (s *sseWriter) raw(text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := io.WriteString(s.w, text); err != nil {
		return err
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// keepAlive writes an SSE comment every sseKeepAlive while a stream waits,
// so that proxies keep it open. It is not a poll: nothing is read.
func (s *sseWriter) keepAlive(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(sseKeepAlive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.raw(": keepalive\n\n")
			}
		}
	}()
	return func() { cancel(); <-done }
}

const sseKeepAlive = 25 * time.Second

// maxListenTasks bounds one subscription: each task id costs a lookup and a
// blocked waiter.
const maxListenTasks = 100

// listen serves subscriptions/listen for tasks: the acknowledgement names
// the task ids that exist; then each task's DetailedTask is pushed as
// notifications/tasks the moment its job finishes; when all have been sent,
// the stream ends gracefully with the (empty) listen result. Every message
// carries the subscription id, the listen request's id.
func (d *taskDispatch) listen(w http.ResponseWriter, r *http.Request, env rpcEnvelope, ids []string) {
	ctx := r.Context()
	var subID any
	json.Unmarshal(env.ID, &subID)
	meta := map[string]any{mcp.MetaKeySubscriptionID: subID}
	accepted := d.s.acceptTaskIDs(ctx, ids)
	sse := startSSE(w)
	stop := sse.keepAlive(ctx)
	defer stop()
	if err := sse.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged", "params": map[string]any{
		"_meta": meta, "notifications": map[string]any{"taskIds": accepted},
	}}); err != nil {
		return
	}
	d.s.pushTasks(ctx, accepted, func(task map[string]any) {
		task["_meta"] = meta
		if err := sse.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/tasks", "params": task}); err != nil {
			d.s.log.DebugContext(ctx, "task notification not sent", "task_id", task["taskId"], "error", err)
		}
	})
	if ctx.Err() != nil {
		return
	}
	sse.send(map[string]any{"jsonrpc": "2.0", "id": rpcID(env.ID), "result": map[string]any{"resultType": "complete", "_meta": meta}})
}

// taskResult serves the 2025-11-25 tasks/result. A finished task is answered
// with plain JSON; otherwise the answer is a stream that stays open while the
// job runs and carries notifications/tasks/status, then the result.
func (d *taskDispatch) taskResult(w http.ResponseWriter, r *http.Request, env rpcEnvelope, id string) {
	ctx := r.Context()
	job, err := d.s.lookupTask(ctx, id)
	if err != nil {
		writeRPCError(w, false, env.ID, asRPCError(err))
		return
	}
	if job.Status.Terminal() {
		res, err := d.s.taskPayload(ctx, id, job, nil)
		d.answer(w, false, env.ID, res, err)
		return
	}
	sse := startSSE(w)
	stop := sse.keepAlive(ctx)
	defer stop()
	res, err := d.s.taskPayload(ctx, id, job, func(task map[string]any) {
		sse.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": task})
	})
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		sse.send(map[string]any{"jsonrpc": "2.0", "id": rpcID(env.ID), "error": asRPCError(err)})
		return
	}
	sse.send(map[string]any{"jsonrpc": "2.0", "id": rpcID(env.ID), "result": res})
}

// passPatched passes a request to mcp-go and patches the result of its
// answer (JSON or a server-sent event stream) before sending it on.
func (d *taskDispatch) passPatched(w http.ResponseWriter, r *http.Request, id json.RawMessage, patch func(result map[string]any)) {
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	d.next.ServeHTTP(rec, r)
	body := rec.body.Bytes()
	ct := rec.header.Get("Content-Type")
	switch {
	case rec.status != http.StatusOK:
	case strings.HasPrefix(ct, "application/json"):
		body = patchMessage(body, id, patch)
	case strings.HasPrefix(ct, "text/event-stream"):
		body = patchEvents(body, id, patch)
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.status)
	w.Write(body)
}

// patchMessage patches the result of one JSON-RPC response with the given id;
// anything else is returned as it was.
func patchMessage(msg []byte, id json.RawMessage, patch func(result map[string]any)) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil || !bytes.Equal(bytes.TrimSpace(m["id"]), bytes.TrimSpace(id)) {
		return msg
	}
	var result map[string]any
	if json.Unmarshal(m["result"], &result) != nil || result == nil {
		return msg
	}
	patch(result)
	b, err := json.Marshal(result)
	if err != nil {
		return msg
	}
	m["result"] = b
	out, err := json.Marshal(m)
	if err != nil {
		return msg
	}
	return append(out, '\n')
}

func patchEvents(stream []byte, id json.RawMessage, patch func(result map[string]any)) []byte {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(stream))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			line = "data: " + strings.TrimRight(string(patchMessage([]byte(data), id, patch)), "\n")
		}
		out.WriteString(line + "\n")
	}
	return out.Bytes()
}

func child(m map[string]any, key string) map[string]any {
	c, ok := m[key].(map[string]any)
	if !ok {
		c = map[string]any{}
		m[key] = c
	}
	return c
}

// patchDiscover adds the Tasks extension to server/discover's capabilities
// (and never the 2025-11-25 capabilities.tasks).
func patchDiscover(result map[string]any) {
	caps := child(result, "capabilities")
	delete(caps, "tasks")
	child(caps, "extensions")[TasksExtension] = map[string]any{}
}

// patchInitialize adds the 2025-11-25 capabilities.tasks to initialize.
func patchInitialize(result map[string]any) {
	child(result, "capabilities")["tasks"] = map[string]any{
		"list":     map[string]any{},
		"cancel":   map[string]any{},
		"requests": map[string]any{"tools": map[string]any{"call": map[string]any{}}},
	}
}

// patchToolsList marks the blocking tools execution.taskSupport "optional".
func (d *taskDispatch) patchToolsList(result map[string]any) {
	tools, _ := result["tools"].([]any)
	for _, t := range tools {
		tool, ok := t.(map[string]any)
		if !ok {
			continue
		}
		if name, _ := tool["name"].(string); name != "" {
			if _, ok := d.s.taskTool(name); ok {
				child(tool, "execution")["taskSupport"] = "optional"
			}
		}
	}
}

// recorder buffers mcp-go's answer to a request whose result is patched.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}
