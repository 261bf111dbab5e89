package mcpserver

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// ImageReader reads stored images and thumbnails (objectstore's stores).
type ImageReader interface {
	Get(ctx context.Context, key string) ([]byte, string, error)
}

// maxResourceBytes bounds what one resource read returns inline.
const maxResourceBytes = 8 << 20

// imageContent returns, for each image of a completed job, a small inline
// thumbnail (a few KB instead of a full image that can pass 1 MB, the size at
// which clients start to drop tool results) and a resource link to the full
// image. Without an image reader it returns links only.
func (s *Server) imageContent(ctx context.Context, job jobs.Job) []mcp.Content {
	var out []mcp.Content
	for i, img := range job.Images() {
		if s.opts.ImageReader != nil && img.ThumbnailKey != "" {
			if data, ct, err := s.opts.ImageReader.Get(ctx, img.ThumbnailKey); err == nil {
				out = append(out, mcp.NewImageContent(base64.StdEncoding.EncodeToString(data), ct))
			} else {
				s.log.WarnContext(ctx, "thumbnail unreadable", "job_id", job.ID, "key", img.ThumbnailKey, "error", err)
			}
		}
		name := fmt.Sprintf("image %d of job %s", i+1, job.ID)
		link := mcp.NewResourceLink(imageURI(job.ID, i), name, clip(job.Prompt, 120), img.ContentType)
		out = append(out, link)
	}
	return out
}

// imageURI names image i of a job as an MCP resource.
func imageURI(jobID string, i int) string { return imagegen.JobRef(jobID, i) }

func imageCount(n int) string {
	if n == 1 {
		return "1 image"
	}
	return fmt.Sprintf("%d images", n)
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// registerResources exposes images as MCP resources: a template for any job's
// images, and a listing of the most recent ones.
func (s *Server) registerResources() {
	read := func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		id, index, err := parseImageURI(req.Params.URI)
		if err != nil {
			return nil, err
		}
		job, err := s.jobs.Get(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", req.Params.URI, err)
		}
		imgs := job.Images()
		if job.Status != workflows.StatusCompleted {
			return nil, fmt.Errorf("image %s: job %s has no such image (status %s)", req.Params.URI, id, job.Status)
		}
		if index >= len(imgs) {
			return nil, fmt.Errorf("image %s: job %s has %s, so this names none of them (images are numbered from 0)", req.Params.URI, id, imageCount(len(imgs)))
		}
		img := imgs[index]
		if img.Key == "" && img.URL == "" {
			// jobs drops keys that are not this job's own and URLs that are
			// not http(s): nothing is left to read or to link.
			return nil, fmt.Errorf("image %s: job %s has no stored image", req.Params.URI, id)
		}
		if s.opts.ImageReader == nil || img.Key == "" || img.SizeBytes > maxResourceBytes {
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "text/uri-list", Text: img.URL}}, nil
		}
		data, ct, err := s.opts.ImageReader.Get(ctx, img.Key)
		if err != nil {
			s.log.ErrorContext(ctx, "image unreadable", "job_id", id, "key", img.Key, "error", err)
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "text/uri-list", Text: img.URL}}, nil
		}
		return []mcp.ResourceContents{mcp.BlobResourceContents{URI: req.Params.URI, MIMEType: ct, Blob: base64.StdEncoding.EncodeToString(data)}}, nil
	}
	s.mcp.AddResourceTemplate(mcp.NewResourceTemplate("images://{job_id}", "Generated image",
		mcp.WithTemplateDescription("The (first) image of a completed job, by job_id."), mcp.WithTemplateMIMEType("image/*")), read)
	s.mcp.AddResourceTemplate(mcp.NewResourceTemplate("images://{job_id}/{index}", "Generated image by index",
		mcp.WithTemplateDescription("Image number index (0-based) of a multi-image job."), mcp.WithTemplateMIMEType("image/*")), read)
}

// recentResources adds the most recent images to a resources/list answer.
func (s *Server) recentResources(ctx context.Context, _ any, _ *mcp.ListResourcesRequest, result *mcp.ListResourcesResult) {
	list, err := s.jobs.List(ctx, jobs.ListOptions{Status: workflows.StatusCompleted, Limit: 20})
	if err != nil {
		s.log.WarnContext(ctx, "resources/list: recent images unavailable", "error", err)
		return
	}
	for _, job := range list {
		for i, img := range job.Images() {
			r := mcp.NewResource(imageURI(job.ID, i), clip(job.Prompt, 80),
				mcp.WithResourceDescription(fmt.Sprintf("%s, %s", job.Model, job.CreatedAt.UTC().Format("2006-01-02 15:04"))),
				mcp.WithMIMEType(img.ContentType))
			result.Resources = append(result.Resources, r)
		}
	}
}

// parseImageURI reads an images://JOB[/INDEX] resource URI with the parser
// edit inputs go through (imagegen.ParseJobRef), so that a resource read and
// an input_images entry accept the same spelling. Whether the job has that
// image is checked against the job.
func parseImageURI(uri string) (id string, index int, err error) {
	r, err := imagegen.ParseJobRef("resource URI", uri)
	if err != nil {
		return "", 0, err
	}
	return r.JobID, r.Index, nil
}

// hooks wires the recent-images listing into resources/list.
func (s *Server) hooks() *server.Hooks {
	h := &server.Hooks{}
	h.AddAfterListResources(s.recentResources)
	s.addSlotHooks(h)
	return h
}
