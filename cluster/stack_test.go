package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"go.temporal.io/sdk/client"

	"github.com/imagegen/imagegen/deploy"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

const (
	testToken = "cluster-secret-token-8a41e7"
	bucket    = "images"
	// Temporal's server module, as go.mod pins it.
	temporalModule = "go.temporal.io/server"
)

// repoRoot is the module root, relative to this package's directory.
const repoRoot = ".."

func repoFile(t testing.TB, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ---- binaries ----

type binaries struct {
	temporal, sqlTool, imagegen string
	schemaDir                   string // the server module's schema/postgresql/v12
}

var (
	buildOnce sync.Once
	built     binaries
	buildErr  error
	tmpRoot   string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

// buildBinaries builds, once per test run, the official Temporal server and
// its SQL schema tool from the module graph (the versions go.mod pins) and
// this repository's imagegen command. The two Temporal binaries are kept in
// the user cache dir under a key of the Go version and go.sum, so a second
// run skips their ~4 minute cold build; imagegen is built fresh each run.
func buildBinaries(t testing.TB) binaries {
	t.Helper()
	buildOnce.Do(func() { built, buildErr = doBuild() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func doBuild() (binaries, error) {
	var b binaries
	goTool, err := exec.LookPath("go")
	if err != nil {
		return b, fmt.Errorf("go tool not found to build the binaries: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	goOut := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, goTool, args...)
		cmd.Dir = repoRoot
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, ee.Stderr)
			}
			return "", fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	modDir, err := goOut("list", "-m", "-f", "{{.Dir}}", temporalModule)
	if err != nil {
		return b, err
	}
	b.schemaDir = filepath.Join(modDir, "schema", "postgresql", "v12")

	tmpRoot, err = os.MkdirTemp("", "imagegen-cluster-")
	if err != nil {
		return b, err
	}
	b.imagegen = filepath.Join(tmpRoot, "imagegen")
	if _, err := goOut("build", "-o", b.imagegen, "./cmd/imagegen"); err != nil {
		return b, err
	}

	version, err := goOut("version")
	if err != nil {
		return b, err
	}
	sum, err := os.ReadFile(filepath.Join(repoRoot, "go.sum"))
	if err != nil {
		return b, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s/%s\n", version, modDir, runtime.GOOS, runtime.GOARCH)
	h.Write(sum)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "imagegen-cluster", hex.EncodeToString(h.Sum(nil))[:16])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return b, err
	}
	b.temporal = filepath.Join(dir, "temporal-server")
	b.sqlTool = filepath.Join(dir, "temporal-sql-tool")
	for bin, pkg := range map[string]string{b.temporal: temporalModule + "/cmd/server", b.sqlTool: temporalModule + "/cmd/tools/sql"} {
		if _, err := os.Stat(bin); err == nil {
			continue
		}
		// Build next to the target and rename: parallel test processes may
		// race here, and a half-written binary must never be run.
		tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
		if _, err := goOut("build", "-o", tmp, pkg); err != nil {
			return b, err
		}
		if err := os.Rename(tmp, bin); err != nil {
			return b, err
		}
	}
	return b, nil
}

// ---- ports ----

var (
	portsMu sync.Mutex
	taken   = map[int]bool{}
)

// freePort returns a loopback port below 32768 that was free a moment ago
// and that no other test of this run got. Temporal stores membership ports
// in a PostgreSQL smallint, so a port of 32768 or more kills the server at
// start; the kernel's ephemeral range starts there, so random low ports are
// also rarely taken by outgoing connections.
func freePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		p := 10000 + rand.IntN(32768-10000)
		if taken[p] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		taken[p] = true
		return p
	}
	t.Fatal("no free loopback port below 32768")
	return 0
}

// ---- processes ----

// proc is a child process whose output is kept for failure reports.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func startProc(t testing.TB, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, tail(p.out.String(), 4000))
		}
	})
	return p
}

// kill sends SIGKILL (no graceful shutdown) and waits until the process is gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// hermeticEnv is the process environment without the service's own
// variables, so the developer's shell cannot leak in, plus extra.
func hermeticEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "IMAGEGEN_"), strings.HasPrefix(name, "CLOUDFLARE_"), strings.HasPrefix(name, "OPENAI_"),
			strings.HasPrefix(name, "R2_"), strings.HasPrefix(name, "TEMPORAL_"), strings.HasPrefix(name, "AWS_"),
			strings.HasPrefix(name, "SQL_"), strings.HasPrefix(name, "PG"):
			continue
		}
		env = append(env, kv)
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// ---- PostgreSQL ----

type postgres struct {
	binDir string
	dir    string // owned by the server's user: data, socket and log
	port   int
	asUser []string // command prefix to run as the postgres user (root only)
}

// pgBinDir finds the PostgreSQL server binaries, or skips the test.
func pgBinDir(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "initdb")); err == nil {
			return filepath.Dir(p)
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Slice(matches, func(i, j int) bool { return pgMajor(matches[i]) < pgMajor(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1])
	}
	t.Skip("cluster suite skipped: PostgreSQL server binaries (initdb, pg_ctl) are not on PATH nor in /usr/lib/postgresql/*/bin; " +
		"install the distribution's postgresql package (.ci/run does: apt-get install postgresql) to run it")
	return ""
}

func pgMajor(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// startPostgres initializes a fresh database cluster in a temporary
// directory and starts it on a random loopback port. PostgreSQL refuses to
// run as root, so under root it runs as the postgres user.
func startPostgres(t testing.TB) *postgres {
	t.Helper()
	pg := &postgres{binDir: pgBinDir(t)}
	dir, err := os.MkdirTemp("", "imagegen-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg.dir = dir
	t.Cleanup(func() {
		pg.stop(t, "immediate")
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("cluster suite skipped: running as root and there is no postgres user to run PostgreSQL as (PostgreSQL refuses root): " + err.Error())
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			t.Fatalf("running as root without runuser to start PostgreSQL as postgres: %v", err)
		}
		pg.asUser = []string{runuser, "-u", "postgres", "--"}
	}
	// trust on loopback: the suite's own throwaway server. The Temporal
	// server and the schema tool still send a user and password.
	if out, err := pg.command("initdb", "-D", pg.data(), "-U", "temporal", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		pg.port = freePort(t)
		err := pg.start()
		if err == nil {
			return pg
		}
		if attempt == 2 {
			t.Fatalf("start PostgreSQL: %v\n%s", err, tail(pg.log(), 3000))
		}
	}
}

func (pg *postgres) data() string { return filepath.Join(pg.dir, "data") }

func (pg *postgres) log() string {
	b, _ := os.ReadFile(filepath.Join(pg.dir, "log"))
	return string(b)
}

func (pg *postgres) command(name string, args ...string) *exec.Cmd {
	argv := append(append(slicesClone(pg.asUser), filepath.Join(pg.binDir, name)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = pg.dir
	cmd.Env = hermeticEnv(nil)
	return cmd
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// start starts the server on pg.port and waits until it accepts connections.
// fsync and full-page writes are off: the suite's data lives for one run and
// its machine does not crash, so what a killed server wrote is still in the
// page cache, and a restart after "pg_ctl stop -m immediate" recovers from
// the WAL as after a crash. Commits stay synchronous: with
// synchronous_commit=off a killed server loses its last commits.
func (pg *postgres) start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c full_page_writes=off", pg.port, pg.dir)
	cmd := pg.command("pg_ctl", "-D", pg.data(), "-l", filepath.Join(pg.dir, "log"), "-w", "-t", "120", "-o", opts, "start")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	return nil
}

// stop stops the server; mode "immediate" is a crash (no checkpoint, the
// next start recovers from the WAL), "fast" a clean shutdown.
func (pg *postgres) stop(t testing.TB, mode string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pg.data(), "postmaster.pid")); err != nil {
		return
	}
	if out, err := pg.command("pg_ctl", "-D", pg.data(), "-m", mode, "-w", "stop").CombinedOutput(); err != nil {
		t.Logf("pg_ctl stop: %v\n%s", err, out)
	}
}

// ---- Temporal ----

type temporalServer struct {
	t      testing.TB
	bins   binaries
	pg     *postgres
	env    map[string]string // settings of deploy/temporal/postgres.yaml
	addr   string            // frontend gRPC host:port
	proc   *proc
	starts int
}

// startTemporal creates the schema with deploy/temporal/schema.sh and starts
// the official server with deploy/temporal/postgres.yaml (and so with
// deploy/dynamicconfig/imagegen.yaml) on the suite's ports.
func startTemporal(t testing.TB, bins binaries, pg *postgres) *temporalServer {
	t.Helper()
	script := exec.Command("sh", repoFile(t, deploy.SchemaScript))
	script.Env = hermeticEnv(map[string]string{
		"SQL_PLUGIN": "postgres12", "SQL_HOST": "127.0.0.1", "SQL_PORT": strconv.Itoa(pg.port),
		"SQL_USER": "temporal", "SQL_PASSWORD": "temporal",
		"TEMPORAL_SQL_TOOL": bins.sqlTool, "TEMPORAL_SCHEMA_DIR": bins.schemaDir,
	})
	if out, err := script.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", deploy.SchemaScript, err, tail(string(out), 4000))
	}

	ts := &temporalServer{t: t, bins: bins, pg: pg, env: map[string]string{
		"SQL_HOST": "127.0.0.1", "SQL_PORT": strconv.Itoa(pg.port), "SQL_USER": "temporal", "SQL_PASSWORD": "temporal",
		"TEMPORAL_LOG_LEVEL":      "warn",
		"TEMPORAL_DYNAMIC_CONFIG": repoFile(t, deploy.DynamicConfigFile),
	}}
	for _, name := range []string{
		"FRONTEND_PORT", "FRONTEND_HTTP_PORT", "FRONTEND_MEMBERSHIP_PORT", "HISTORY_PORT", "HISTORY_MEMBERSHIP_PORT",
		"MATCHING_PORT", "MATCHING_MEMBERSHIP_PORT", "WORKER_PORT", "WORKER_MEMBERSHIP_PORT",
	} {
		ts.env["TEMPORAL_"+name] = strconv.Itoa(freePort(t))
	}
	ts.addr = "127.0.0.1:" + ts.env["TEMPORAL_FRONTEND_PORT"]
	ts.start()
	return ts
}

// start runs the server and waits until its frontend answers health checks.
func (ts *temporalServer) start() {
	t := ts.t
	t.Helper()
	ts.starts++
	cmd := exec.Command(ts.bins.temporal, "--config-file", repoFile(t, deploy.ServerConfigFile), "--allow-no-auth", "start")
	cmd.Env = hermeticEnv(ts.env)
	ts.proc = startProc(t, fmt.Sprintf("temporal server (start %d)", ts.starts), cmd)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := client.DialContext(ctx, client.Options{HostPort: ts.addr, Logger: quietLogger{}})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
		}
		cancel()
		if err == nil {
			return
		}
		if ts.proc.exited() {
			t.Fatalf("temporal server exited at start:\n%s", tail(ts.proc.out.String(), 4000))
		}
		if time.Now().After(deadline) {
			t.Fatalf("temporal server not serving after 3 minutes: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kill stops the server with SIGKILL: no graceful shutdown of shards.
func (ts *temporalServer) kill() { ts.proc.kill() }

// namespace registers a namespace of its own for one test (the compose
// stack's step, deploy.RegisterNamespace, with its retention): tests sharing
// a cluster then share no task queue, so no worker of one test runs
// another's jobs.
func (ts *temporalServer) namespace(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := deploy.RegisterNamespace(ctx, ts.addr, name, deploy.NamespaceRetention); err != nil {
		t.Fatal(err)
	}
	return name
}

// ---- S3 ----

type fakeS3 struct {
	URL     string
	backend *s3mem.Backend
}

func startS3(t testing.TB) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return &fakeS3{URL: srv.URL, backend: backend}
}

// objects returns the keys in the bucket.
func (s *fakeS3) objects(t testing.TB) []string {
	t.Helper()
	list, err := s.backend.ListBucket(bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range list.Contents {
		keys = append(keys, c.Key)
	}
	return keys
}

// ---- imagegen ----

// stack is one namespace's imagegen deployment on a cluster.
type stack struct {
	t         testing.TB
	bins      binaries
	temporal  *temporalServer
	namespace string
	s3        *fakeS3
	fake      *workersaitest.Server
	extra     map[string]string // added to every process's environment
}

func newStack(t testing.TB, bins binaries, ts *temporalServer, namespace string) *stack {
	t.Helper()
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	return &stack{t: t, bins: bins, temporal: ts, namespace: ts.namespace(t, namespace), s3: startS3(t), fake: fake, extra: map[string]string{}}
}

func (s *stack) env(addr string) map[string]string {
	env := map[string]string{
		"IMAGEGEN_ADDR":           addr,
		"IMAGEGEN_AUTH_TOKEN":     testToken,
		"IMAGEGEN_DATA_DIR":       s.t.TempDir(),
		"IMAGEGEN_LOG_LEVEL":      "info",
		"TEMPORAL_ADDRESS":        s.temporal.addr,
		"TEMPORAL_NAMESPACE":      s.namespace,
		"CLOUDFLARE_ACCOUNT_ID":   s.fake.AccountID,
		"CLOUDFLARE_API_TOKEN":    s.fake.APIToken,
		"CLOUDFLARE_API_BASE_URL": s.fake.URL,
		"R2_ENDPOINT":             s.s3.URL,
		"R2_PATH_STYLE":           "true",
		"R2_BUCKET":               bucket,
		"R2_ACCESS_KEY_ID":        "cluster-key",
		"R2_SECRET_ACCESS_KEY":    "cluster-secret-key-1b9c",
	}
	for k, v := range s.extra {
		env[k] = v
	}
	return env
}

// service is a running imagegen serve or worker process.
type service struct {
	*proc
	mcpURL string // serve only
}

var mcpURLPattern = regexp.MustCompile(`mcp=(http://\S+/mcp)`)

// serve starts `imagegen serve` on a port of the kernel's choosing and
// returns once it is ready.
func (s *stack) serve(name string) *service {
	s.t.Helper()
	p := s.start(name, "serve")
	m := mcpURLPattern.FindStringSubmatch(p.out.String())
	if m == nil {
		s.t.Fatalf("%s: no MCP URL in its ready line:\n%s", name, tail(p.out.String(), 3000))
	}
	return &service{proc: p, mcpURL: m[1]}
}

// worker starts `imagegen worker` with a data dir of its own.
func (s *stack) worker(name string) *service {
	s.t.Helper()
	return &service{proc: s.start(name, "worker")}
}

func (s *stack) start(name, mode string) *proc {
	s.t.Helper()
	cmd := exec.Command(s.bins.imagegen, mode)
	cmd.Env = hermeticEnv(s.env("127.0.0.1:0"))
	p := startProc(s.t, name, cmd)
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(p.out.String(), "imagegen ready") {
		select {
		case <-p.done:
			s.t.Fatalf("%s exited before it was ready:\n%s", name, tail(p.out.String(), 4000))
		case <-deadline:
			s.t.Fatalf("%s not ready after 2 minutes:\n%s", name, tail(p.out.String(), 4000))
		case <-time.After(50 * time.Millisecond):
		}
	}
	return p
}

// temporalClient connects to the stack's namespace, for checks on workflows.
func (s *stack) temporalClient() client.Client {
	s.t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.temporal.addr, Namespace: s.namespace, Logger: quietLogger{}})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(c.Close)
	return c
}

// ---- small things ----

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// quietLogger drops the SDK's logs: the suite reports what it checks.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
