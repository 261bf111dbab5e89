package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/workflows"
)

// Images lists every image of a completed job (one for a one-image job).
func (j Job) Images() []workflows.Image {
	r := j.Result
	if r == nil {
		return nil
	}
	if len(r.Images) > 0 {
		return r.Images
	}
	return []workflows.Image{{URL: r.ImageURL, Key: r.Key, ThumbnailKey: r.ThumbnailKey, ContentType: r.ContentType,
		SizeBytes: r.SizeBytes, Width: r.Width, Height: r.Height}}
}

// resolveInputs checks the request's reference images and resolves each to
// what the FetchInputs activity reads: an earlier job's image to its storage
// key (the job must exist, be completed and have that image), an inline image
// to its content-addressed key, a URL to itself (fetched by the activity,
// never here). It rewrites req's references in their canonical spelling, so
// that one image has one spelling in records and in keyed job ids.
func (c *Client) resolveInputs(ctx context.Context, req *imagegen.Request) ([]workflows.InputSource, *workflows.InputSource, error) {
	if len(req.Inputs) == 0 && req.Mask == "" {
		return nil, nil, nil
	}
	var sources []workflows.InputSource
	refs := make([]string, 0, len(req.Inputs))
	for i, ref := range req.Inputs {
		src, err := c.resolveInput(ctx, "input_images["+strconv.Itoa(i)+"]", ref)
		if err != nil {
			return nil, nil, err
		}
		sources = append(sources, src)
		refs = append(refs, src.Ref)
	}
	var mask *workflows.InputSource
	if req.Mask != "" {
		src, err := c.resolveInput(ctx, "mask", req.Mask)
		if err != nil {
			return nil, nil, err
		}
		mask = &src
		req.Mask = src.Ref
	}
	req.Inputs = refs
	return sources, mask, nil
}

func (c *Client) resolveInput(ctx context.Context, name, ref string) (workflows.InputSource, error) {
	r, err := imagegen.ParseRef(name, ref)
	if err != nil {
		return workflows.InputSource{}, err
	}
	src := workflows.InputSource{Ref: r.String()}
	switch r.Kind {
	case imagegen.RefInline:
		src.Key = r.InlineKey()
	case imagegen.RefJob:
		if src.Key, err = c.jobImageKey(ctx, name, r); err != nil {
			return workflows.InputSource{}, err
		}
	}
	return src, nil
}

// jobImageKey is the storage key of the earlier job's image a reference names.
func (c *Client) jobImageKey(ctx context.Context, name string, r imagegen.Ref) (string, error) {
	bad := func(format string, args ...any) error {
		return &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: name + ": " + fmt.Sprintf(format, args...)}
	}
	job, err := c.Get(ctx, r.JobID)
	switch {
	case errors.Is(err, ErrNotFound):
		return "", bad("%s names no job: check the job_id (list_jobs shows recent jobs; jobs are kept for the namespace's retention period)", r)
	case err != nil:
		return "", fmt.Errorf("look up input image %s: %w", r, err)
	}
	if job.Status != workflows.StatusCompleted {
		advice := "only completed jobs' images can be used"
		if !job.Status.Terminal() {
			advice = "wait for it (wait_for_completion), then try again"
		}
		return "", bad("job %s is %s, not completed: %s", r.JobID, job.Status, advice)
	}
	imgs := job.Images()
	if r.Index >= len(imgs) {
		return "", bad("job %s has %s, so %s names none of them (images are numbered from 0)", r.JobID, plural(len(imgs), "image"), r)
	}
	key := imgs[r.Index].Key
	if key == "" {
		return "", bad("job %s has no stored image %d to use", r.JobID, r.Index)
	}
	return key, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// idMaterial is what a keyed job id is derived from: the idempotency key
// alone for a text-to-image request (so those ids are what they always
// were), plus the inputs, mask and strength of an edit, so that two
// different edits under one key are two jobs.
func idMaterial(key string, req imagegen.Request) string {
	if len(req.Inputs) == 0 && req.Mask == "" && req.Strength == nil {
		return key
	}
	var b strings.Builder
	b.WriteString(key)
	for _, in := range req.Inputs {
		b.WriteString("\x00input\x00" + in)
	}
	if req.Mask != "" {
		b.WriteString("\x00mask\x00" + req.Mask)
	}
	if req.Strength != nil {
		b.WriteString("\x00strength\x00" + strconv.FormatFloat(*req.Strength, 'g', -1, 64))
	}
	return b.String()
}
