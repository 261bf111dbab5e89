package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
)

const model = "flux-schnell"

// newClient connects a real MCP client (Streamable HTTP) and initializes it.
func newClient(t testing.TB, url string) *client.Client {
	t.Helper()
	c, err := client.NewStreamableHttpClient(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + testToken}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	req.Params.ClientInfo = mcp.Implementation{Name: "cluster-suite", Version: "1"}
	if _, err := c.Initialize(ctx, req); err != nil {
		t.Fatalf("initialize %s: %v", url, err)
	}
	return c
}

// call invokes a tool and decodes the JSON text of its result. A non-nil
// error is a protocol or transport failure, not a tool error.
func call(ctx context.Context, c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, map[string]any, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]any{}
	for _, content := range res.Content {
		if tc, ok := content.(mcp.TextContent); ok {
			if json.Unmarshal([]byte(tc.Text), &out) != nil {
				out = map[string]any{"text": tc.Text}
			}
		}
	}
	return res, out, nil
}

// job is one submitted generation: its id and its prompt (unique, so the
// fake provider counts the calls made for it).
type job struct{ id, prompt string }

// submit starts n jobs with generate_image, prompts unique to tag. Each
// carries an idempotency key, so that when a part of the cluster is coming
// back and the tool answers "temporarily unavailable", the client retries as
// a careful client would, and a start that did go through is not doubled.
func submit(t testing.TB, c *client.Client, tag string, n int) []job {
	t.Helper()
	jobs := make([]job, 0, n)
	for i := range n {
		prompt := fmt.Sprintf("%s %d: a lighthouse on a cliff", tag, i)
		args := map[string]any{"prompt": prompt, "model": model, "idempotency_key": fmt.Sprintf("%s-%d", strings.ReplaceAll(tag, " ", "-"), i)}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			res, out, err := call(ctx, c, "generate_image", args)
			cancel()
			if err != nil {
				t.Fatalf("generate_image: %v", err)
			}
			id, _ := out["job_id"].(string)
			if !res.IsError && id != "" {
				jobs = append(jobs, job{id: id, prompt: prompt})
				break
			}
			text, _ := out["text"].(string)
			if !res.IsError || !strings.Contains(text, "temporarily unavailable") || time.Now().After(deadline) {
				t.Fatalf("generate_image(%q): %+v", prompt, out)
			}
			t.Logf("generate_image(%q): %s; retrying", prompt, text)
			time.Sleep(500 * time.Millisecond)
		}
	}
	return jobs
}

// waitCompleted calls wait_for_completion until the job is done and returns
// its image URL. Tool errors on the way (a part of the cluster is still
// coming back) are retried until within runs out.
func waitCompleted(t testing.TB, c *client.Client, j job, within time.Duration) string {
	t.Helper()
	url, _ := waitCompletedView(t, c, j, within)["image_url"].(string)
	return url
}

// waitCompletedView is waitCompleted returning the job as the tool shows it.
func waitCompletedView(t testing.TB, c *client.Client, j job, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	var last any
	for time.Now().Before(deadline) {
		left := time.Until(deadline)
		ctx, cancel := context.WithTimeout(context.Background(), left)
		res, out, err := call(ctx, c, "wait_for_completion", map[string]any{"job_id": j.id, "timeout_seconds": max(1, int(min(left, 20*time.Second)/time.Second))})
		cancel()
		switch {
		case err != nil:
			last = err
			time.Sleep(500 * time.Millisecond)
		case res.IsError:
			last = out
			time.Sleep(500 * time.Millisecond)
		case out["done"] == true:
			view, _ := out["job"].(map[string]any)
			if view["status"] != "completed" {
				t.Fatalf("job %s (%q) finished %v: %+v", j.id, j.prompt, view["status"], view)
			}
			return view
		}
	}
	t.Fatalf("job %s not completed within %s (last answer: %v)", j.id, within, last)
	return nil
}

// checkImage fetches an image URL (a presigned GET on the S3 server) and
// compares the bytes with what the provider sent.
func checkImage(t testing.TB, url string, want []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET image: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if !bytes.Equal(body, want) {
		t.Fatalf("stored image is %d bytes that differ from the provider's %d", len(body), len(want))
	}
}

// completeAll waits for every job through MCP client c and checks each
// image in S3. It returns the provider calls the jobs took, the most for
// one job, and how long it took until the last job was done.
func (s *stack) completeAll(t testing.TB, c *client.Client, jobs []job, within time.Duration) (calls, maxCalls int) {
	t.Helper()
	want := s.fake.Image(model)
	for _, j := range jobs {
		checkImage(t, waitCompleted(t, c, j, within), want)
		n := s.fake.CallsForPrompt(j.prompt)
		calls += n
		maxCalls = max(maxCalls, n)
	}
	return calls, maxCalls
}

// checkOneWorkflowPerJob lists the namespace's workflows: every job is
// there, completed, as exactly one workflow execution, and there is nothing
// else (no job started twice, no stray run) but the workflows named in
// running, each one execution that may still run (a budget ledger).
func (s *stack) checkOneWorkflowPerJob(t testing.TB, jobs []job, running ...string) {
	t.Helper()
	c := s.temporalClient()
	want := map[string]bool{}
	for _, j := range jobs {
		want[j.id] = true
	}
	mayRun := map[string]bool{}
	for _, id := range running {
		want[id], mayRun[id] = true, true
	}
	// Visibility is written by the history service's visibility queue, a
	// moment after the workflow closes: wait until it shows every job closed.
	deadline := time.Now().Add(time.Minute)
	for {
		runs := map[string]int{}
		open := 0
		var token []byte
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.namespace, PageSize: 1000, NextPageToken: token})
			cancel()
			if err != nil {
				t.Fatalf("list workflows: %v", err)
			}
			for _, e := range resp.Executions {
				runs[e.Execution.WorkflowId]++
				if e.Status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED && !(mayRun[e.Execution.WorkflowId] && e.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING) {
					open++
				}
			}
			if token = resp.NextPageToken; len(token) == 0 {
				break
			}
		}
		settled := open == 0 && len(runs) >= len(want)
		if settled || time.Now().After(deadline) {
			for id := range want {
				if runs[id] != 1 {
					t.Errorf("job %s has %d workflow executions, want exactly 1", id, runs[id])
				}
			}
			for id, n := range runs {
				if !want[id] {
					t.Errorf("workflow %s (%d runs) is no job the test started", id, n)
				}
			}
			if open > 0 {
				t.Errorf("%d workflow executions are not completed", open)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
