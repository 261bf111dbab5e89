package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// TaskLatency is the MCP Tasks scenario (2026-07-28 extension): each job is
// created as a task by generate_image_and_wait, then waited for side by
// side by a subscriber (subscriptions/listen, pushed notifications/tasks)
// and by a client polling tasks/get every pollIntervalMs from a random
// phase. Both are measured from the job's completion: the close time
// Temporal recorded for its workflow.
type TaskLatency struct {
	Jobs int `json:"jobs"`
	// PollIntervalMS is the pollIntervalMs the server suggested.
	PollIntervalMS float64 `json:"poll_interval_ms"`
	Push           Dist    `json:"push"`
	Poller         Dist    `json:"poller"`
	PollerCalls    int     `json:"poller_calls"`
	// TimesP50 and TimesP99: how many times longer the poller took.
	TimesP50 float64 `json:"poller_times_push_p50"`
	TimesP99 float64 `json:"poller_times_push_p99"`
	// TasksGet is the duration of each tasks/get call the poller made.
	TasksGet Dist `json:"tasks_get"`
}

// tasks runs the MCP Tasks scenario.
func (r *runner) tasks(ctx context.Context, rep *Report) error {
	r.prov.fake.SetDelay(r.cfg.ProviderDelay)
	defer r.prov.fake.SetDelay(0)
	tc := &taskClient{url: r.app.MCPURL, token: r.token, hc: &http.Client{Transport: newTransport(64)}}
	defer tc.hc.CloseIdleConnections()

	n := r.cfg.Jobs
	push, poll := make([]time.Duration, n), make([]time.Duration, n)
	var (
		mu       sync.Mutex
		gets     []time.Duration
		calls    int
		interval time.Duration
		errs     []error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for i := range n {
		if err := sleep(ctx, time.Until(start.Add(time.Duration(i)*r.cfg.LatencySpacing))); err != nil {
			wg.Wait()
			return err
		}
		wg.Go(func() {
			j, err := r.taskJob(ctx, tc, i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			push[i], poll[i], interval = j.push, j.poll, j.interval
			gets = append(gets, j.gets...)
			calls += len(j.gets)
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errorsJoin(errs)
	}
	tl := TaskLatency{Jobs: n, PollIntervalMS: ms(interval), Push: distOf(push), Poller: distOf(poll), PollerCalls: calls, TasksGet: distOf(gets)}
	tl.TimesP50, tl.TimesP99 = ratio(tl.Poller.P50, tl.Push.P50), ratio(tl.Poller.P99, tl.Push.P99)
	rep.Tasks = tl
	return nil
}

type taskJobResult struct {
	push, poll, interval time.Duration
	gets                 []time.Duration
}

// taskJob creates one task and waits for it with a subscriber and a poller
// at once.
func (r *runner) taskJob(ctx context.Context, tc *taskClient, i int) (taskJobResult, error) {
	created, err := tc.call(ctx, "tools/call", "generate_image_and_wait", map[string]any{
		"name": "generate_image_and_wait", "arguments": map[string]any{"prompt": fmt.Sprintf("bench task %s #%d", r.runID, i)},
	})
	if err != nil {
		return taskJobResult{}, err
	}
	var task struct {
		ResultType     string `json:"resultType"`
		TaskID         string `json:"taskId"`
		PollIntervalMS int64  `json:"pollIntervalMs"`
	}
	if err := json.Unmarshal(created, &task); err != nil || task.ResultType != "task" || task.TaskID == "" {
		return taskJobResult{}, fmt.Errorf("tools/call did not create a task: %s", created)
	}
	out := taskJobResult{interval: time.Duration(task.PollIntervalMS) * time.Millisecond}
	var (
		wg             sync.WaitGroup
		pushAt, pollAt time.Time
		perr, gerr     error
	)
	wg.Go(func() { pushAt, perr = tc.awaitPush(ctx, task.TaskID) })
	wg.Go(func() { pollAt, out.gets, gerr = tc.pollTask(ctx, task.TaskID, out.interval) })
	wg.Wait()
	if err := errors.Join(perr, gerr); err != nil {
		return taskJobResult{}, err
	}
	desc, err := r.app.Temporal().DescribeWorkflowExecution(ctx, task.TaskID, "")
	if err != nil {
		return taskJobResult{}, fmt.Errorf("describe %s: %w", task.TaskID, err)
	}
	closed := desc.GetWorkflowExecutionInfo().GetCloseTime().AsTime()
	out.push, out.poll = pushAt.Sub(closed), pollAt.Sub(closed)
	return out, nil
}

// taskClient speaks 2026-07-28 JSON-RPC with the Tasks extension declared.
type taskClient struct {
	url, token string
	hc         *http.Client
	mu         sync.Mutex
	ids        int
}

func (c *taskClient) post(ctx context.Context, method, name string, params map[string]any) (*http.Response, error) {
	params["_meta"] = map[string]any{
		"io.modelcontextprotocol/protocolVersion":    "2026-07-28",
		"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "imagegen-bench", "version": "1"},
		"io.modelcontextprotocol/clientCapabilities": map[string]any{"extensions": map[string]any{"io.modelcontextprotocol/tasks": map[string]any{}}},
	}
	c.mu.Lock()
	c.ids++
	id := c.ids
	c.mu.Unlock()
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", method)
	if name != "" {
		req.Header.Set("Mcp-Name", name)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return resp, nil
}

// call makes one request and returns its result.
func (c *taskClient) call(ctx context.Context, method, name string, params map[string]any) (json.RawMessage, error) {
	resp, err := c.post(ctx, method, name, params)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: read answer: %w", method, err)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		raw = lastSSEData(raw)
	}
	var msg struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil {
		return nil, fmt.Errorf("%s: answer is not JSON-RPC: %s", method, raw)
	}
	if msg.Error != nil {
		return nil, fmt.Errorf("%s: JSON-RPC error: %s", method, msg.Error.Message)
	}
	return msg.Result, nil
}

// awaitPush subscribes to the task and returns when notifications/tasks
// with its finished state arrives.
func (c *taskClient) awaitPush(ctx context.Context, id string) (time.Time, error) {
	resp, err := c.post(ctx, "subscriptions/listen", "", map[string]any{"notifications": map[string]any{"taskIds": []string{id}}})
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
		if !ok {
			continue
		}
		var msg struct {
			Method string `json:"method"`
			Params struct {
				TaskID string `json:"taskId"`
				Status string `json:"status"`
			} `json:"params"`
		}
		if json.Unmarshal(data, &msg) == nil && msg.Method == "notifications/tasks" && msg.Params.TaskID == id {
			at := time.Now()
			if msg.Params.Status != "completed" {
				return at, fmt.Errorf("task %s pushed as %s", id, msg.Params.Status)
			}
			return at, nil
		}
	}
	return time.Time{}, fmt.Errorf("listen stream for %s ended without the task: %v", id, sc.Err())
}

// pollTask calls tasks/get every interval, from a random phase, until the
// task is completed; it returns when it learned so and each call's duration.
func (c *taskClient) pollTask(ctx context.Context, id string, interval time.Duration) (time.Time, []time.Duration, error) {
	if interval <= 0 {
		return time.Time{}, nil, fmt.Errorf("task %s: no pollIntervalMs", id)
	}
	var gets []time.Duration
	next := time.Now().Add(rand.N(interval))
	for {
		if err := sleep(ctx, time.Until(next)); err != nil {
			return time.Time{}, gets, err
		}
		began := time.Now()
		raw, err := c.call(ctx, "tasks/get", id, map[string]any{"taskId": id})
		gets = append(gets, time.Since(began))
		if err != nil {
			return time.Time{}, gets, err
		}
		var t struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return time.Time{}, gets, err
		}
		switch t.Status {
		case "completed":
			return time.Now(), gets, nil
		case "working":
		default:
			return time.Time{}, gets, fmt.Errorf("task %s is %s", id, t.Status)
		}
		for now := time.Now(); !next.After(now); {
			next = next.Add(interval)
		}
	}
}
