// Package config is imagegen's configuration: one declarative table of every
// setting (its field, environment variable, flag, default, whether it is a
// secret, how it is checked), the parsing of a subcommand's flags over the
// environment, the validation, and the translation into the typed options
// of package app. Nothing else in the module reads the environment.
//
// It is a package of its own, under cmd/imagegen, so that the deploy test
// (deploy/compose_test.go) reads the very table the binary parses with.
package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/imagefetch"
	"github.com/imagegen/imagegen/objectstore"
	"github.com/imagegen/imagegen/openai"
	"github.com/imagegen/imagegen/preview"
	"github.com/imagegen/imagegen/workersai"
)

// Config holds every setting as parsed. Field documents the table row.
type Config struct {
	Addr      string
	AuthToken string
	DataDir   string
	PublicURL string
	// AllowedHosts are the names the HTTP server and the dev Web UI answer
	// to besides loopback ones (comma-separated in the environment).
	AllowedHosts []string
	Provider     string // workersai | preview | "" (auto: workersai when Cloudflare credentials are set)
	LogFormat    string
	LogLevel     string

	CloudflareAccountID string
	CloudflareAPIToken  string
	CloudflareBaseURL   string

	// The openai-image model runs only with a key; without one its jobs fail fast.
	OpenAIAPIKey     string
	OpenAIBaseURL    string
	OpenAIImageModel string

	R2Bucket          string
	R2AccessKeyID     string
	R2SecretAccessKey string
	R2Endpoint        string
	R2PublicURL       string
	R2PathStyle       bool

	TemporalAddress   string
	TemporalNamespace string
	TemporalUIURL     string

	// Credentials for an external Temporal (see app.TemporalOptions). Dev
	// mode makes and uses its own secret instead.
	TemporalAPIKey        string
	TemporalTLSCert       string
	TemporalTLSKey        string
	TemporalTLSCA         string
	TemporalTLSServerName string
	TemporalTLS           string // "true" or "false" forces TLS; "" = automatic

	// Worker tuning (dev and worker), as text: ProviderRate is calls per
	// second (0 = no limit), WorkerActivities a count. See their rows.
	ProviderRate     string
	WorkerActivities string
	// Bounds of the MCP routes, as text counts; see their rows.
	MaxSSESessionsPerClient, MaxSSESessions, MaxCallsPerSession, MaxCalls string
	// PreviewDelay is how long each preview image takes, as text (a Go
	// duration); see its row.
	PreviewDelay string
	// The budget, as text: dollars (DailyBudget, JobBudget) and a Go
	// duration (BudgetOrphanGrace); see their rows.
	DailyBudget, JobBudget, BudgetOrphanGrace string
	// FetchAllow lists the CIDR prefixes (or addresses) input image URLs
	// may reach although they are not public (comma-separated).
	FetchAllow []string

	// Dev mode only.
	TemporalPort int
	UIPort       int
	Retention    time.Duration

	// Not settable from outside: tests shorten them.
	// MaxWait caps blocking tool calls; 0 = 60 s.
	MaxWait time.Duration
	// ProviderTimeout bounds one provider call; 0 = the model's own Timeout.
	ProviderTimeout time.Duration
}

// Field is one row of the configuration table.
type Field struct {
	// Env is the environment variable ("" for a flag-only setting).
	Env string
	// Flag is the command-line flag without dashes ("" = environment only:
	// secrets and identifiers never become flags, which process listings show).
	Flag string
	// Default is the documented default as text ("" = none). A field with
	// an environment variable gets it when the value is empty; a flag-only
	// field gets it as its flag's default.
	Default string
	// Secret values are never logged, printed or accepted as flags.
	Secret bool
	// Modes are the subcommands that read the setting; nil = all of them.
	Modes []string
	Usage string

	ptr   func(*Config) any  // *string, *[]string (comma-separated), *bool, *int or *time.Duration
	check func(Config) error // run on the value after defaults, if set
	fill  func(*Config)      // derived default, run after Default
}

// Fields returns the configuration table, in the order of the README.
func Fields() []Field {
	external := []string{"serve", "worker", "stdio", "jobs"}
	dev := []string{"dev"}
	workers := []string{"dev", "worker"}
	// starters start jobs (and read the budget): jobs covers the operator
	// commands (imagegen jobs retry, imagegen budget).
	starters := []string{"dev", "serve", "stdio", "jobs"}
	return []Field{
		{Env: "IMAGEGEN_ADDR", Flag: "addr", Default: "127.0.0.1:8080", Usage: "HTTP listen address for /mcp, /sse, /healthz and images",
			ptr: func(c *Config) any { return &c.Addr }, check: checkAddr},
		{Env: "IMAGEGEN_AUTH_TOKEN", Secret: true, Usage: "bearer token of /mcp, /sse and the gallery; required off loopback",
			ptr: func(c *Config) any { return &c.AuthToken }},
		{Env: "IMAGEGEN_DATA_DIR", Flag: "data-dir", Default: ".imagegen", Usage: "data directory: Temporal database (dev), staged and local images",
			ptr: func(c *Config) any { return &c.DataDir }},
		{Env: "IMAGEGEN_PUBLIC_URL", Flag: "public-url", Usage: "base URL written into local image URLs",
			ptr: func(c *Config) any { return &c.PublicURL }},
		{Env: "IMAGEGEN_ALLOWED_HOSTS", Flag: "allowed-hosts", Usage: "comma-separated host names the HTTP server (and the dev Web UI) answer to besides localhost",
			ptr: func(c *Config) any { return &c.AllowedHosts }},
		{Env: "IMAGEGEN_MAX_SSE_SESSIONS_PER_CLIENT", Flag: "max-sse-sessions-per-client", Default: "16",
			Usage: "open /sse streams one client address may hold; more are refused with 429",
			ptr:   func(c *Config) any { return &c.MaxSSESessionsPerClient }, check: checkCount("IMAGEGEN_MAX_SSE_SESSIONS_PER_CLIENT", func(c Config) string { return c.MaxSSESessionsPerClient })},
		{Env: "IMAGEGEN_MAX_SSE_SESSIONS", Flag: "max-sse-sessions", Default: "256",
			Usage: "open /sse streams in total; more are refused with 429",
			ptr:   func(c *Config) any { return &c.MaxSSESessions }, check: checkCount("IMAGEGEN_MAX_SSE_SESSIONS", func(c Config) string { return c.MaxSSESessions })},
		{Env: "IMAGEGEN_MAX_CALLS_PER_SESSION", Flag: "max-calls-per-session", Default: "8",
			Usage: "MCP requests in flight at once on one SSE session; more are refused with 429",
			ptr:   func(c *Config) any { return &c.MaxCallsPerSession }, check: checkCount("IMAGEGEN_MAX_CALLS_PER_SESSION", func(c Config) string { return c.MaxCallsPerSession })},
		{Env: "IMAGEGEN_MAX_CALLS", Flag: "max-calls", Default: "512",
			Usage: "MCP requests in flight at once across /mcp and /message; more are refused with 429",
			ptr:   func(c *Config) any { return &c.MaxCalls }, check: checkCount("IMAGEGEN_MAX_CALLS", func(c Config) string { return c.MaxCalls })},
		{Env: "IMAGEGEN_PROVIDER", Flag: "provider", Usage: "image provider: workersai or preview (default: workersai when Cloudflare credentials are set)",
			ptr: func(c *Config) any { return &c.Provider }, fill: fillProvider, check: checkProvider},
		// After IMAGEGEN_PROVIDER: the rate's default depends on the provider.
		{Env: "IMAGEGEN_PROVIDER_RATE", Flag: "provider-rate", Modes: workers,
			Usage: "provider calls per second across all workers, held by Temporal as the shared queue's activity rate limit; 0 = no limit (default 12 with workersai, whose limit is 720/min; none with preview)",
			ptr:   func(c *Config) any { return &c.ProviderRate }, fill: fillProviderRate, check: checkProviderRate},
		{Env: "IMAGEGEN_WORKER_ACTIVITIES", Flag: "worker-activities", Default: "64", Modes: workers,
			Usage: "activities one worker runs at once, per task queue (provider calls; uploads)",
			ptr:   func(c *Config) any { return &c.WorkerActivities }, check: checkWorkerActivities},
		{Env: "IMAGEGEN_PREVIEW_DELAY", Flag: "preview-delay", Default: "0s", Modes: workers,
			Usage: "preview provider only: how long each placeholder takes, e.g. 8s to feel like FLUX (a prompt's [delay:30s] overrides it)",
			ptr:   func(c *Config) any { return &c.PreviewDelay }, check: checkPreviewDelay},
		{Env: "IMAGEGEN_FETCH_ALLOW", Flag: "fetch-allow", Modes: workers,
			Usage: "comma-separated CIDR prefixes or addresses that input image URLs may reach although they are private, loopback or link-local (e.g. 10.20.0.0/16); empty = public addresses only",
			ptr:   func(c *Config) any { return &c.FetchAllow }, check: checkFetchAllow},
		{Env: "IMAGEGEN_DAILY_BUDGET_USD", Flag: "daily-budget-usd", Modes: starters,
			Usage: "what the jobs of one UTC day may cost together, in dollars (e.g. 5); a job whose estimate does not fit in what is left is refused before it starts (default: no daily budget)",
			ptr:   func(c *Config) any { return &c.DailyBudget }, check: checkUSD("IMAGEGEN_DAILY_BUDGET_USD", func(c Config) string { return c.DailyBudget })},
		{Env: "IMAGEGEN_JOB_BUDGET_USD", Flag: "job-budget-usd", Modes: starters,
			Usage: "the most one job's estimate may be, in dollars (e.g. 0.05); larger jobs are refused (default: no ceiling)",
			ptr:   func(c *Config) any { return &c.JobBudget }, check: checkUSD("IMAGEGEN_JOB_BUDGET_USD", func(c Config) string { return c.JobBudget })},
		{Env: "IMAGEGEN_BUDGET_ORPHAN_GRACE", Flag: "budget-orphan-grace", Default: "2m", Modes: starters,
			Usage: "how long a budget reservation waits for its job to start before the day's ledger checks that the job runs and, if not, releases it",
			ptr:   func(c *Config) any { return &c.BudgetOrphanGrace }, check: checkOrphanGrace},
		{Env: "IMAGEGEN_LOG_FORMAT", Flag: "log-format", Default: "text", Usage: "log format: text or json",
			ptr: func(c *Config) any { return &c.LogFormat }, check: oneOf("IMAGEGEN_LOG_FORMAT", func(c Config) string { return c.LogFormat }, "text", "json")},
		{Env: "IMAGEGEN_LOG_LEVEL", Flag: "log-level", Usage: "log level: debug, info, warn, error (default info)",
			ptr: func(c *Config) any { return &c.LogLevel }, check: oneOf("IMAGEGEN_LOG_LEVEL", func(c Config) string { return strings.ToLower(c.LogLevel) }, "", "debug", "info", "warn", "error")},
		{Env: "CLOUDFLARE_ACCOUNT_ID", Usage: "Workers AI account (and R2's default endpoint)",
			ptr: func(c *Config) any { return &c.CloudflareAccountID }},
		{Env: "CLOUDFLARE_API_TOKEN", Secret: true, Usage: "Workers AI API token",
			ptr: func(c *Config) any { return &c.CloudflareAPIToken }},
		{Env: "CLOUDFLARE_API_BASE_URL", Flag: "cloudflare-api-base-url", Default: "https://api.cloudflare.com/client/v4", Usage: "Workers AI API base URL (AI Gateway)",
			ptr: func(c *Config) any { return &c.CloudflareBaseURL }},
		{Env: "OPENAI_API_KEY", Secret: true, Usage: "key for the OpenAI-compatible images API (openai-image runs only with one)",
			ptr: func(c *Config) any { return &c.OpenAIAPIKey }},
		{Env: "OPENAI_BASE_URL", Flag: "openai-base-url", Usage: "OpenAI-compatible images API root (default https://api.openai.com/v1)",
			ptr: func(c *Config) any { return &c.OpenAIBaseURL }},
		{Env: "OPENAI_IMAGE_MODEL", Flag: "openai-image-model", Usage: "model id the openai-image model sends (default gpt-image-2)",
			ptr: func(c *Config) any { return &c.OpenAIImageModel }},
		{Env: "R2_BUCKET", Usage: "bucket for images; with the two keys, images go to R2/S3 instead of the data dir",
			ptr: func(c *Config) any { return &c.R2Bucket }},
		{Env: "R2_ACCESS_KEY_ID", Usage: "R2/S3 access key id",
			ptr: func(c *Config) any { return &c.R2AccessKeyID }},
		{Env: "R2_SECRET_ACCESS_KEY", Secret: true, Usage: "R2/S3 secret access key",
			ptr: func(c *Config) any { return &c.R2SecretAccessKey }},
		{Env: "R2_ENDPOINT", Flag: "r2-endpoint", Default: "https://{CLOUDFLARE_ACCOUNT_ID}.r2.cloudflarestorage.com", Usage: "S3 endpoint of the bucket",
			ptr: func(c *Config) any { return &c.R2Endpoint }, fill: fillR2Endpoint},
		{Env: "R2_PUBLIC_URL", Flag: "r2-public-url", Usage: "public base URL of the bucket; empty = presigned URLs",
			ptr: func(c *Config) any { return &c.R2PublicURL }},
		{Env: "R2_PATH_STYLE", Default: "false", Usage: "path-style bucket URLs (MinIO)",
			ptr: func(c *Config) any { return &c.R2PathStyle }},
		{Env: "TEMPORAL_ADDRESS", Flag: "temporal-address", Default: "127.0.0.1:7233", Modes: external, Usage: "Temporal frontend host:port",
			ptr: func(c *Config) any { return &c.TemporalAddress }},
		{Env: "TEMPORAL_NAMESPACE", Flag: "temporal-namespace", Default: "default", Usage: "Temporal namespace",
			ptr: func(c *Config) any { return &c.TemporalNamespace }},
		{Env: "TEMPORAL_UI_URL", Flag: "temporal-ui-url", Usage: "Temporal Web UI base URL, for job links",
			ptr: func(c *Config) any { return &c.TemporalUIURL }},
		{Env: "TEMPORAL_API_KEY", Secret: true, Modes: external, Usage: "API key for Temporal, sent as a bearer token (TLS on unless the address is loopback)",
			ptr: func(c *Config) any { return &c.TemporalAPIKey }},
		{Env: "TEMPORAL_TLS_CERT", Flag: "temporal-tls-cert", Modes: external, Usage: "mTLS client certificate file for Temporal",
			ptr: func(c *Config) any { return &c.TemporalTLSCert }},
		{Env: "TEMPORAL_TLS_KEY", Flag: "temporal-tls-key", Modes: external, Usage: "private key file of that certificate",
			ptr: func(c *Config) any { return &c.TemporalTLSKey }},
		{Env: "TEMPORAL_TLS_CA", Flag: "temporal-tls-ca", Modes: external, Usage: "CA certificate file that signed Temporal's server certificate",
			ptr: func(c *Config) any { return &c.TemporalTLSCA }},
		{Env: "TEMPORAL_TLS_SERVER_NAME", Flag: "temporal-tls-server-name", Modes: external, Usage: "server name to verify in Temporal's certificate",
			ptr: func(c *Config) any { return &c.TemporalTLSServerName }},
		{Env: "TEMPORAL_TLS", Flag: "temporal-tls", Modes: external, Usage: "true or false: force TLS to Temporal on or off (default: automatic)",
			ptr: func(c *Config) any { return &c.TemporalTLS }},
		{Flag: "temporal-port", Default: "7233", Modes: dev, Usage: "embedded Temporal gRPC port (0 = remembered in the data dir, else a free port)",
			ptr: func(c *Config) any { return &c.TemporalPort }, check: checkPort("--temporal-port", func(c Config) int { return c.TemporalPort })},
		{Flag: "ui-port", Default: "8233", Modes: dev, Usage: "Temporal Web UI port (0 = a free port, -1 = no UI)",
			ptr: func(c *Config) any { return &c.UIPort }, check: checkPort("--ui-port", func(c Config) int { return c.UIPort })},
		{Flag: "retention", Default: "720h", Modes: dev, Usage: "how long finished jobs are kept",
			ptr: func(c *Config) any { return &c.Retention }, fill: fillRetention, check: checkRetention},
	}
}

// EnvNames returns the environment variables the table reads.
func EnvNames() []string {
	var names []string
	for _, f := range Fields() {
		if f.Env != "" {
			names = append(names, f.Env)
		}
	}
	return names
}

func (f Field) readBy(mode string) bool {
	if f.Modes == nil {
		return true
	}
	for _, m := range f.Modes {
		if m == mode {
			return true
		}
	}
	return false
}

// Bind defines the flags of subcommand mode on fs and reads the environment
// through getenv; the returned Config is filled in when fs is parsed. Every
// flag's default is its environment variable's value, so flags override the
// environment. Apply Defaults after parsing.
func Bind(fs *flag.FlagSet, getenv func(string) string, mode string) *Config {
	c := &Config{}
	for _, f := range Fields() {
		if !f.readBy(mode) {
			continue
		}
		val := f.Default
		if f.Env != "" {
			// Environment fields get their Default in Defaults, so that a
			// Config built in code gets it too.
			val = getenv(f.Env)
		}
		usage := f.Usage
		if f.Env != "" {
			usage += " (" + f.Env + ")"
		}
		switch p := f.ptr(c).(type) {
		case *string:
			if f.Flag != "" {
				fs.StringVar(p, f.Flag, val, usage)
			} else {
				*p = val
			}
		case *[]string:
			*p = splitList(val)
			if f.Flag != "" {
				fs.Func(f.Flag, usage, func(v string) error {
					*p = splitList(v)
					return nil
				})
			}
		case *bool:
			b, _ := strconv.ParseBool(val) // an unparsable value means false, as ever
			if f.Flag != "" {
				fs.BoolVar(p, f.Flag, b, usage)
			} else {
				*p = b
			}
		case *int:
			n, _ := strconv.Atoi(val)
			fs.IntVar(p, f.Flag, n, usage)
		case *time.Duration:
			d, _ := time.ParseDuration(val)
			fs.DurationVar(p, f.Flag, d, usage)
		}
	}
	return c
}

// Parse parses a subcommand's flags over the environment and returns the
// configuration with defaults applied and validated.
func Parse(mode string, args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("imagegen "+mode, flag.ContinueOnError)
	c := Bind(fs, getenv, mode)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c.Defaults(), nil
}

// Defaults fills in the table's defaults: for every field with an
// environment variable an empty value gets Default, then the derived
// defaults (provider, R2 endpoint, retention). Values already set are kept.
// Flag-only ports keep a zero from code: it means "a free port".
func (c Config) Defaults() Config {
	for _, f := range Fields() {
		if f.Env != "" && f.Default != "" {
			if p, ok := f.ptr(&c).(*string); ok && *p == "" && !strings.Contains(f.Default, "{") {
				*p = f.Default
			}
		}
		if f.fill != nil {
			f.fill(&c)
		}
	}
	return c
}

// splitList splits a comma-separated setting, dropping empty entries.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func fillRetention(c *Config) {
	if c.Retention == 0 {
		c.Retention = 30 * 24 * time.Hour
	}
}

func fillProvider(c *Config) {
	if c.Provider == "" {
		c.Provider = app.ProviderPreview
		if c.CloudflareAccountID != "" || c.CloudflareAPIToken != "" {
			c.Provider = app.ProviderWorkersAI
		}
	}
}

// DefaultProviderRate: Workers AI allows 720 text-to-image requests per
// minute per account, 12 per second.
const DefaultProviderRate = "12"

func fillProviderRate(c *Config) {
	if c.ProviderRate == "" {
		c.ProviderRate = "0"
		if c.Provider == app.ProviderWorkersAI {
			c.ProviderRate = DefaultProviderRate
		}
	}
}

// providerRate and workerActivities parse the two settings; "" reads as
// the zero value (a Config that skipped Defaults).
func (c Config) providerRate() (float64, error) {
	if c.ProviderRate == "" {
		return 0, nil
	}
	r, err := strconv.ParseFloat(strings.TrimSpace(c.ProviderRate), 64)
	if err != nil || r < 0 || r > 100000 || r != r {
		return 0, fmt.Errorf("IMAGEGEN_PROVIDER_RATE=%q is not a rate: use calls per second, e.g. 12 (Workers AI allows 720 per minute), or 0 for no limit", c.ProviderRate)
	}
	return r, nil
}

func (c Config) workerActivities() (int, error) {
	if c.WorkerActivities == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(c.WorkerActivities))
	if err != nil || n < 1 || n > 10000 {
		return 0, fmt.Errorf("IMAGEGEN_WORKER_ACTIVITIES=%q is not a count: use 1 to 10000 activities at once per worker", c.WorkerActivities)
	}
	return n, nil
}

// count parses a bound's count: 1 to 1,000,000 ("" = the default, 0).
func count(env, v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > 1000000 {
		return 0, fmt.Errorf("%s=%q is not a count: use 1 to 1000000", env, v)
	}
	return n, nil
}

func checkCount(env string, get func(Config) string) func(Config) error {
	return func(c Config) error { _, err := count(env, get(c)); return err }
}

func checkProviderRate(c Config) error     { _, err := c.providerRate(); return err }
func checkWorkerActivities(c Config) error { _, err := c.workerActivities(); return err }

func fillR2Endpoint(c *Config) {
	if c.R2Endpoint == "" && c.CloudflareAccountID != "" {
		c.R2Endpoint = "https://" + c.CloudflareAccountID + ".r2.cloudflarestorage.com"
	}
}

// UsesR2 reports whether images go to object storage instead of a local dir.
func (c Config) UsesR2() bool {
	return c.R2Bucket != "" || c.R2AccessKeyID != "" || c.R2SecretAccessKey != ""
}

// Validate reports the first configuration mistake in one clear line: the
// rules that tie settings together, then each field's own check. It never
// prints a secret's value, only its name.
func (c Config) Validate() error {
	if (c.CloudflareAccountID == "") != (c.CloudflareAPIToken == "") {
		missing, set := "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID"
		if c.CloudflareAccountID == "" {
			missing, set = set, missing
		}
		return fmt.Errorf("%s is set but %s is not: set both for Workers AI, or neither for the offline preview provider", set, missing)
	}
	if c.Provider == app.ProviderWorkersAI && c.CloudflareAccountID == "" {
		return errors.New("IMAGEGEN_PROVIDER=workersai needs CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN")
	}
	for _, f := range Fields() {
		if f.check != nil {
			if err := f.check(c); err != nil {
				return err
			}
		}
	}
	if c.OpenAIAPIKey == "" && (c.OpenAIBaseURL != "" || c.OpenAIImageModel != "") {
		return errors.New("OPENAI_BASE_URL or OPENAI_IMAGE_MODEL is set but OPENAI_API_KEY is not: set the key (any non-empty value for a server without auth) or unset them")
	}
	if c.OpenAIAPIKey != "" {
		if _, err := openai.New(c.openAIConfig()); err != nil {
			return fmt.Errorf("OpenAI-compatible images API: %w (OPENAI_BASE_URL, OPENAI_IMAGE_MODEL, OPENAI_API_KEY)", err)
		}
	}
	if c.UsesR2() {
		var missing []string
		for _, v := range []struct{ name, val string }{
			{"R2_BUCKET", c.R2Bucket}, {"R2_ACCESS_KEY_ID", c.R2AccessKeyID}, {"R2_SECRET_ACCESS_KEY", c.R2SecretAccessKey},
		} {
			if v.val == "" {
				missing = append(missing, v.name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("R2 storage is half configured: %s missing (set R2_BUCKET, R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY together)", strings.Join(missing, ", "))
		}
		if c.R2Endpoint == "" {
			return errors.New("R2 storage needs R2_ENDPOINT or CLOUDFLARE_ACCOUNT_ID (for https://{account}.r2.cloudflarestorage.com)")
		}
	}
	return nil
}

func checkAddr(c Config) error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("IMAGEGEN_ADDR=%q is not host:port: %v", c.Addr, err)
	}
	return nil
}

func checkProvider(c Config) error {
	switch c.Provider {
	case app.ProviderWorkersAI, app.ProviderPreview:
		return nil
	}
	return fmt.Errorf("IMAGEGEN_PROVIDER=%q is not a provider: use workersai or preview", c.Provider)
}

// usd parses a budget amount in dollars ("" = none, 0).
func usd(env, v string) (imagegen.USD, error) {
	if strings.TrimSpace(v) == "" {
		return 0, nil
	}
	u, err := imagegen.ParseUSD(strings.TrimSpace(v))
	if err != nil || u < 0 {
		return 0, fmt.Errorf("%s=%q is not an amount: use dollars, e.g. 5 or 0.25 (unset for no budget)", env, v)
	}
	return u, nil
}

func checkUSD(env string, get func(Config) string) func(Config) error {
	return func(c Config) error { _, err := usd(env, get(c)); return err }
}

// orphanGrace parses IMAGEGEN_BUDGET_ORPHAN_GRACE ("" = the default).
func (c Config) orphanGrace() (time.Duration, error) {
	if c.BudgetOrphanGrace == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.BudgetOrphanGrace)
	if err != nil || d < time.Second || d > 24*time.Hour {
		return 0, fmt.Errorf("IMAGEGEN_BUDGET_ORPHAN_GRACE=%q is not a grace period: use a duration from 1s to 24h, e.g. 2m", c.BudgetOrphanGrace)
	}
	return d, nil
}

func checkOrphanGrace(c Config) error { _, err := c.orphanGrace(); return err }

func checkPreviewDelay(c Config) error {
	if _, err := c.previewDelay(); err != nil {
		return err
	}
	return nil
}

// previewDelay parses IMAGEGEN_PREVIEW_DELAY ("" = none).
func (c Config) previewDelay() (time.Duration, error) {
	if c.PreviewDelay == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.PreviewDelay)
	if err != nil || d < 0 || d > preview.MaxDelay {
		return 0, fmt.Errorf("IMAGEGEN_PREVIEW_DELAY=%q is not a delay: use a duration from 0s to %s, e.g. 8s", c.PreviewDelay, preview.MaxDelay)
	}
	return d, nil
}

func checkFetchAllow(c Config) error {
	if _, err := imagefetch.ParseAllow(c.FetchAllow); err != nil {
		return fmt.Errorf("IMAGEGEN_FETCH_ALLOW: %w", err)
	}
	return nil
}

func checkRetention(c Config) error {
	if c.Retention < time.Hour {
		return fmt.Errorf("retention %s is too short: use at least 1h", c.Retention)
	}
	return nil
}

func checkPort(name string, get func(Config) int) func(Config) error {
	return func(c Config) error {
		if p := get(c); p < -1 || p > 65535 {
			return fmt.Errorf("%s=%d is not a port: use 0-65535 (or -1 where it disables)", name, p)
		}
		return nil
	}
}

func oneOf(name string, get func(Config) string, allowed ...string) func(Config) error {
	return func(c Config) error {
		v := get(c)
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("%s=%q: use %s", name, v, strings.Join(allowed, " or "))
	}
}

func (c Config) openAIConfig() openai.Config {
	return openai.Config{APIKey: c.OpenAIAPIKey, BaseURL: c.OpenAIBaseURL, Model: c.OpenAIImageModel}
}

// Options turns a configuration (defaults applied, validated) into the typed
// options of the composition root.
func (c Config) Options(log *slog.Logger) (app.Options, error) {
	dataDir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return app.Options{}, fmt.Errorf("data dir %s: %w", c.DataDir, err)
	}
	o := app.Options{
		Logger:  log,
		DataDir: dataDir,
		HTTP:    app.HTTPOptions{Addr: c.Addr, AuthToken: c.AuthToken, PublicURL: c.PublicURL, AllowedHosts: c.AllowedHosts},
		Temporal: app.TemporalOptions{
			Address: c.TemporalAddress, Namespace: c.TemporalNamespace, UIURL: c.TemporalUIURL,
			APIKey: c.TemporalAPIKey, TLSCert: c.TemporalTLSCert, TLSKey: c.TemporalTLSKey, TLSCA: c.TemporalTLSCA,
			TLSServerName: c.TemporalTLSServerName, TLS: c.TemporalTLS,
			SecretDir:      filepath.Join(dataDir, app.DevTemporalDir),
			UIAllowedHosts: c.AllowedHosts,
		},
		Dev: app.DevOptions{Port: c.TemporalPort, UIPort: c.UIPort, Retention: c.Retention},
		Provider: app.ProviderOptions{
			Name:        c.Provider,
			WorkersAI:   workersai.Config{AccountID: c.CloudflareAccountID, APIToken: c.CloudflareAPIToken, BaseURL: c.CloudflareBaseURL},
			CallTimeout: c.ProviderTimeout,
		},
		MaxWait: c.MaxWait,
	}
	for _, b := range []struct {
		env, v string
		to     *int
	}{
		{"IMAGEGEN_MAX_SSE_SESSIONS_PER_CLIENT", c.MaxSSESessionsPerClient, &o.HTTP.MCPLimits.SSESessionsPerClient},
		{"IMAGEGEN_MAX_SSE_SESSIONS", c.MaxSSESessions, &o.HTTP.MCPLimits.SSESessions},
		{"IMAGEGEN_MAX_CALLS_PER_SESSION", c.MaxCallsPerSession, &o.HTTP.MCPLimits.CallsPerSession},
		{"IMAGEGEN_MAX_CALLS", c.MaxCalls, &o.HTTP.MCPLimits.Calls},
	} {
		if *b.to, err = count(b.env, b.v); err != nil {
			return app.Options{}, err
		}
	}
	if o.Fetch.Policy.Allow, err = imagefetch.ParseAllow(c.FetchAllow); err != nil {
		return app.Options{}, fmt.Errorf("IMAGEGEN_FETCH_ALLOW: %w", err)
	}
	if o.Provider.PreviewDelay, err = c.previewDelay(); err != nil {
		return app.Options{}, err
	}
	if o.Budget.Daily, err = usd("IMAGEGEN_DAILY_BUDGET_USD", c.DailyBudget); err != nil {
		return app.Options{}, err
	}
	if o.Budget.PerJob, err = usd("IMAGEGEN_JOB_BUDGET_USD", c.JobBudget); err != nil {
		return app.Options{}, err
	}
	if o.Budget.OrphanGrace, err = c.orphanGrace(); err != nil {
		return app.Options{}, err
	}
	rate, err := c.providerRate()
	if err != nil {
		return app.Options{}, err
	}
	activities, err := c.workerActivities()
	if err != nil {
		return app.Options{}, err
	}
	// The rate limit goes to the shared queue only (see app.WorkerOptions).
	o.Worker = worker.Options{TaskQueueActivitiesPerSecond: rate, MaxConcurrentActivityExecutionSize: activities}
	if c.OpenAIAPIKey != "" {
		oc := c.openAIConfig()
		o.Provider.OpenAI = &oc
	}
	if c.UsesR2() {
		o.Storage.S3 = &objectstore.S3Config{
			Bucket: c.R2Bucket, AccessKeyID: c.R2AccessKeyID, SecretAccessKey: c.R2SecretAccessKey,
			Endpoint: c.R2Endpoint, PublicBaseURL: c.R2PublicURL, UsePathStyle: c.R2PathStyle,
			// The Store activity's retry policy owns retries and backoff.
			MaxAttempts: 1,
		}
	}
	return o, nil
}

// Resolve applies defaults, validates and returns the typed options: what a
// service subcommand (and a test standing in for one) starts from.
func (c Config) Resolve(log *slog.Logger) (app.Options, error) {
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		return app.Options{}, err
	}
	return c.Options(log)
}
