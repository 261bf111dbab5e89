package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/imagegen/imagegen/app"
)

// bindConfig defines the flags of a subcommand. Every flag's default comes
// from its environment variable, so flags override the environment.
func bindConfig(fs *flag.FlagSet, getenv func(string) string, mode string) *app.Config {
	c := &app.Config{}
	str := func(p *string, name, env, usage string) {
		fs.StringVar(p, name, getenv(env), usage+" ("+env+")")
	}
	str(&c.Addr, "addr", "IMAGEGEN_ADDR", "HTTP listen address for /mcp, /sse, /healthz and images")
	str(&c.DataDir, "data-dir", "IMAGEGEN_DATA_DIR", "data directory: Temporal database (dev), staged and local images")
	str(&c.PublicURL, "public-url", "IMAGEGEN_PUBLIC_URL", "base URL written into local image URLs")
	fs.Func("allowed-hosts", "comma-separated host names the HTTP server (and the dev Web UI) answer to besides localhost (IMAGEGEN_ALLOWED_HOSTS)", func(v string) error {
		c.AllowedHosts = splitList(v)
		return nil
	})
	c.AllowedHosts = splitList(getenv("IMAGEGEN_ALLOWED_HOSTS"))
	str(&c.Provider, "provider", "IMAGEGEN_PROVIDER", "image provider: workersai or preview")
	str(&c.LogFormat, "log-format", "IMAGEGEN_LOG_FORMAT", "log format: text or json")
	str(&c.LogLevel, "log-level", "IMAGEGEN_LOG_LEVEL", "log level: debug, info, warn, error")
	str(&c.CloudflareBaseURL, "cloudflare-api-base-url", "CLOUDFLARE_API_BASE_URL", "Workers AI API base URL (AI Gateway)")
	str(&c.OpenAIBaseURL, "openai-base-url", "OPENAI_BASE_URL", "OpenAI-compatible images API root (default https://api.openai.com/v1)")
	str(&c.OpenAIImageModel, "openai-image-model", "OPENAI_IMAGE_MODEL", "model id the openai-image model sends (default gpt-image-2)")
	str(&c.R2Endpoint, "r2-endpoint", "R2_ENDPOINT", "S3 endpoint of the bucket")
	str(&c.R2PublicURL, "r2-public-url", "R2_PUBLIC_URL", "public base URL of the bucket; empty = presigned URLs")
	str(&c.TemporalNamespace, "temporal-namespace", "TEMPORAL_NAMESPACE", "Temporal namespace")
	str(&c.TemporalUIURL, "temporal-ui-url", "TEMPORAL_UI_URL", "Temporal Web UI base URL, for job links")
	if mode != "dev" {
		str(&c.TemporalAddress, "temporal-address", "TEMPORAL_ADDRESS", "Temporal frontend host:port")
		str(&c.TemporalTLSCert, "temporal-tls-cert", "TEMPORAL_TLS_CERT", "mTLS client certificate file for Temporal")
		str(&c.TemporalTLSKey, "temporal-tls-key", "TEMPORAL_TLS_KEY", "private key file of that certificate")
		str(&c.TemporalTLSCA, "temporal-tls-ca", "TEMPORAL_TLS_CA", "CA certificate file that signed Temporal's server certificate")
		str(&c.TemporalTLSServerName, "temporal-tls-server-name", "TEMPORAL_TLS_SERVER_NAME", "server name to verify in Temporal's certificate")
		str(&c.TemporalTLS, "temporal-tls", "TEMPORAL_TLS", "true or false: force TLS to Temporal on or off (default: automatic)")
		c.TemporalAPIKey = getenv("TEMPORAL_API_KEY")
	}
	// Secrets and identifiers come from the environment only: flags show up in
	// process listings.
	c.AuthToken = getenv("IMAGEGEN_AUTH_TOKEN")
	c.CloudflareAccountID = getenv("CLOUDFLARE_ACCOUNT_ID")
	c.CloudflareAPIToken = getenv("CLOUDFLARE_API_TOKEN")
	c.OpenAIAPIKey = getenv("OPENAI_API_KEY")
	c.R2Bucket = getenv("R2_BUCKET")
	c.R2AccessKeyID = getenv("R2_ACCESS_KEY_ID")
	c.R2SecretAccessKey = getenv("R2_SECRET_ACCESS_KEY")
	c.R2PathStyle, _ = strconv.ParseBool(getenv("R2_PATH_STYLE"))
	if mode == "dev" {
		fs.IntVar(&c.TemporalPort, "temporal-port", 7233, "embedded Temporal gRPC port (0 = remembered in the data dir, else a free port)")
		fs.IntVar(&c.UIPort, "ui-port", 8233, "Temporal Web UI port (0 = a free port, -1 = no UI)")
		fs.DurationVar(&c.Retention, "retention", 30*24*time.Hour, "how long finished jobs are kept")
	}
	return c
}

// parseConfig parses args for a subcommand and returns the configuration with
// defaults applied.
func parseConfig(mode string, args []string, getenv func(string) string) (app.Config, error) {
	fs := flag.NewFlagSet("imagegen "+mode, flag.ContinueOnError)
	c := bindConfig(fs, getenv, mode)
	if err := fs.Parse(args); err != nil {
		return app.Config{}, err
	}
	if fs.NArg() > 0 {
		return app.Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c.Defaults(), nil
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
