package devserver

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

const (
	testKeyword   = "ImagegenTestKey"
	testCount     = "ImagegenTestCount"
	testTaskQueue = "devserver-test"
	testWorkflow  = "devserver-tag"
)

// tagWorkflow upserts the custom search attributes and returns, which is
// exactly what fails (and hangs) when an attribute is not registered yet.
func tagWorkflow(ctx workflow.Context, value string, count int64) (string, error) {
	updates := []temporal.SearchAttributeUpdate{temporal.NewSearchAttributeKeyKeyword(testKeyword).ValueSet(value)}
	if count > 0 {
		updates = append(updates, temporal.NewSearchAttributeKeyInt64(testCount).ValueSet(count))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		return "", err
	}
	return "tagged:" + value, nil
}

func TestFileBackedServerSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	opts := Options{
		DataDir:          dir,
		SearchAttributes: map[string]enumspb.IndexedValueType{testKeyword: enumspb.INDEXED_VALUE_TYPE_KEYWORD},
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}

	// First start: fresh data dir, UI on a free port, default retention.
	began := time.Now()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start on fresh data dir: %v", err)
	}
	t.Logf("start on fresh data dir: %s (frontend %s, ui %s)", time.Since(began), s.FrontendAddress(), s.UIAddress())
	stopped := false
	defer func() {
		if !stopped {
			_ = s.Stop()
		}
	}()

	if s.UIAddress() == "" {
		t.Fatal("UIAddress is empty with the UI enabled")
	}
	resp, err := http.Get(s.UIAddress() + "/")
	if err != nil {
		t.Fatalf("GET web ui: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET web ui: status %d, want 200", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(dir, "temporal.db-wal")); err != nil {
		t.Errorf("sqlite is not in WAL mode: %v", err)
	}

	c := dialTest(t, s)
	checkRetention(ctx, t, c, s.Namespace(), defaultRetention)
	w := startWorker(t, c)
	got := runTagWorkflow(ctx, t, c, "wf-first", "v1", 0)
	if got != "tagged:v1" {
		t.Fatalf("workflow result %q, want %q", got, "tagged:v1")
	}
	waitListed(ctx, t, c, s.Namespace(), testKeyword+" = 'v1'", 1)
	w.Stop()
	c.Close()
	firstAddr := s.FrontendAddress()
	began = time.Now()
	if err := s.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("stop: %s", time.Since(began))
	stopped = true

	// Restart on the same file: ports come back, the UI is off this time,
	// retention changes and one more search attribute is added.
	opts.UIPort = -1
	opts.Retention = 7 * 24 * time.Hour
	opts.SearchAttributes = map[string]enumspb.IndexedValueType{
		testKeyword: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		testCount:   enumspb.INDEXED_VALUE_TYPE_INT,
	}
	began = time.Now()
	s2, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Logf("restart on existing data dir: %s", time.Since(began))
	defer func() { _ = s2.Stop() }()
	if s2.FrontendAddress() != firstAddr {
		t.Errorf("restart frontend %s, want remembered %s", s2.FrontendAddress(), firstAddr)
	}
	if s2.UIAddress() != "" {
		t.Errorf("UIAddress %q with the UI disabled, want empty", s2.UIAddress())
	}

	c2 := dialTest(t, s2)
	defer c2.Close()
	checkRetention(ctx, t, c2, s2.Namespace(), opts.Retention)
	attrs, err := c2.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s2.Namespace()})
	if err != nil {
		t.Fatalf("list search attributes: %v", err)
	}
	for name, typ := range opts.SearchAttributes {
		if attrs.GetCustomAttributes()[name] != typ {
			t.Errorf("search attribute %s = %v, want %v", name, attrs.GetCustomAttributes()[name], typ)
		}
	}

	desc, err := c2.DescribeWorkflowExecution(ctx, "wf-first", "")
	if err != nil {
		t.Fatalf("describe workflow from before the restart: %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("workflow from before the restart has status %v, want completed", st)
	}
	waitListed(ctx, t, c2, s2.Namespace(), testKeyword+" = 'v1'", 1)

	w2 := startWorker(t, c2)
	defer w2.Stop()
	began = time.Now()
	got = runTagWorkflow(ctx, t, c2, "wf-second", "v2", 42)
	took := time.Since(began)
	t.Logf("first workflow after restart: %s", took)
	if got != "tagged:v2" {
		t.Fatalf("workflow result %q, want %q", got, "tagged:v2")
	}
	// A stale-membership stall shows up as ~1 minute here.
	if took > 10*time.Second {
		t.Errorf("first workflow after restart took %s", took)
	}
	waitListed(ctx, t, c2, s2.Namespace(), testCount+" = 42", 1)
}

func TestInMemoryHeadless(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	s, err := Start(ctx, Options{UIPort: -1, Namespace: "imagegen-test"})
	if err != nil {
		t.Fatalf("start in memory: %v", err)
	}
	t.Logf("start in memory: %s", time.Since(began))
	defer func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	if s.UIAddress() != "" {
		t.Errorf("UIAddress %q with the UI disabled, want empty", s.UIAddress())
	}
	if s.Namespace() != "imagegen-test" {
		t.Errorf("Namespace %q, want imagegen-test", s.Namespace())
	}
	c := dialTest(t, s)
	defer c.Close()
	checkRetention(ctx, t, c, s.Namespace(), defaultRetention)
}

func TestOptionsValidation(t *testing.T) {
	for name, o := range map[string]Options{
		"hostname":          {Host: "example.com"},
		"short retention":   {Retention: time.Minute},
		"untyped attribute": {SearchAttributes: map[string]enumspb.IndexedValueType{"X": enumspb.INDEXED_VALUE_TYPE_UNSPECIFIED}},
	} {
		if _, err := Start(context.Background(), o); err == nil {
			t.Errorf("%s: Start succeeded, want an error", name)
		}
	}
}

func dialTest(t *testing.T, s *Server) client.Client {
	t.Helper()
	opts := s.ClientOptions()
	opts.Logger = sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	c, err := client.Dial(opts)
	if err != nil {
		t.Fatalf("dial %s: %v", s.FrontendAddress(), err)
	}
	return c
}

func startWorker(t *testing.T, c client.Client) worker.Worker {
	t.Helper()
	w := worker.New(c, testTaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(tagWorkflow, workflow.RegisterOptions{Name: testWorkflow})
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	return w
}

func runTagWorkflow(ctx context.Context, t *testing.T, c client.Client, id, value string, count int64) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: testTaskQueue}, testWorkflow, value, count)
	if err != nil {
		t.Fatalf("start workflow %s: %v", id, err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil {
		t.Fatalf("workflow %s: %v", id, err)
	}
	return out
}

func checkRetention(ctx context.Context, t *testing.T, c client.Client, namespace string, want time.Duration) {
	t.Helper()
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		t.Fatalf("describe namespace %s: %v", namespace, err)
	}
	if got := desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != want {
		t.Errorf("namespace %s retention %s, want %s", namespace, got, want)
	}
}

// waitListed polls a visibility query: visibility is updated asynchronously
// after the workflow closes.
func waitListed(ctx context.Context, t *testing.T, c client.Client, namespace, query string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, Query: query})
		if err != nil {
			t.Fatalf("list %q: %v", query, err)
		}
		if n := len(resp.GetExecutions()); n == want {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("list %q: %d executions after 10 s, want %d", query, n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
