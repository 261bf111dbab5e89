package deploy

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/imagegen/imagegen/cmd/imagegen/config"
)

// The files under test, relative to this package's directory.
const (
	repoRoot    = ".."
	composeFile = "../docker-compose.yml"
)

// hostEnv is the host environment docker compose would interpolate the file
// with: only what the file requires, plus the given name/value pairs. The
// real process environment is never used, so a developer's exported
// CLOUDFLARE_API_TOKEN cannot change the outcome.
func hostEnv(pairs ...string) map[string]string {
	env := map[string]string{"IMAGEGEN_AUTH_TOKEN": "test-token"}
	for i := 0; i+1 < len(pairs); i += 2 {
		env[pairs[i]] = pairs[i+1]
	}
	return env
}

func loadStack(env map[string]string) (*types.Project, error) {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{composeFile}, cli.WithWorkingDirectory(repoRoot), cli.WithEnv(list))
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

func mustLoadStack(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	p, err := loadStack(env)
	if err != nil {
		t.Fatalf("load %s: %v", composeFile, err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return s
}

// environment is a service's environment; a name declared without a value
// maps to "".
func environment(s types.ServiceConfig) map[string]string {
	env := make(map[string]string, len(s.Environment))
	for k, v := range s.Environment {
		env[k] = ""
		if v != nil {
			env[k] = *v
		}
	}
	return env
}

// script is the shell script a one-shot service runs: its command joined.
func script(s types.ServiceConfig) string { return strings.Join(s.Command, "\n") }

// submatch returns the first group of re in s, failing the test if absent.
func submatch(t *testing.T, re, s, what string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s: no match for %q in:\n%s", what, re, s)
	}
	return m[1]
}

// published finds the port mapping of a service for a container port.
func published(s types.ServiceConfig, target uint32) (types.ServicePortConfig, bool) {
	for _, p := range s.Ports {
		if p.Target == target {
			return p, true
		}
	}
	return types.ServicePortConfig{}, false
}

func port(t *testing.T, hostport string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q is not host:port: %v", hostport, err)
	}
	return p
}

// goModRequire returns the version go.mod requires of a module, without "v".
func goModRequire(t *testing.T, module string) string {
	t.Helper()
	return submatch(t, `(?m)^\s*`+regexp.QuoteMeta(module)+`\s+v(\S+)`, readFile(t, filepath.Join(repoRoot, "go.mod")), "go.mod")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStackHasEveryService(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	for _, name := range []string{
		"postgresql", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui",
		"minio", "minio-setup", "server", "worker",
	} {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("service %s is missing: %v", name, err)
		}
	}
}

func TestStackRefusesToLoadWithoutAuthToken(t *testing.T) {
	_, err := loadStack(map[string]string{})
	if err == nil {
		t.Fatal("docker-compose.yml loaded without IMAGEGEN_AUTH_TOKEN; serve would then refuse to start on 0.0.0.0")
	}
	if !strings.Contains(err.Error(), "IMAGEGEN_AUTH_TOKEN") {
		t.Errorf("error does not name IMAGEGEN_AUTH_TOKEN: %v", err)
	}
}

func TestImagegenServicesBuildTheRepositoryDockerfile(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		service string
		command []string
	}{
		{"server", []string{"serve"}},
		{"worker", []string{"worker"}},
	} {
		t.Run(tc.service, func(t *testing.T) {
			s := service(t, p, tc.service)
			if s.Build == nil {
				t.Fatalf("%s has no build section (image %q): it must run this repository's code", tc.service, s.Image)
			}
			ctx := s.Build.Context
			if !filepath.IsAbs(ctx) {
				ctx = filepath.Join(p.WorkingDir, ctx)
			}
			if filepath.Clean(ctx) != root {
				t.Errorf("build context = %s, want the repository root %s", ctx, root)
			}
			if df := s.Build.Dockerfile; df != "" && df != "Dockerfile" {
				t.Errorf("dockerfile = %q, want the root Dockerfile", df)
			}
			if !slices.Equal(s.Command, tc.command) {
				t.Errorf("command = %q, want %q", s.Command, tc.command)
			}
		})
	}
}

func TestStackImagesAndCommands(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	temporal := goModRequire(t, "go.temporal.io/server")
	ui := goModRequire(t, "github.com/temporalio/ui-server/v2")
	for _, tc := range []struct {
		service, image string
		command        []string // nil: not checked
	}{
		{"postgresql", "postgres:16", nil},
		// The server, its schema tool and the CLI are the version the
		// embedded dev server uses, so dev and compose behave alike.
		{"temporal", "temporalio/server:" + temporal, nil},
		{"temporal-schema", "temporalio/admin-tools:" + temporal, nil},
		{"temporal-namespace", "temporalio/admin-tools:" + temporal, nil},
		{"temporal-ui", "temporalio/ui:" + ui, nil},
		// docker.io/minio/* no longer exists; the images stay on quay.io.
		{"minio", "quay.io/minio/minio:RELEASE.", []string{"server", "/data", "--console-address", ":9001"}},
		{"minio-setup", "quay.io/minio/mc:RELEASE.", nil},
	} {
		t.Run(tc.service, func(t *testing.T) {
			s := service(t, p, tc.service)
			match := s.Image == tc.image
			if strings.HasSuffix(tc.image, ".") {
				match = strings.HasPrefix(s.Image, tc.image) // a pinned release
			}
			if !match {
				t.Errorf("image = %q, want %q", s.Image, tc.image)
			}
			if tc.command != nil && !slices.Equal(s.Command, tc.command) {
				t.Errorf("command = %q, want %q", s.Command, tc.command)
			}
		})
	}
}

func TestPublishedPorts(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	for _, tc := range []struct {
		service   string
		target    uint32
		published string
		loopback  bool // no authentication: reachable from this machine only
	}{
		{"server", 8080, "8080", false}, // bearer token required
		{"temporal", 7233, "7233", true},
		{"temporal-ui", 8080, "8233", true},
		{"minio", 9000, "9000", true},
		{"minio", 9001, "9001", true},
	} {
		s := service(t, p, tc.service)
		got, ok := published(s, tc.target)
		if !ok {
			t.Errorf("%s: container port %d is not published (ports %v)", tc.service, tc.target, s.Ports)
			continue
		}
		if got.Published != tc.published {
			t.Errorf("%s: port %d published on %q, want %q", tc.service, tc.target, got.Published, tc.published)
		}
		if loopback := got.HostIP == "127.0.0.1"; loopback != tc.loopback {
			t.Errorf("%s: port %d bound to host IP %q; loopback only = %v, want %v", tc.service, tc.target, got.HostIP, loopback, tc.loopback)
		}
	}
}

func TestServicesStartAfterWhatTheyNeed(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	const healthy, completed = types.ServiceConditionHealthy, types.ServiceConditionCompletedSuccessfully
	for _, tc := range []struct {
		service string
		needs   map[string]string
	}{
		{"temporal-schema", map[string]string{"postgresql": healthy}},
		{"temporal", map[string]string{"postgresql": healthy, "temporal-schema": completed}},
		{"temporal-namespace", map[string]string{"temporal": healthy}},
		{"temporal-ui", map[string]string{"temporal": healthy}},
		{"minio-setup", map[string]string{"minio": healthy}},
		{"server", map[string]string{"temporal": healthy, "temporal-namespace": completed, "minio-setup": completed}},
		{"worker", map[string]string{"temporal": healthy, "temporal-namespace": completed, "minio-setup": completed}},
	} {
		s := service(t, p, tc.service)
		for dep, want := range tc.needs {
			got, ok := s.DependsOn[dep]
			if !ok {
				t.Errorf("%s does not depend on %s", tc.service, dep)
				continue
			}
			if got.Condition != want {
				t.Errorf("%s waits for %s to be %q, want %q", tc.service, dep, got.Condition, want)
			}
		}
	}
}

// A dependency is only worth waiting for if its condition can come true:
// service_healthy needs a health check, service_completed_successfully a
// one-shot container that is not restarted forever. service_started would
// let a service race the one it needs.
func TestEveryDependencyConditionCanBeMet(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			target := service(t, p, dep)
			switch d.Condition {
			case types.ServiceConditionHealthy:
				if hc := target.HealthCheck; hc == nil || hc.Disable || len(hc.Test) < 2 {
					t.Errorf("%s waits for %s to be healthy, but %s has no health check", name, dep, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if target.Restart == types.RestartPolicyAlways || target.Restart == types.RestartPolicyUnlessStopped {
					t.Errorf("%s waits for %s to complete, but %s restarts %q", name, dep, dep, target.Restart)
				}
			default:
				t.Errorf("%s depends on %s with condition %q: use %s or %s", name, dep, d.Condition,
					types.ServiceConditionHealthy, types.ServiceConditionCompletedSuccessfully)
			}
		}
	}
}

func TestWorkerScales(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	w := service(t, p, "worker")
	if w.ContainerName != "" {
		t.Errorf("worker has container_name %q: a second replica could not start", w.ContainerName)
	}
	if len(w.Ports) > 0 {
		t.Errorf("worker publishes %v: a second replica would find the host port taken", w.Ports)
	}
	// Each worker's staging directory holds its worker-id, which names the
	// task queue its uploads are routed to: replicas must not share it.
	dataDir := environment(w)["IMAGEGEN_DATA_DIR"]
	for _, v := range w.Volumes {
		shared := v.Type == types.VolumeTypeBind || (v.Type == types.VolumeTypeVolume && v.Source != "")
		overlaps := v.Target == dataDir || strings.HasPrefix(dataDir, v.Target+"/") || strings.HasPrefix(v.Target, dataDir+"/")
		if shared && overlaps {
			t.Errorf("worker mounts %s %q on %s: every replica would share one staging area and worker-id", v.Type, v.Source, v.Target)
		}
	}
}

func TestServerAndWorkerShareOneEnvironment(t *testing.T) {
	p := mustLoadStack(t, hostEnv("CLOUDFLARE_ACCOUNT_ID", "acct", "CLOUDFLARE_API_TOKEN", "tok"))
	server, worker := environment(service(t, p, "server")), environment(service(t, p, "worker"))
	for k, v := range server {
		if w, ok := worker[k]; !ok || w != v {
			t.Errorf("%s: server has %q, worker has %q (present: %v)", k, v, w, ok)
		}
	}
	for k, w := range worker {
		if _, ok := server[k]; !ok {
			t.Errorf("%s: worker has %q, server has none", k, w)
		}
	}
}

func TestImagegenReachesTemporal(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	env := environment(service(t, p, "server"))
	if got, want := env["TEMPORAL_ADDRESS"], "temporal:7233"; got != want {
		t.Errorf("TEMPORAL_ADDRESS = %q, want %q", got, want)
	}
	// The namespace the one-shot creates is the one imagegen uses.
	ns := submatch(t, `namespace create -n (\S+)`, script(service(t, p, "temporal-namespace")), "temporal-namespace")
	if got := env["TEMPORAL_NAMESPACE"]; got != ns {
		t.Errorf("TEMPORAL_NAMESPACE = %q, but temporal-namespace creates %q", got, ns)
	}
	// Job links must open the UI where compose publishes it.
	ui, err := url.Parse(env["TEMPORAL_UI_URL"])
	if err != nil {
		t.Fatalf("TEMPORAL_UI_URL: %v", err)
	}
	uiPort, _ := published(service(t, p, "temporal-ui"), 8080)
	if ui.Port() != uiPort.Published {
		t.Errorf("TEMPORAL_UI_URL = %s, but the UI is published on port %q", ui, uiPort.Published)
	}
}

func TestTemporalSchemaAndCredentialsAgreeWithPostgres(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	pg := environment(service(t, p, "postgresql"))
	server := environment(service(t, p, "temporal"))
	schema := service(t, p, "temporal-schema")
	tool := environment(schema)
	for _, tc := range []struct{ what, got, want string }{
		{"temporal POSTGRES_SEEDS", server["POSTGRES_SEEDS"], "postgresql"},
		{"temporal POSTGRES_USER", server["POSTGRES_USER"], pg["POSTGRES_USER"]},
		{"temporal POSTGRES_PWD", server["POSTGRES_PWD"], pg["POSTGRES_PASSWORD"]},
		{"temporal DB", server["DB"], "postgres12"},
		{"temporal-schema SQL_HOST", tool["SQL_HOST"], "postgresql"},
		{"temporal-schema SQL_USER", tool["SQL_USER"], pg["POSTGRES_USER"]},
		{"temporal-schema SQL_PASSWORD", tool["SQL_PASSWORD"], pg["POSTGRES_PASSWORD"]},
		{"temporal-schema SQL_PLUGIN", tool["SQL_PLUGIN"], server["DB"]},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.what, tc.got, tc.want)
		}
	}
	// The schema step is the repository's script, the one the cluster test
	// suite runs: mounted, run, and pointed at the image's schema files.
	script := mountedFile(t, p, schema, SchemaScript)
	if want := []string{"/bin/sh", script}; !slices.Equal(append(schema.Entrypoint, schema.Command...), want) {
		t.Errorf("temporal-schema runs %q, want %q", append(schema.Entrypoint, schema.Command...), want)
	}
	if got, want := tool["TEMPORAL_SCHEMA_DIR"], "/etc/temporal/schema/postgresql/v12"; got != want {
		t.Errorf("temporal-schema TEMPORAL_SCHEMA_DIR = %q, want %q (the admin-tools image's schema files)", got, want)
	}
}

// mountedFile checks that service s bind-mounts the repository file rel
// (read-only) and returns where it appears in the container.
func mountedFile(t *testing.T, p *types.Project, s types.ServiceConfig, rel string) string {
	t.Helper()
	want, err := filepath.Abs(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && filepath.Clean(v.Source) == want {
			if !v.ReadOnly {
				t.Errorf("%s mounts %s writable; it only reads it", s.Name, rel)
			}
			return v.Target
		}
	}
	t.Fatalf("%s does not mount %s (volumes %+v)", s.Name, rel, s.Volumes)
	return ""
}

// The schema script runs, for each of the server's default databases
// (DBNAME, VISIBILITY_DBNAME), create, setup and update to the latest schema.
func TestSchemaScriptSetsUpBothDatabases(t *testing.T) {
	sh := readFile(t, filepath.Join(repoRoot, SchemaScript))
	for _, step := range []string{
		`pair in temporal:temporal temporal_visibility:visibility`,
		`"$tool" --db "$db" create`,
		`"$tool" --db "$db" setup-schema -v 0.0`,
		`"$tool" --db "$db" update-schema -d "$TEMPORAL_SCHEMA_DIR/$dir/versioned"`,
		`set -eu`,
	} {
		if !strings.Contains(sh, step) {
			t.Errorf("%s does not contain %q", SchemaScript, step)
		}
	}
}

// The namespace the compose stack creates has the name and retention the
// cluster test suite registers with RegisterNamespace.
func TestNamespaceStepMatchesRegisterNamespace(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	sh := script(service(t, p, "temporal-namespace"))
	if got := submatch(t, `namespace create -n (\S+)`, sh, "temporal-namespace"); got != Namespace {
		t.Errorf("temporal-namespace creates %q, want %q (deploy.Namespace)", got, Namespace)
	}
	ret, err := time.ParseDuration(submatch(t, `--retention ([0-9a-z]+)`, sh, "temporal-namespace"))
	if err != nil {
		t.Fatalf("temporal-namespace retention: %v", err)
	}
	if ret != NamespaceRetention {
		t.Errorf("temporal-namespace retention = %s, want %s (deploy.NamespaceRetention)", ret, NamespaceRetention)
	}
}

func TestTemporalGetsItsDynamicConfig(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	s := service(t, p, "temporal")
	path := environment(s)["DYNAMIC_CONFIG_FILE_PATH"]
	var mounted string
	for _, c := range s.Configs {
		if c.Target == path {
			mounted = c.Source
		}
	}
	if mounted == "" {
		t.Fatalf("nothing is mounted at DYNAMIC_CONFIG_FILE_PATH=%q (configs %v): the server does not start without it", path, s.Configs)
	}
	want, err := filepath.Abs(filepath.Join(repoRoot, DynamicConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Configs[mounted].File; filepath.Clean(got) != want {
		t.Fatalf("config %s comes from %q, want the repository's %s (the file the cluster test suite runs the server with)", mounted, got, DynamicConfigFile)
	}
	var dc map[string][]struct {
		Value       any            `yaml:"value"`
		Constraints map[string]any `yaml:"constraints"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, want)), &dc); err != nil {
		t.Fatalf("%s is not a dynamic config: %v", DynamicConfigFile, err)
	}
	for _, tc := range []struct {
		key  string
		want any
	}{
		// imagegen registers its search attributes right before the first
		// job may upsert them.
		{"system.forceSearchAttributesCacheRefreshOnRead", true},
		{"history.transferProcessorMaxPollRPS", 1000},
		{"history.visibilityProcessorMaxPollRPS", 1000},
		{"history.timerProcessorMaxPollRPS", 1000},
		{"history.longPollExpirationInterval", "5s"},
		{"frontend.namespaceRPS.visibility", 1000},
	} {
		if v := dc[tc.key]; len(v) != 1 || v[0].Value != tc.want || len(v[0].Constraints) != 0 {
			t.Errorf("%s = %+v, want one unconstrained value %v", tc.key, v, tc.want)
		}
	}
}

// Every setting in the dynamic config says why it is there: a comment right
// above each key.
func TestDynamicConfigExplainsEverySetting(t *testing.T) {
	lines := strings.Split(readFile(t, filepath.Join(repoRoot, DynamicConfigFile)), "\n")
	keys := 0
	for i, line := range lines {
		if line == "" || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "#") {
			continue
		}
		keys++
		if i == 0 || !strings.HasPrefix(lines[i-1], "#") {
			t.Errorf("%s: %q has no comment above it saying why", DynamicConfigFile, line)
		}
	}
	if keys == 0 {
		t.Errorf("%s has no settings", DynamicConfigFile)
	}
}

func TestImagegenStoresImagesInTheBucketMinioSetupCreates(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	env := environment(service(t, p, "server"))
	minio := environment(service(t, p, "minio"))
	sh := script(service(t, p, "minio-setup"))

	alias := submatch(t, `mc alias set (\S+) `, sh, "minio-setup")
	endpoint := submatch(t, `mc alias set \S+ (\S+)`, sh, "minio-setup")
	bucket := submatch(t, `mc mb (?:--\S+ )*`+regexp.QuoteMeta(alias)+`/(\S+)`, sh, "minio-setup")
	public := submatch(t, `mc anonymous set download `+regexp.QuoteMeta(alias)+`/(\S+)`, sh, "minio-setup")

	for _, tc := range []struct{ what, got, want string }{
		{"R2_BUCKET (bucket minio-setup creates)", env["R2_BUCKET"], bucket},
		{"R2_BUCKET (bucket minio-setup makes public)", env["R2_BUCKET"], public},
		{"R2_ENDPOINT", env["R2_ENDPOINT"], "http://minio:9000"},
		{"R2_ENDPOINT (minio-setup's endpoint)", env["R2_ENDPOINT"], endpoint},
		{"R2_PATH_STYLE", env["R2_PATH_STYLE"], "true"},
		{"R2_ACCESS_KEY_ID", env["R2_ACCESS_KEY_ID"], minio["MINIO_ROOT_USER"]},
		{"R2_SECRET_ACCESS_KEY", env["R2_SECRET_ACCESS_KEY"], minio["MINIO_ROOT_PASSWORD"]},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.what, tc.got, tc.want)
		}
	}
	// Path-style public URLs: http://host:{published 9000}/{bucket}.
	pub, err := url.Parse(env["R2_PUBLIC_URL"])
	if err != nil {
		t.Fatalf("R2_PUBLIC_URL: %v", err)
	}
	api, _ := published(service(t, p, "minio"), 9000)
	if pub.Port() != api.Published || pub.Path != "/"+bucket {
		t.Errorf("R2_PUBLIC_URL = %s, want http://localhost:%s/%s", pub, api.Published, bucket)
	}
}

func TestMinioCredentialsFollowTheHostEnvironmentEverywhere(t *testing.T) {
	p := mustLoadStack(t, hostEnv("MINIO_ROOT_USER", "someone", "MINIO_ROOT_PASSWORD", "a-long-secret"))
	env := environment(service(t, p, "worker"))
	for _, svc := range []string{"minio", "minio-setup"} {
		m := environment(service(t, p, svc))
		if m["MINIO_ROOT_USER"] != "someone" || m["MINIO_ROOT_PASSWORD"] != "a-long-secret" {
			t.Errorf("%s ignores MINIO_ROOT_USER/PASSWORD from the host: %q/%q", svc, m["MINIO_ROOT_USER"], m["MINIO_ROOT_PASSWORD"])
		}
	}
	if env["R2_ACCESS_KEY_ID"] != "someone" || env["R2_SECRET_ACCESS_KEY"] != "a-long-secret" {
		t.Errorf("worker R2 keys %q/%q do not follow MINIO_ROOT_USER/PASSWORD", env["R2_ACCESS_KEY_ID"], env["R2_SECRET_ACCESS_KEY"])
	}
}

// How the stack treats each environment variable the configuration table reads.
type treatment int

const (
	set         treatment = iota // a value from the file (perhaps with a host override)
	passThrough                  // the host's value, empty when the host has none
	absent                       // deliberately not set
)

// configVariables lists every environment variable of the configuration
// table, config.Fields (TestConfigVariablesListMatchesTheConfigTable keeps
// this list complete).
var configVariables = []struct {
	name string
	how  treatment
	why  string
}{
	{"IMAGEGEN_ADDR", set, "listen on the compose network, port mapped by compose"},
	{"IMAGEGEN_AUTH_TOKEN", set, "required on a non-loopback address"},
	{"IMAGEGEN_DATA_DIR", set, "the image's /data volume"},
	{"IMAGEGEN_PUBLIC_URL", absent, "only for local images; images here are in MinIO (R2_PUBLIC_URL)"},
	{"IMAGEGEN_ALLOWED_HOSTS", absent, "unset, the Host check guards loopback connections; the stack is reached over the compose network"},
	{"IMAGEGEN_MAX_SSE_SESSIONS_PER_CLIENT", absent, "the default (16) suits the stack; an operator adds it to raise or lower the bound"},
	{"IMAGEGEN_MAX_SSE_SESSIONS", absent, "the default (256) suits the stack"},
	{"IMAGEGEN_MAX_CALLS_PER_SESSION", absent, "the default (8) suits the stack"},
	{"IMAGEGEN_MAX_CALLS", absent, "the default (512) suits the stack"},
	{"IMAGEGEN_PROVIDER", passThrough, "empty lets the app choose by credentials"},
	{"IMAGEGEN_PROVIDER_RATE", passThrough, "empty lets the app choose by provider (12/s for Workers AI)"},
	{"IMAGEGEN_WORKER_ACTIVITIES", passThrough, "empty is the app's default (64)"},
	{"IMAGEGEN_FETCH_ALLOW", passThrough, "empty: input image URLs reach public hosts only, never the stack's own services; an operator may open an internal image host"},
	{"IMAGEGEN_DAILY_BUDGET_USD", passThrough, "the operator's daily budget, if any (empty: none)"},
	{"IMAGEGEN_JOB_BUDGET_USD", passThrough, "the operator's per-job ceiling, if any (empty: none)"},
	{"IMAGEGEN_BUDGET_ORPHAN_GRACE", absent, "the default (2m) suits the stack"},
	{"IMAGEGEN_PREVIEW_DELAY", absent, "a knob for trying the preview provider in dev; a production stack has no reason to slow it"},
	{"IMAGEGEN_LOG_FORMAT", set, "text unless the host says otherwise"},
	{"IMAGEGEN_LOG_LEVEL", set, "info unless the host says otherwise"},
	{"CLOUDFLARE_ACCOUNT_ID", passThrough, "the operator's Workers AI account"},
	{"CLOUDFLARE_API_TOKEN", passThrough, "the operator's Workers AI token"},
	{"CLOUDFLARE_API_BASE_URL", passThrough, "AI Gateway, if the operator uses one"},
	{"OPENAI_API_KEY", passThrough, "the operator's OpenAI-compatible key, if any"},
	{"OPENAI_BASE_URL", passThrough, "an OpenAI-compatible server, if not OpenAI's"},
	{"OPENAI_IMAGE_MODEL", passThrough, "the model id openai-image uses"},
	{"R2_BUCKET", set, "the MinIO bucket"},
	{"R2_ACCESS_KEY_ID", set, "MinIO root user"},
	{"R2_SECRET_ACCESS_KEY", set, "MinIO root password"},
	{"R2_ENDPOINT", set, "MinIO on the compose network"},
	{"R2_PUBLIC_URL", set, "MinIO as published on this machine"},
	{"R2_PATH_STYLE", set, "MinIO serves path-style buckets"},
	{"TEMPORAL_ADDRESS", set, "the temporal service"},
	{"TEMPORAL_NAMESPACE", set, "the namespace temporal-namespace creates"},
	{"TEMPORAL_UI_URL", set, "the UI as published on this machine"},
	{"TEMPORAL_API_KEY", absent, "the compose stack's Temporal takes no credentials on its private network"},
	{"TEMPORAL_TLS_CERT", absent, "no TLS inside the compose network"},
	{"TEMPORAL_TLS_KEY", absent, "no TLS inside the compose network"},
	{"TEMPORAL_TLS_CA", absent, "no TLS inside the compose network"},
	{"TEMPORAL_TLS_SERVER_NAME", absent, "no TLS inside the compose network"},
	{"TEMPORAL_TLS", absent, "automatic: off for a keyless plaintext frontend"},
}

func TestEveryConfigVariableIsSetOrDeliberatelyLeftOut(t *testing.T) {
	const probe = "probe-from-host"
	unset := mustLoadStack(t, hostEnv())
	for _, v := range configVariables {
		withHost := mustLoadStack(t, hostEnv(v.name, probe))
		for _, svc := range []string{"server", "worker"} {
			got, ok := environment(service(t, unset, svc))[v.name]
			fromHost := environment(service(t, withHost, svc))[v.name]
			switch v.how {
			case set:
				if got == "" {
					t.Errorf("%s: %s is not set (%s)", svc, v.name, v.why)
				}
			case passThrough:
				if !ok || got != "" {
					t.Errorf("%s: %s = %q (declared: %v), want declared and empty when the host has none (%s)", svc, v.name, got, ok, v.why)
				}
				if fromHost != probe {
					t.Errorf("%s: %s = %q with %s=%s on the host: not passed through", svc, v.name, fromHost, v.name, probe)
				}
			case absent:
				if ok {
					t.Errorf("%s: %s = %q, want it unset (%s)", svc, v.name, got, v.why)
				}
			}
		}
	}
}

// The offline preview provider is what the stack runs with no credentials,
// but exporting Cloudflare credentials alone must be enough for real images:
// the file must not pin IMAGEGEN_PROVIDER=preview, and both services must
// see the credentials (serve validates them and labels placeholder images).
func TestProviderFollowsCloudflareCredentials(t *testing.T) {
	p := mustLoadStack(t, hostEnv("CLOUDFLARE_ACCOUNT_ID", "acct", "CLOUDFLARE_API_TOKEN", "tok"))
	for _, svc := range []string{"server", "worker"} {
		env := environment(service(t, p, svc))
		if env["CLOUDFLARE_ACCOUNT_ID"] != "acct" || env["CLOUDFLARE_API_TOKEN"] != "tok" {
			t.Errorf("%s does not get the host's Cloudflare credentials: %q/%q", svc, env["CLOUDFLARE_ACCOUNT_ID"], env["CLOUDFLARE_API_TOKEN"])
		}
		if got := env["IMAGEGEN_PROVIDER"]; got != "" {
			t.Errorf("%s: IMAGEGEN_PROVIDER = %q with credentials set and no provider chosen; want empty (the app picks workersai)", svc, got)
		}
	}
}

func TestConfigVariablesListMatchesTheConfigTable(t *testing.T) {
	inApp := config.EnvNames()
	if len(inApp) == 0 {
		t.Fatal("the configuration table (cmd/imagegen/config) names no environment variables")
	}
	var listed []string
	for _, v := range configVariables {
		listed = append(listed, v.name)
	}
	for _, name := range inApp {
		if !slices.Contains(listed, name) {
			t.Errorf("the configuration table reads %s, which configVariables does not list: decide how docker-compose.yml treats it", name)
		}
	}
	for _, name := range listed {
		if !slices.Contains(inApp, name) {
			t.Errorf("configVariables lists %s, which the configuration table no longer reads", name)
		}
	}
}

func TestImagegenHealthChecksHitHealthzOnTheListenPort(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	for _, svc := range []string{"server", "worker"} {
		s := service(t, p, svc)
		if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 {
			t.Errorf("%s has no health check", svc)
			continue
		}
		test := strings.Join(s.HealthCheck.Test[1:], " ")
		u, err := url.Parse(submatch(t, `(http://\S+)`, test, svc+" health check"))
		if err != nil {
			t.Fatal(err)
		}
		if want := port(t, environment(s)["IMAGEGEN_ADDR"]); u.Port() != want || u.Path != "/healthz" {
			t.Errorf("%s health check gets %s, want /healthz on port %s (IMAGEGEN_ADDR)", svc, u, want)
		}
	}
}

// Close takes up to 20 s (app.App.Close) and a worker gives in-flight
// activities 15 s (WorkerStopTimeout); Docker kills after 10 s by default.
func TestImagegenGetsTimeToShutDown(t *testing.T) {
	p := mustLoadStack(t, hostEnv())
	for _, svc := range []string{"server", "worker"} {
		s := service(t, p, svc)
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= 20*time.Second {
			t.Errorf("%s stop_grace_period = %v, want more than 20s", svc, s.StopGracePeriod)
		}
	}
}

// dockerfile is the Dockerfile as instructions: continuation lines joined,
// comments dropped, grouped by build stage.
type dockerfile struct {
	stages []stage
}

type stage struct {
	from, name   string
	instructions [][2]string // keyword (upper case), arguments
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	var df dockerfile
	var logical string
	for _, line := range strings.Split(readFile(t, filepath.Join(repoRoot, "Dockerfile")), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && logical == "") {
			continue
		}
		if rest, ok := strings.CutSuffix(trimmed, `\`); ok {
			logical += rest + " "
			continue
		}
		logical += trimmed
		keyword, args, _ := strings.Cut(logical, " ")
		keyword, args = strings.ToUpper(keyword), strings.Join(strings.Fields(args), " ")
		logical = ""
		if keyword == "FROM" {
			fields := strings.Fields(args)
			st := stage{from: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			df.stages = append(df.stages, st)
			continue
		}
		if len(df.stages) == 0 {
			t.Fatalf("Dockerfile: %s before the first FROM", keyword)
		}
		last := &df.stages[len(df.stages)-1]
		last.instructions = append(last.instructions, [2]string{keyword, args})
	}
	if len(df.stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(df.stages))
	}
	return df
}

func (s stage) all(keyword string) []string {
	var out []string
	for _, in := range s.instructions {
		if in[0] == keyword {
			out = append(out, in[1])
		}
	}
	return out
}

// env is the stage's ENV instructions as a map (key=value form only).
func (s stage) env() map[string]string {
	env := map[string]string{}
	for _, args := range s.all("ENV") {
		for _, kv := range strings.Fields(args) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	return env
}

func (df dockerfile) runtime() stage { return df.stages[len(df.stages)-1] }

func TestDockerfileBuildsTheCommandStatically(t *testing.T) {
	df := readDockerfile(t)
	build := df.stages[0]
	var goBuild string
	for _, run := range build.all("RUN") {
		if strings.Contains(run, "go build") {
			goBuild = run
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "go build", "-trimpath", "-o /out/imagegen", "./cmd/imagegen"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("the build stage's go build %q lacks %q", goBuild, want)
		}
	}
	if !regexp.MustCompile(`(?m)^package main$`).MatchString(readFile(t, filepath.Join(repoRoot, "cmd", "imagegen", "main.go"))) {
		t.Error("./cmd/imagegen/main.go is not in package main: the image would have no command")
	}
	// Modules are downloaded in a layer of their own, before the sources.
	var order []string
	for _, in := range build.instructions {
		order = append(order, in[0]+" "+in[1])
	}
	mod := slices.IndexFunc(order, func(s string) bool { return strings.HasPrefix(s, "RUN go mod download") })
	sources := slices.Index(order, "COPY . .")
	gomod := slices.IndexFunc(order, func(s string) bool { return strings.HasPrefix(s, "COPY go.mod go.sum") })
	if gomod < 0 || mod < gomod || sources < mod {
		t.Errorf("build stage order %q: want COPY go.mod go.sum, RUN go mod download, then COPY . .", order)
	}
	rt := df.runtime()
	if !slices.Contains(rt.all("COPY"), "--from="+build.name+" /out/imagegen /imagegen") {
		t.Errorf("runtime stage does not copy /out/imagegen from stage %q: COPY %q", build.name, rt.all("COPY"))
	}
	if got := rt.all("ENTRYPOINT"); !slices.Equal(got, []string{`["/imagegen"]`}) {
		t.Errorf("ENTRYPOINT %q, want [\"/imagegen\"]", got)
	}
	if got := rt.all("CMD"); !slices.Equal(got, []string{`["serve"]`}) {
		t.Errorf("CMD %q, want [\"serve\"]", got)
	}
}

func TestDockerfileGoVersionMatchesGoMod(t *testing.T) {
	goLine := submatch(t, `(?m)^go (\S+)`, readFile(t, filepath.Join(repoRoot, "go.mod")), "go.mod")
	from := readDockerfile(t).stages[0].from
	tag := submatch(t, `^golang:([0-9.]+)`, from, "build stage FROM")
	parts := strings.SplitN(goLine, ".", 3)
	minor := strings.Join(parts[:min(2, len(parts))], ".")
	if tag != minor && tag != goLine {
		t.Errorf("build stage is %s, go.mod says go %s: want golang:%s or golang:%s", from, goLine, minor, goLine)
	}
}

func TestDockerfileExposesThePortComposeMaps(t *testing.T) {
	rt := readDockerfile(t).runtime()
	p := mustLoadStack(t, hostEnv())
	server := service(t, p, "server")
	composePort := port(t, environment(server)["IMAGEGEN_ADDR"])
	if got := rt.all("EXPOSE"); !slices.Equal(got, []string{composePort}) {
		t.Errorf("EXPOSE %q, but compose's IMAGEGEN_ADDR listens on %s", got, composePort)
	}
	if imagePort := port(t, rt.env()["IMAGEGEN_ADDR"]); imagePort != composePort {
		t.Errorf("the image listens on %s (ENV IMAGEGEN_ADDR), compose on %s", imagePort, composePort)
	}
	target, _ := strconv.ParseUint(composePort, 10, 32)
	if _, ok := published(server, uint32(target)); !ok {
		t.Errorf("compose does not publish the server's port %s (ports %v)", composePort, server.Ports)
	}
}

func TestDockerfileRunsAsNonRootWithADataVolume(t *testing.T) {
	rt := readDockerfile(t).runtime()
	users := rt.all("USER")
	if len(users) == 0 || users[len(users)-1] == "root" || users[len(users)-1] == "0" {
		t.Errorf("runtime stage USER %q: want a non-root user", users)
	}
	dataDir := rt.env()["IMAGEGEN_DATA_DIR"]
	if dataDir == "" || !slices.Contains(rt.all("VOLUME"), dataDir) {
		t.Errorf("ENV IMAGEGEN_DATA_DIR=%q, VOLUME %q: want the data dir to be a volume", dataDir, rt.all("VOLUME"))
	}
	p := mustLoadStack(t, hostEnv())
	if got := environment(service(t, p, "worker"))["IMAGEGEN_DATA_DIR"]; got != dataDir {
		t.Errorf("compose sets IMAGEGEN_DATA_DIR=%q, but the image's volume is %q", got, dataDir)
	}
}

// The compose health checks run a program inside the imagegen image:
// distroless or scratch have no shell, wget or curl.
func TestImagegenHealthCheckProgramExistsInTheImage(t *testing.T) {
	base := readDockerfile(t).runtime().from
	busybox := strings.HasPrefix(base, "alpine:") || strings.HasPrefix(base, "busybox:")
	p := mustLoadStack(t, hostEnv())
	for _, svc := range []string{"server", "worker"} {
		s := service(t, p, svc)
		if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 {
			continue // TestImagegenHealthChecksHitHealthzOnTheListenPort reports it
		}
		prog := s.HealthCheck.Test[1]
		if s.HealthCheck.Test[0] == "CMD-SHELL" {
			prog = strings.Fields(prog)[0]
		}
		if !busybox || !slices.Contains([]string{"wget", "nc", "sh"}, prog) {
			t.Errorf("%s health check runs %q, which the runtime image %s does not have", svc, prog, base)
		}
	}
}

// The server config the cluster suite runs (and README's commands start)
// uses the repository's dynamic config by default, and its default
// membership ports fit the smallint Temporal stores them in.
func TestServerConfigTemplateDefaults(t *testing.T) {
	cfg := readFile(t, filepath.Join(repoRoot, ServerConfigFile))
	if !strings.HasPrefix(cfg, "# enable-template\n") {
		t.Errorf("%s does not start with \"# enable-template\": the server would not render its settings", ServerConfigFile)
	}
	if want := `(env "TEMPORAL_DYNAMIC_CONFIG")`; !strings.Contains(cfg, `default "`+DynamicConfigFile+`" `+want) {
		t.Errorf("%s: dynamicConfigClient.filepath does not default to %s", ServerConfigFile, DynamicConfigFile)
	}
	ports := regexp.MustCompile(`membershipPort: \{\{ default "(\d+)"`).FindAllStringSubmatch(cfg, -1)
	if len(ports) != 4 {
		t.Fatalf("%s: %d membership ports with defaults, want 4 (frontend, matching, history, worker)", ServerConfigFile, len(ports))
	}
	for _, m := range ports {
		if p, _ := strconv.Atoi(m[1]); p >= 32768 {
			t.Errorf("%s: default membership port %d does not fit Temporal's smallint column", ServerConfigFile, p)
		}
	}
}
