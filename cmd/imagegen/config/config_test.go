package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestConfigValidateChecksTheOpenAISettingsTogether(t *testing.T) {
	const key = "sk-config-test-0123456789"
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"no OpenAI settings", func(c *Config) {}, ""},
		{"a key alone", func(c *Config) { c.OpenAIAPIKey = key }, ""},
		{"key, base URL and model", func(c *Config) {
			c.OpenAIAPIKey, c.OpenAIBaseURL, c.OpenAIImageModel = key, "http://localhost:8080/v1", "stablediffusion"
		}, ""},
		{"a base URL without a key", func(c *Config) { c.OpenAIBaseURL = "http://localhost:8080/v1" }, "OPENAI_API_KEY is not"},
		{"a model without a key", func(c *Config) { c.OpenAIImageModel = "gpt-image-2" }, "OPENAI_API_KEY is not"},
		{"a malformed base URL", func(c *Config) { c.OpenAIAPIKey, c.OpenAIBaseURL = key, "localhost:8080" }, "OPENAI_BASE_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{}.Defaults()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}

func TestTheTableIsWellFormed(t *testing.T) {
	envs, flags := map[string]bool{}, map[string]bool{}
	for _, f := range Fields() {
		if f.Env == "" && f.Flag == "" {
			t.Errorf("a field with neither environment variable nor flag: %+v", f)
		}
		if f.Secret && f.Flag != "" {
			t.Errorf("secret %s has the flag --%s: it would show in process listings", f.Env, f.Flag)
		}
		if f.Env != "" && envs[f.Env] || f.Flag != "" && flags[f.Flag] {
			t.Errorf("%s/--%s appears twice", f.Env, f.Flag)
		}
		envs[f.Env], flags[f.Flag] = true, true
		if f.Usage == "" {
			t.Errorf("%s%s has no usage text", f.Env, f.Flag)
		}
	}
}

// Each environment variable lands in its own field, and its flag (where it
// has one) overrides it.
func TestEveryVariableAndFlagReachesItsField(t *testing.T) {
	for _, f := range Fields() {
		if f.Env == "" {
			continue
		}
		probe := "probe-" + strings.ToLower(f.Env)
		if _, isBool := f.ptr(&Config{}).(*bool); isBool {
			probe = "true"
		}
		env := map[string]string{f.Env: probe}
		mode := "serve"
		if f.Modes != nil {
			mode = f.Modes[0]
		}
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		c := Bind(fs, func(k string) string { return env[k] }, mode)
		var args []string
		if f.Flag != "" {
			args = []string{"--" + f.Flag, "from-flag"}
			if probe == "true" {
				args = []string{"--" + f.Flag + "=false"}
			}
		}
		if err := fs.Parse(args); err != nil {
			t.Fatalf("%s: %v", f.Env, err)
		}
		got := fmt.Sprint(deref(f.ptr(c)))
		want := probe
		if f.Flag != "" {
			want = "from-flag"
			if probe == "true" {
				want = "false"
			}
		}
		if got != want {
			t.Errorf("%s (flag %q) = %q, want %q", f.Env, f.Flag, got, want)
		}
	}
}

func deref(p any) any {
	switch p := p.(type) {
	case *string:
		return *p
	case *[]string:
		return strings.Join(*p, ",")
	case *bool:
		return *p
	case *int:
		return *p
	case *time.Duration:
		return *p
	}
	return nil
}

// The README's configuration table documents every environment variable.
func TestTheReadmeDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range EnvNames() {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md does not document %s", name)
		}
	}
	for _, f := range Fields() {
		if f.Env == "" && !strings.Contains(string(readme), "`--"+f.Flag+"`") {
			t.Errorf("README.md does not document --%s", f.Flag)
		}
	}
}
