package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFlagsOverrideTheEnvironment(t *testing.T) {
	cfg, err := config.Parse("serve", []string{"--addr", "127.0.0.1:9999"}, env(map[string]string{
		"IMAGEGEN_ADDR": "127.0.0.1:1111", "TEMPORAL_ADDRESS": "temporal:7233", "R2_BUCKET": "b",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9999" || cfg.TemporalAddress != "temporal:7233" || cfg.R2Bucket != "b" {
		t.Errorf("config = %+v", cfg)
	}
	if cfg.Provider != app.ProviderPreview || cfg.TemporalNamespace != "default" {
		t.Errorf("defaults not applied: provider %q namespace %q", cfg.Provider, cfg.TemporalNamespace)
	}
}

func TestSecretsAreNotFlags(t *testing.T) {
	for _, flag := range []string{"--cloudflare-api-token", "--auth-token", "--r2-secret-access-key", "--openai-api-key"} {
		if _, err := config.Parse("serve", []string{flag, "x"}, env(nil)); err == nil {
			t.Errorf("secret flag %s accepted (it would show in process listings)", flag)
		}
	}
	cfg, err := config.Parse("serve", nil, env(map[string]string{"IMAGEGEN_AUTH_TOKEN": "tok"}))
	if err != nil || cfg.AuthToken != "tok" {
		t.Errorf("token from the environment: %q, %v", cfg.AuthToken, err)
	}
}

func TestJobsHelpIsNotAnError(t *testing.T) {
	for _, args := range [][]string{{"jobs", "-h"}, {"jobs", "--help"}, {"jobs", "help"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, env(nil), strings.NewReader(""), &out, &errOut); err != nil {
			t.Errorf("imagegen %v: %v", args, err)
		}
		if !strings.HasPrefix(out.String(), "Usage:") {
			t.Errorf("imagegen %v printed %q to stdout, want the usage", args, out.String())
		}
	}
}

func TestUnknownCommandsAndArgumentsAreRefused(t *testing.T) {
	for _, args := range [][]string{{}, {"launch"}, {"serve", "extra"}, {"jobs"}, {"jobs", "frobnicate"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, env(map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:1"}), strings.NewReader(""), &out, &errOut)
		if err == nil {
			t.Errorf("imagegen %v succeeded", args)
		}
	}
}

// TestJobsCommands drives the operator CLI against a real dev stack.
func TestJobsCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dataDir := t.TempDir()
	// UIPort 0: the UI on a free (non-default) port, which `jobs show` must
	// still link to.
	a, err := testkit.Dev(ctx, config.Config{Addr: "127.0.0.1:0", DataDir: dataDir, UIPort: 0}, logging.New(io.Discard, "text", "error"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	jobsOpts, err := config.Config{TemporalAddress: a.TemporalAddress, TemporalAPIKey: a.TemporalAPIKey()}.Defaults().Options(logging.New(io.Discard, "text", "error"))
	if err != nil {
		t.Fatal(err)
	}
	jc, closeJC, err := app.ConnectJobs(ctx, jobsOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer closeJC()
	job, err := jc.Start(ctx, imagegen.Request{Prompt: "a lighthouse at dawn"})
	if err != nil {
		t.Fatal(err)
	}
	if _, done, err := jc.Wait(ctx, job.ID, time.Minute); err != nil || !done {
		t.Fatalf("wait: done=%v err=%v", done, err)
	}
	// Without credentials the embedded Temporal refuses the CLI.
	var errOut bytes.Buffer
	err = run(ctx, []string{"jobs", "list"}, env(map[string]string{"TEMPORAL_ADDRESS": a.TemporalAddress, "IMAGEGEN_DATA_DIR": t.TempDir()}), strings.NewReader(""), io.Discard, &errOut)
	if err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("jobs list without the dev secret: err = %v, want unauthorized", err)
	}
	// With the dev stack's data dir it finds the secret there.
	getenv := env(map[string]string{"TEMPORAL_ADDRESS": a.TemporalAddress, "IMAGEGEN_DATA_DIR": dataDir})
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"jobs"}, args...), getenv, strings.NewReader(""), &out, &errOut)
		return out.String(), err
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := cli("list")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, job.ID) {
			if !strings.HasPrefix(out, "JOB ID") || !strings.Contains(out, "completed") || !strings.Contains(out, "a lighthouse at dawn") {
				t.Errorf("list table:\n%s", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job never listed:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}

	out, err := cli("list", "--json", "--status", "completed")
	var listed []jobs.Job
	if err != nil || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 1 || listed[0].ID != job.ID {
		t.Errorf("list --json: %v\n%s", err, out)
	}
	out, err = cli("show", job.ID)
	if err != nil || !regexp.MustCompile(`(?m)^status +completed$`).MatchString(out) || !strings.Contains(out, "/images/") {
		t.Errorf("show: %v\n%s", err, out)
	}
	if link := a.UIURL + "/namespaces/default/workflows/" + job.ID; a.UIURL == "" || !regexp.MustCompile(`(?m)^temporal ui +`+regexp.QuoteMeta(link)+`$`).MatchString(out) {
		t.Errorf("show does not link the job in the dev UI at %q:\n%s", a.UIURL, out)
	}
	missing := "00000000-0000-4000-8000-000000000000"
	if _, err := cli("show", missing); err == nil || !strings.Contains(err.Error(), "not found in Temporal at "+a.TemporalAddress) {
		t.Errorf("show of an unknown job: %v, want the Temporal address it searched", err)
	}
	out, err = cli("show", job.ID, "--json")
	var shown jobs.Job
	if err != nil || json.Unmarshal([]byte(out), &shown) != nil || shown.Status != workflows.StatusCompleted {
		t.Errorf("show --json: %v\n%s", err, out)
	}
	if _, err := cli("retry", job.ID); err == nil || !strings.Contains(err.Error(), "already completed") {
		t.Errorf("retry of a completed job: %v", err)
	}
	if _, err := cli("cancel", job.ID); err == nil || !strings.Contains(err.Error(), "already completed") {
		t.Errorf("cancel of a completed job: %v", err)
	}
	if out, err := cli("retry", "--all-failed", "--dry-run"); err != nil || !strings.Contains(out, "would retry 0 failed job(s)") {
		t.Errorf("retry --all-failed --dry-run: %v\n%s", err, out)
	}
	if _, err := cli("show", "../../etc/passwd"); err == nil || !strings.Contains(err.Error(), "not a job id") {
		t.Errorf("show of a bad id: %v", err)
	}
}

// A busy port of the embedded Temporal or its UI is named with the flag that
// moves it, not as a bare bind error.
func TestDevPortClashNamesTheFlag(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--temporal-port", port, "--ui-port", "-1"}, "--temporal-port"},
		{[]string{"--temporal-port", "0", "--ui-port", port}, "--ui-port"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args := append([]string{"dev", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...)
			err := run(ctx, args, env(nil), strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "port "+port) || !strings.Contains(err.Error(), tc.flag+" N") {
				t.Fatalf("dev with port %s busy: %v, want the port and %s named", port, err, tc.flag)
			}
		})
	}
}
