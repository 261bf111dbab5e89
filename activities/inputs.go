package activities

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/imagefetch"
)

// InputSource is one input image of a job (or its mask) as resolved when the
// job started: the reference as the request names it, and for earlier jobs'
// images and inline images the object-store key to read. A source without a
// key is an http(s) URL, fetched through the Fetcher.
type InputSource struct {
	Ref string `json:"ref"`
	Key string `json:"key,omitempty"`
}

// FetchInputsInput asks for a job's input images to be fetched, normalised
// and staged in the object store.
type FetchInputsInput struct {
	JobID   string        `json:"job_id"`
	Sources []InputSource `json:"sources,omitempty"`
	Mask    *InputSource  `json:"mask,omitempty"`
	// MaxSide is the longest side images are resized down to (the model's
	// InputSide, resolved when the job started; 0: kept as they are).
	MaxSide int `json:"max_side,omitempty"`
}

// FetchedInput describes one staged input image: where it is and what it
// is, never its bytes (they never enter workflow history).
type FetchedInput struct {
	// Ref is the reference it came from, as the request names it.
	Ref         string `json:"ref"`
	Key         string `json:"key"`
	ContentType string `json:"content_type"`
	SizeBytes   int64  `json:"size_bytes"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	SHA256      string `json:"sha256"`
}

// FetchedInputs are a job's staged inputs, in the order of its request.
type FetchedInputs struct {
	Images []FetchedInput `json:"images,omitempty"`
	Mask   *FetchedInput  `json:"mask,omitempty"`
}

// InputKey is where input image index of a job is staged ("mask" for the
// mask): job-scoped, so every worker's Generate can read it, and fixed by the
// input, so a retried fetch rewrites the same object.
func InputKey(jobID, name, contentType string) string {
	return "inputs/" + sanitize(jobID) + "/" + name + imagegen.ExtensionFor(contentType)
}

// FetchInputs reads each input image of a job (earlier jobs' images and
// inline images from the object store, URLs through the Fetcher), normalises
// it to what the model takes and stages it in the object store, once per job
// however many images it makes. Invalid inputs (not an image, refused
// address, too big) fail without retries; network and storage trouble is
// retried by Temporal.
func (a *Activities) FetchInputs(ctx context.Context, in FetchInputsInput) (FetchedInputs, error) {
	attempt := activity.GetInfo(ctx).Attempt
	log := a.logger().With("job_id", in.JobID, "attempt", attempt)
	if attempt > 1 {
		a.observe(func(o Observer) { o.Retry("fetch_inputs") })
	}
	stop := a.heartbeat(ctx)
	defer stop()
	var out FetchedInputs
	for i, src := range in.Sources {
		f, err := a.fetchInput(ctx, in, src, "input image "+strconv.Itoa(i+1), strconv.Itoa(i))
		if err != nil {
			log.Warn("input image unavailable", "input", i, "error", err)
			return FetchedInputs{}, toActivityError(ctx, err)
		}
		out.Images = append(out.Images, f)
		activity.RecordHeartbeat(ctx, i+1)
	}
	if in.Mask != nil {
		f, err := a.fetchInput(ctx, in, *in.Mask, "the mask", "mask")
		if err != nil {
			log.Warn("mask unavailable", "error", err)
			return FetchedInputs{}, toActivityError(ctx, err)
		}
		out.Mask = &f
	}
	log.Info("inputs staged", "images", len(out.Images), "mask", out.Mask != nil)
	return out, nil
}

// fetchInput reads, normalises and stages one source; what names it in
// messages ("input image 2"), name in its staging key.
func (a *Activities) fetchInput(ctx context.Context, in FetchInputsInput, src InputSource, what, name string) (FetchedInput, error) {
	data, err := a.readSource(ctx, src, what)
	if err != nil {
		return FetchedInput{}, err
	}
	var img imagegen.InputImage
	if werr := a.Decodes.Do(ctx, func() { img, err = imagefetch.Normalise(data, in.MaxSide) }); werr != nil {
		return FetchedInput{}, &imagegen.Error{Kind: imagegen.KindUpstream, Message: what + ": no place to decode it", Err: werr}
	}
	if err != nil {
		return FetchedInput{}, prefixed(what, err)
	}
	key := InputKey(in.JobID, name, img.ContentType)
	start := time.Now()
	err = a.ImageStore.Put(ctx, key, img.Data, img.ContentType)
	a.observe(func(o Observer) { o.StoreCall(time.Since(start), err) })
	if err != nil {
		return FetchedInput{}, fmt.Errorf("stage %s as %s: %w", what, key, err)
	}
	return FetchedInput{
		Ref: src.Ref, Key: key, ContentType: img.ContentType, SizeBytes: int64(len(img.Data)),
		Width: img.Width, Height: img.Height, SHA256: sha256Hex(img.Data),
	}, nil
}

// readSource returns a source's bytes: from the object store when it has a
// key, else from its URL through the Fetcher.
func (a *Activities) readSource(ctx context.Context, src InputSource, what string) ([]byte, error) {
	if src.Key != "" {
		data, _, err := a.ImageStore.Get(ctx, src.Key)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, &imagegen.Error{Kind: imagegen.KindInvalidInput,
				Message: fmt.Sprintf("%s (%s) is no longer stored", what, src.Ref)}
		case err != nil:
			return nil, &imagegen.Error{Kind: imagegen.KindStorage, Message: fmt.Sprintf("%s (%s) could not be read from storage", what, src.Ref), Err: err}
		}
		return data, nil
	}
	r, err := imagegen.ParseRef(what, src.Ref)
	if err != nil {
		return nil, err
	}
	if r.Kind != imagegen.RefURL {
		return nil, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("%s (%s) was not resolved when the job started", what, src.Ref)}
	}
	if a.Fetcher == nil {
		return nil, &imagegen.Error{Kind: imagegen.KindMisconfigured, Message: what + " is a URL, and this worker has no fetcher for URLs"}
	}
	data, _, err := a.Fetcher.Fetch(ctx, r.URL)
	if err != nil {
		return nil, prefixed(what, err)
	}
	return data, nil
}

// prefixed says which input a classified error is about, keeping its kind
// and codes (so the retry decision stays the fetcher's or the decoder's).
func prefixed(what string, err error) error {
	var e *imagegen.Error
	if !errors.As(err, &e) {
		return &imagegen.Error{Kind: imagegen.KindUpstream, Message: what + ": " + err.Error(), Err: err}
	}
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	// imagefetch says "input image is …", "input image from HOST …": name
	// which one.
	if rest, ok := strings.CutPrefix(msg, "input image "); ok {
		msg = what + " " + rest
	} else {
		msg = what + ": " + msg
	}
	return &imagegen.Error{Kind: e.Kind, Code: e.Code, Status: e.Status, Message: msg, Err: e.Err}
}

// readInputs reads a job's staged inputs back for the provider call,
// checking each against the checksum FetchInputs recorded.
func (a *Activities) readInputs(ctx context.Context, images []FetchedInput, mask *FetchedInput) (imagegen.Inputs, error) {
	var out imagegen.Inputs
	read := func(f FetchedInput) (imagegen.InputImage, error) {
		data, _, err := a.ImageStore.Get(ctx, f.Key)
		if err != nil {
			return imagegen.InputImage{}, &imagegen.Error{Kind: imagegen.KindStorage,
				Message: fmt.Sprintf("the staged input image %s could not be read", f.Ref), Err: err}
		}
		if sha256Hex(data) != f.SHA256 {
			return imagegen.InputImage{}, &imagegen.Error{Kind: imagegen.KindStorage,
				Message: fmt.Sprintf("the staged input image %s was damaged in storage", f.Ref)}
		}
		return imagegen.InputImage{Data: data, ContentType: f.ContentType, Width: f.Width, Height: f.Height}, nil
	}
	for _, f := range images {
		img, err := read(f)
		if err != nil {
			return imagegen.Inputs{}, err
		}
		out.Images = append(out.Images, img)
	}
	if mask != nil {
		img, err := read(*mask)
		if err != nil {
			return imagegen.Inputs{}, err
		}
		out.Mask = &img
	}
	return out, nil
}
