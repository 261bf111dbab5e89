package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/objectstore"
	"github.com/imagegen/imagegen/openai"
	"github.com/imagegen/imagegen/workersai"
)

// Config is the whole configuration. Field comments name the environment
// variable each one comes from (see README "Configuration").
type Config struct {
	Addr      string // IMAGEGEN_ADDR
	AuthToken string // IMAGEGEN_AUTH_TOKEN
	DataDir   string // IMAGEGEN_DATA_DIR
	PublicURL string // IMAGEGEN_PUBLIC_URL
	// AllowedHosts (IMAGEGEN_ALLOWED_HOSTS, comma-separated) are the names
	// the HTTP server and the dev Web UI answer to besides loopback ones.
	AllowedHosts []string
	Provider     string // IMAGEGEN_PROVIDER: workersai | preview | "" (auto)
	LogFormat    string // IMAGEGEN_LOG_FORMAT: text | json
	LogLevel     string // IMAGEGEN_LOG_LEVEL: debug | info | warn | error

	CloudflareAccountID string // CLOUDFLARE_ACCOUNT_ID
	CloudflareAPIToken  string // CLOUDFLARE_API_TOKEN
	CloudflareBaseURL   string // CLOUDFLARE_API_BASE_URL

	// The openai-image model runs only with a key; without one its jobs fail fast.
	OpenAIAPIKey     string // OPENAI_API_KEY: key for the OpenAI-compatible images API
	OpenAIBaseURL    string // OPENAI_BASE_URL: API root; default https://api.openai.com/v1
	OpenAIImageModel string // OPENAI_IMAGE_MODEL: model id openai-image sends; default gpt-image-2

	R2Bucket          string // R2_BUCKET
	R2AccessKeyID     string // R2_ACCESS_KEY_ID
	R2SecretAccessKey string // R2_SECRET_ACCESS_KEY
	R2Endpoint        string // R2_ENDPOINT
	R2PublicURL       string // R2_PUBLIC_URL
	R2PathStyle       bool   // R2_PATH_STYLE (MinIO)

	TemporalAddress   string // TEMPORAL_ADDRESS
	TemporalNamespace string // TEMPORAL_NAMESPACE
	TemporalUIURL     string // TEMPORAL_UI_URL: links to jobs in the Web UI

	// Credentials for an external Temporal (see temporalConnection). Dev
	// mode makes and uses its own secret instead.
	TemporalAPIKey        string // TEMPORAL_API_KEY (environment only)
	TemporalTLSCert       string // TEMPORAL_TLS_CERT: mTLS client certificate file
	TemporalTLSKey        string // TEMPORAL_TLS_KEY: its private key file
	TemporalTLSCA         string // TEMPORAL_TLS_CA: CA file for the server's certificate
	TemporalTLSServerName string // TEMPORAL_TLS_SERVER_NAME
	TemporalTLS           string // TEMPORAL_TLS: "true" or "false" forces TLS; "" = automatic

	// Dev mode only.
	TemporalPort int           // --temporal-port: 0 = remembered or free port
	UIPort       int           // --ui-port: 0 = free port, -1 = no UI
	Retention    time.Duration // --retention: how long finished jobs are kept

	// MaxWait caps blocking tool calls (tests shorten it); 0 = 60 s.
	MaxWait time.Duration
	// ProviderTimeout bounds one provider call (tests shorten it); 0 = the
	// model's own Timeout.
	ProviderTimeout time.Duration
}

// Defaults fills in the documented defaults.
func (c Config) Defaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = ".imagegen"
	}
	if c.TemporalAddress == "" {
		c.TemporalAddress = "127.0.0.1:7233"
	}
	if c.TemporalNamespace == "" {
		c.TemporalNamespace = "default"
	}
	if c.CloudflareBaseURL == "" {
		c.CloudflareBaseURL = "https://api.cloudflare.com/client/v4"
	}
	if c.R2Endpoint == "" && c.CloudflareAccountID != "" {
		c.R2Endpoint = "https://" + c.CloudflareAccountID + ".r2.cloudflarestorage.com"
	}
	if c.Provider == "" {
		if c.CloudflareAccountID != "" || c.CloudflareAPIToken != "" {
			c.Provider = ProviderWorkersAI
		} else {
			c.Provider = ProviderPreview
		}
	}
	if c.Retention == 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
	}
	return c
}

// UsesR2 reports whether images go to object storage instead of a local dir.
func (c Config) UsesR2() bool {
	return c.R2Bucket != "" || c.R2AccessKeyID != "" || c.R2SecretAccessKey != ""
}

// Validate reports the first configuration mistake in one clear line. It
// never prints a secret's value, only its name.
func (c Config) Validate() error {
	if (c.CloudflareAccountID == "") != (c.CloudflareAPIToken == "") {
		missing, set := "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID"
		if c.CloudflareAccountID == "" {
			missing, set = set, missing
		}
		return fmt.Errorf("%s is set but %s is not: set both for Workers AI, or neither for the offline preview provider", set, missing)
	}
	switch c.Provider {
	case ProviderWorkersAI:
		if c.CloudflareAccountID == "" {
			return errors.New("IMAGEGEN_PROVIDER=workersai needs CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN")
		}
	case ProviderPreview:
	default:
		return fmt.Errorf("IMAGEGEN_PROVIDER=%q is not a provider: use workersai or preview", c.Provider)
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
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("IMAGEGEN_ADDR=%q is not host:port: %v", c.Addr, err)
	}
	if c.Retention < time.Hour {
		return fmt.Errorf("retention %s is too short: use at least 1h", c.Retention)
	}
	return nil
}

func (c Config) openAIConfig() openai.Config {
	return openai.Config{APIKey: c.OpenAIAPIKey, BaseURL: c.OpenAIBaseURL, Model: c.OpenAIImageModel}
}

// Options turns a configuration (with defaults applied) into the typed
// options of the composition.
func (c Config) Options(log *slog.Logger) (Options, error) {
	dataDir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return Options{}, fmt.Errorf("data dir %s: %w", c.DataDir, err)
	}
	o := Options{
		Logger:  log,
		DataDir: dataDir,
		HTTP:    HTTPOptions{Addr: c.Addr, AuthToken: c.AuthToken, PublicURL: c.PublicURL, AllowedHosts: c.AllowedHosts},
		Temporal: TemporalOptions{
			Address: c.TemporalAddress, Namespace: c.TemporalNamespace, UIURL: c.TemporalUIURL,
			APIKey: c.TemporalAPIKey, TLSCert: c.TemporalTLSCert, TLSKey: c.TemporalTLSKey, TLSCA: c.TemporalTLSCA,
			TLSServerName: c.TemporalTLSServerName, TLS: c.TemporalTLS,
			SecretDir:      filepath.Join(dataDir, devTemporalDir),
			UIAllowedHosts: c.AllowedHosts,
		},
		Dev: DevOptions{Port: c.TemporalPort, UIPort: c.UIPort, Retention: c.Retention},
		Provider: ProviderOptions{
			Name:        c.Provider,
			WorkersAI:   workersai.Config{AccountID: c.CloudflareAccountID, APIToken: c.CloudflareAPIToken, BaseURL: c.CloudflareBaseURL},
			CallTimeout: c.ProviderTimeout,
		},
		MaxWait: c.MaxWait,
	}
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

// NewLogger builds the service logger (see logging.New).
func NewLogger(w io.Writer, format, level string) *slog.Logger { return logging.New(w, format, level) }

// Dev applies defaults to cfg, validates it and calls StartDev.
func Dev(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	o, err := cfg.validOptions(log)
	if err != nil {
		return nil, err
	}
	return StartDev(ctx, o)
}

// Serve applies defaults to cfg, validates it and calls StartServe.
func Serve(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	o, err := cfg.validOptions(log)
	if err != nil {
		return nil, err
	}
	return StartServe(ctx, o)
}

// Work applies defaults to cfg, validates it and calls StartWorker.
func Work(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	o, err := cfg.validOptions(log)
	if err != nil {
		return nil, err
	}
	return StartWorker(ctx, o)
}

// StdioConfig applies defaults to cfg, validates it and calls Stdio.
func StdioConfig(ctx context.Context, cfg Config, log *slog.Logger, in io.Reader, out io.Writer) error {
	o, err := cfg.validOptions(log)
	if err != nil {
		return err
	}
	return Stdio(ctx, o, in, out)
}

// JobsConfig applies defaults to cfg and calls Jobs.
func JobsConfig(ctx context.Context, cfg Config, log *slog.Logger) (*jobs.Client, func(), error) {
	o, err := cfg.Defaults().Options(log)
	if err != nil {
		return nil, nil, err
	}
	return Jobs(ctx, o)
}

func (c Config) validOptions(log *slog.Logger) (Options, error) {
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		return Options{}, err
	}
	return c.Options(log)
}
