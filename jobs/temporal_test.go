package jobs_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/grpc"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/devserver"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/objectstore"
	"github.com/imagegen/imagegen/workflows"
)

// stack is an embedded Temporal server with a worker running the real
// workflow and activities. Its provider and store let a test hold a job at a
// stage or fail it, by prompt.
type stack struct {
	srv      *devserver.Server
	provider *heldProvider
	store    *heldStore
}

func startStack(t *testing.T) *stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{UIPort: -1, SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatalf("start Temporal: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	wopts := srv.ClientOptions()
	wopts.Logger = quietSDK()
	wc, err := client.DialContext(ctx, wopts)
	if err != nil {
		t.Fatalf("dial Temporal: %v", err)
	}
	t.Cleanup(wc.Close)

	local, err := objectstore.NewLocal(t.TempDir(), "http://127.0.0.1:1/images")
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{srv: srv, provider: newHeldProvider(), store: &heldStore{Store: local, holds: map[string]chan struct{}{}}}
	staging, err := activities.OpenStaging(t.TempDir(), "jobs-test-store")
	if err != nil {
		t.Fatal(err)
	}
	acts := &activities.Activities{Provider: s.provider, ImageStore: s.store, ProviderName: "test", Staging: staging, HeartbeatEvery: time.Second}
	for _, queue := range []string{workflows.TaskQueue, staging.Queue()} {
		w := worker.New(wc, queue, worker.Options{})
		if queue == workflows.TaskQueue {
			workflows.Register(w)
			w.RegisterActivity(&activities.Ledger{Temporal: wc})
		}
		w.RegisterActivity(acts)
		if err := w.Start(); err != nil {
			t.Fatalf("start worker: %v", err)
		}
		t.Cleanup(w.Stop)
	}
	return s
}

// client returns a job client on its own connection, whose calls are counted.
func (s *stack) client(t *testing.T, opts jobs.Options, rpcs *rpcLog) *jobs.Client {
	t.Helper()
	copts := s.srv.ClientOptions()
	copts.Logger = quietSDK()
	copts.ConnectionOptions.DialOptions = []grpc.DialOption{grpc.WithChainUnaryInterceptor(rpcs.intercept)}
	c, err := client.Dial(copts)
	if err != nil {
		t.Fatalf("dial Temporal: %v", err)
	}
	t.Cleanup(c.Close)
	return jobs.New(c, opts)
}

func quietSDK() *slog.Logger {
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// rpcLog counts a client's calls by method and can stall history long polls
// of chosen jobs, the way the server does when it loses their wake-up.
type rpcLog struct {
	mu       sync.Mutex
	calls    map[string]int
	filters  []string
	deaf     map[string]bool
	blocked  chan string // receives the job id of each stalled poll
	stallEnd []error     // how each stalled poll ended
}

func newRPCLog() *rpcLog {
	return &rpcLog{calls: map[string]int{}, deaf: map[string]bool{}, blocked: make(chan string, 16)}
}

func (l *rpcLog) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	name := method[strings.LastIndex(method, "/")+1:]
	l.mu.Lock()
	l.calls[name]++
	var stall bool
	if h, ok := req.(*workflowservice.GetWorkflowExecutionHistoryRequest); ok {
		l.filters = append(l.filters, h.GetHistoryEventFilterType().String())
		stall = h.GetWaitNewEvent() && l.deaf[h.GetExecution().GetWorkflowId()]
		if stall {
			l.blocked <- h.GetExecution().GetWorkflowId()
		}
	}
	l.mu.Unlock()
	if stall {
		<-ctx.Done()
		l.mu.Lock()
		l.stallEnd = append(l.stallEnd, ctx.Err())
		l.mu.Unlock()
		return ctx.Err()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// count returns the calls of a method so far.
func (l *rpcLog) count(method string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[method]
}

func (l *rpcLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = map[string]int{}
	l.filters = nil
}

// heldProvider renders a tiny PNG, except for prompts a test holds (until
// released) or fails.
type heldProvider struct {
	mu      sync.Mutex
	holds   map[string]chan struct{}
	entered map[string]chan struct{}
	fails   map[string]bool
	png     []byte
	inputs  map[string][]imagegen.Inputs // what each call of a prompt was given
}

func newHeldProvider() *heldProvider {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		panic(err)
	}
	return &heldProvider{holds: map[string]chan struct{}{}, entered: map[string]chan struct{}{}, fails: map[string]bool{}, png: buf.Bytes(), inputs: map[string][]imagegen.Inputs{}}
}

// hold makes generations of prompt wait for release; entered is closed when
// the first one starts.
func (p *heldProvider) hold(prompt string) (entered <-chan struct{}, release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	gate, in := make(chan struct{}), make(chan struct{})
	p.holds[prompt], p.entered[prompt] = gate, in
	var once sync.Once
	return in, func() { once.Do(func() { close(gate) }) }
}

func (p *heldProvider) fail(prompt string, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fails[prompt] = on
}

func (p *heldProvider) Generate(ctx context.Context, req imagegen.Request, inputs imagegen.Inputs) (imagegen.Image, error) {
	p.mu.Lock()
	gate, in, fail := p.holds[req.Prompt], p.entered[req.Prompt], p.fails[req.Prompt]
	p.inputs[req.Prompt] = append(p.inputs[req.Prompt], inputs)
	if in != nil {
		delete(p.entered, req.Prompt)
		close(in)
	}
	p.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return imagegen.Image{}, ctx.Err()
		}
	}
	if fail {
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "the test provider refuses this prompt"}
	}
	return imagegen.Image{Data: p.png, ContentType: "image/png"}, nil
}

// heldStore holds uploads of chosen jobs until released.
type heldStore struct {
	activities.Store
	mu    sync.Mutex
	holds map[string]chan struct{} // by job id
}

func (s *heldStore) hold(jobID string) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gate := make(chan struct{})
	s.holds[jobID] = gate
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

func (s *heldStore) Put(ctx context.Context, key string, data []byte, contentType string) error {
	s.mu.Lock()
	var gate chan struct{}
	for id, g := range s.holds {
		if strings.Contains(key, id) {
			gate = g
		}
	}
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Store.Put(ctx, key, data, contentType)
}

func (s *heldStore) URL(ctx context.Context, key string) (string, error) {
	return s.Store.URL(ctx, key)
}

// within bounds a test step that waits for an event.
func within(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func awaitClosed(t *testing.T, ctx context.Context, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("%s never happened", what)
	}
}
