package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// TestJobsOutputEscapesTerminalControls prints a job whose prompt, error and
// URL carry the sequences a hostile prompt used: set the window title, clear
// the screen, move the cursor, and a right-to-left override.
func TestJobsOutputEscapesTerminalControls(t *testing.T) {
	hostile := "cat\x1b]0;pwned\x07\x1b[2J\x1b[1;1H\x9b31m\u202egnp.exe\rline\x00"
	j := jobs.Job{
		ID: "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd", Status: workflows.StatusFailed, Model: "flux\x1b[31m",
		Prompt: hostile, Error: hostile, ImageURL: "https://x.example/\x1b[2J", Stage: hostile,
		Inputs: []string{"images://" + hostile, hostile}, Mask: hostile,
	}
	for name, print := range map[string]func(printer) error{
		"list":    func(p printer) error { return p.jobs([]jobs.Job{j}) },
		"show":    func(p printer) error { return p.job(j) },
		"message": func(p printer) error { return p.message(j, "retrying "+hostile) },
	} {
		var buf bytes.Buffer
		if err := print(printer{w: &buf}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, bad := range []string{"\x1b", "\x07", "\x9b", "\u202e", "\r", "\x00"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s prints %q raw:\n%q", name, bad, out)
			}
		}
		if !strings.Contains(out, `\x1b]0;pwned`) {
			t.Errorf("%s does not show the escape visibly:\n%s", name, out)
		}
	}
	if got := termSafe("a plain prompt, ünïcödé, 日本語\ttab"); got != "a plain prompt, ünïcödé, 日本語\ttab" {
		t.Errorf("plain text changed: %q", got)
	}
}
