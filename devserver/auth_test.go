package devserver

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/primitives"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// startAuthTestServer runs an in-memory server with the UI, shared by the
// attack cases below.
func startAuthTestServer(t *testing.T) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// rawConn is what an attacker on the machine uses: plain gRPC, no SDK.
func rawConn(t *testing.T, addr string, creds credentials.TransportCredentials) workflowservice.WorkflowServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatalf("grpc client for %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return workflowservice.NewWorkflowServiceClient(conn)
}

func TestFrontendRefusesCallsWithoutTheSecret(t *testing.T) {
	s := startAuthTestServer(t)
	ws := rawConn(t, s.FrontendAddress(), insecure.NewCredentials())
	ns := s.Namespace()
	start := func(ctx context.Context) error {
		_, err := ws.StartWorkflowExecution(ctx, &workflowservice.StartWorkflowExecutionRequest{
			Namespace: ns, WorkflowId: "forged-" + strconv.FormatInt(time.Now().UnixNano(), 36), RequestId: "r",
			WorkflowType: &commonpb.WorkflowType{Name: "imagegen.generate"},
			TaskQueue:    &taskqueuepb.TaskQueue{Name: "imagegen"},
		})
		return err
	}
	list := func(ctx context.Context) error {
		_, err := ws.ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: ns})
		return err
	}
	terminate := func(ctx context.Context) error {
		_, err := ws.TerminateWorkflowExecution(ctx, &workflowservice.TerminateWorkflowExecutionRequest{
			Namespace: ns, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "any"},
		})
		return err
	}
	deleteNS := func(ctx context.Context) error {
		_, err := ws.DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
			Namespace: ns, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "any"},
		})
		return err
	}
	calls := map[string]func(context.Context) error{"start": start, "list": list, "terminate": terminate, "delete": deleteNS}

	for _, tc := range []struct {
		name   string
		header string // "" sends no authorization header
	}{
		{"no credentials", ""},
		{"wrong secret", "Bearer " + strings.Repeat("x", len(s.Secret()))},
		{"secret with a suffix", "Bearer " + s.Secret() + "x"},
		{"secret without the scheme", s.Secret()},
		{"another scheme", "Basic " + s.Secret()},
	} {
		for name, call := range calls {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if tc.header != "" {
					ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tc.header)
				}
				if err := call(ctx); status.Code(err) != codes.PermissionDenied {
					t.Fatalf("%s with %s: err = %v, want PermissionDenied", name, tc.name, err)
				}
			})
		}
	}

	// The same calls with the secret get through (list succeeds, the forged
	// start is accepted by the server), the scheme in any case.
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", scheme+" "+s.Secret())
		if err := list(ctx); err != nil {
			t.Errorf("list with %q scheme and the secret: %v", scheme, err)
		}
		cancel()
	}
}

func TestInternalServicesRefuseCallersWithoutTheInternodeCertificate(t *testing.T) {
	s := startAuthTestServer(t)
	for name, port := range map[primitives.ServiceName]int{
		primitives.InternalFrontendService: s.ports.InternalFrontend,
		primitives.HistoryService:          s.ports.History,
		primitives.MatchingService:         s.ports.Matching,
		primitives.WorkerService:           s.ports.Worker,
	} {
		addr := net.JoinHostPort(loopback, strconv.Itoa(port))
		for credName, creds := range map[string]credentials.TransportCredentials{
			"plaintext": insecure.NewCredentials(),
			// A TLS client that trusts anything but has no client certificate.
			"tls without client certificate": credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}),
		} {
			t.Run(string(name)+"/"+credName, func(t *testing.T) {
				ws := rawConn(t, addr, creds)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err := ws.ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.Namespace()})
				// Unavailable: the handshake failed. Anything else (even
				// Unimplemented) means the service read the request.
				if status.Code(err) != codes.Unavailable {
					t.Fatalf("%s answered a %s caller: %v", name, credName, err)
				}
			})
		}
	}
}

func TestFrontendHTTPAPIIsOff(t *testing.T) {
	conf, err := serverConfig(Options{Host: loopback}, ports{Frontend: 1, InternalFrontend: 2, History: 3, Matching: 4, Worker: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, svc := range conf.Services {
		if svc.RPC.HTTPPort != 0 {
			t.Errorf("service %s has HTTP port %d: the HTTP API accepts cross-site text/plain POSTs", name, svc.RPC.HTTPPort)
		}
	}
	if addr := conf.ClusterMetadata.ClusterInformation[clusterName].HTTPAddress; addr != "" {
		t.Errorf("cluster metadata advertises an HTTP address %s", addr)
	}
}

func TestWebUIReachesTheFrontendWithTheSecret(t *testing.T) {
	s := startAuthTestServer(t)
	// A workflow started through the SDK shows up in the UI's API, which
	// proves the UI's own gRPC calls carry the secret.
	c := dialTest(t, s)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.ExecuteWorkflow(ctx, startOpts("seen-in-ui"), "nobody-runs-this"); err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	resp, err := http.Get(s.UIAddress() + "/api/v1/namespaces/" + s.Namespace() + "/workflows/seen-in-ui")
	if err != nil {
		t.Fatalf("GET ui api: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "seen-in-ui") {
		t.Fatalf("UI API: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(string(body), "WORKFLOW_EXECUTION_STATUS_RUNNING") {
		t.Errorf("UI API answer lacks the running status: %s", body)
	}
}

func TestSecretFileIsPrivateAndStable(t *testing.T) {
	dir := t.TempDir()
	a, err := loadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, SecretFileName))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("secret file mode %v, want 0600", perm)
	}
	b, err := loadOrCreateSecret(dir)
	if err != nil || a != b {
		t.Errorf("second load = %q, %v; want the first secret", b, err)
	}
	if len(a) < 32 {
		t.Errorf("secret has %d characters", len(a))
	}
	if err := os.Chmod(filepath.Join(dir, SecretFileName), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecret(dir); err == nil || !strings.Contains(err.Error(), "readable by other users") {
		t.Errorf("world-readable secret: err = %v, want a refusal", err)
	}
}

func startOpts(id string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: id, TaskQueue: testTaskQueue}
}
