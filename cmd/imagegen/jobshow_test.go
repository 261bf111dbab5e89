package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

func TestJobsShowPrintsTheInputsOfAnEdit(t *testing.T) {
	const id = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	strength := 0.75
	plain := jobs.Job{ID: id, Status: workflows.StatusCompleted, Model: "flux-2-dev", Prompt: "a red fox"}
	edit := plain
	edit.Inputs = []string{"images://0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d", "https://cdn.example.com/b.png?…"}
	edit.Mask = "inline:sha256-0f0f"
	edit.Strength = &strength
	tests := []struct {
		name string
		job  jobs.Job
		want [][2]string // rows (label, value), in order, that must appear; "" continues the row above
		not  []string
	}{
		{"a text-to-image job prints no input rows", plain, [][2]string{{"prompt", "a red fox"}}, []string{"inputs", "mask", "strength"}},
		{"an edit prints each input on its own line, then mask and strength", edit, [][2]string{
			{"inputs", "images://0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d"},
			{"", "https://cdn.example.com/b.png?…"},
			{"mask", "inline:sha256-0f0f"},
			{"strength", "0.75"},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := (printer{w: &buf}).job(tt.job); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			rest := out
			for _, row := range tt.want {
				re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(row[0]) + ` {2,}` + regexp.QuoteMeta(row[1]) + `$`)
				loc := re.FindStringIndex(rest)
				if loc == nil {
					t.Fatalf("jobs show lacks the row %q (in order):\n%s", row, out)
				}
				rest = rest[loc[1]:]
			}
			for _, s := range tt.not {
				if strings.Contains(out, s) {
					t.Errorf("jobs show of a job without inputs prints %q:\n%s", s, out)
				}
			}
		})
	}
}
