package mcpserver_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// TestImageResourceReadTakesTheSpellingEditInputsTake pins what resources/read
// accepts of images://JOB[/INDEX]: the very spelling input_images takes
// (imagegen.ParseRef's), with an index the job lacks refused by the job.
func TestImageResourceReadTakesTheSpellingEditInputsTake(t *testing.T) {
	const id = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	job := jobs.Job{ID: id, Status: workflows.StatusCompleted, Result: &workflows.Result{Images: []workflows.Image{
		{URL: "https://images.example.com/a.png", ContentType: "image/png"},
		{URL: "https://images.example.com/b.png", ContentType: "image/png"},
	}}}
	c := inProcess(t, &fakeJobs{job: job})
	tests := []struct {
		name, uri string
		want      string // the image URL read, or what the error says
		ok        bool
	}{
		{"the first image", "images://" + id, "https://images.example.com/a.png", true},
		{"the first image by an explicit index", "images://" + id + "/0", "https://images.example.com/a.png", true},
		{"the second image", "images://" + id + "/1", "https://images.example.com/b.png", true},
		{"an index the job lacks", "images://" + id + "/2", "has 2 images, so this names none of them", false},
		{"an index past a job's image limit is for the job to refuse", "images://" + id + "/4", "has 2 images, so this names none of them", false},
		{"an index past the reference bound", "images://" + id + "/100", "image index must be a number from 0 (the first image) to 99", false},
		{"a leading zero", "images://" + id + "/01", "image index must be a number from 0", false},
		{"a job id in capitals", "images://" + strings.ToUpper(id), "does not name a job", false},
		{"a path-like job id", "images://..", "does not name a job", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := mcp.ReadResourceRequest{}
			req.Params.URI = tt.uri
			res, err := c.ReadResource(context.Background(), req)
			if !tt.ok {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("resources/read %s = %+v, %v; want an error saying %q", tt.uri, res, err, tt.want)
				}
				return
			}
			if err != nil || len(res.Contents) != 1 {
				t.Fatalf("resources/read %s = %+v, %v; want one content", tt.uri, res, err)
			}
			if got, ok := res.Contents[0].(mcp.TextResourceContents); !ok || got.Text != tt.want || got.URI != tt.uri {
				t.Errorf("resources/read %s = %+v, want the link %s", tt.uri, res.Contents[0], tt.want)
			}
		})
	}
}
