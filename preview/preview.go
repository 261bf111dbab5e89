// Package preview is an offline stand-in for an image model. It renders a
// labelled placeholder PNG from the request, so that the whole service (jobs,
// storage, MCP tools) can run and be demonstrated without Cloudflare
// credentials or spending neurons.
//
// The picture says "PREVIEW - NOT AI" in large letters, names the model and
// shows the prompt, so nobody can take it for a generated image. Rendering is
// deterministic: the same request always gives the same bytes, which keeps
// tests and retries reproducible.
package preview

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"image/png"
	"strings"
	"time"

	"github.com/imagegen/imagegen"
)

const (
	// DefaultSide is used for a side the request leaves unset.
	DefaultSide = 512
	// Label is drawn at the top and bottom of every preview.
	Label = "PREVIEW - NOT AI"
)

// Options tune the renderer for rehearsals (see rehearse.go).
type Options struct {
	// Delay is how long each image takes, as if a model were drawing it
	// (0: as fast as it renders; FLUX Schnell takes 7–10 s). A prompt's
	// [delay:...] directive overrides it.
	Delay time.Duration
	// Sleep waits d or until ctx ends; nil uses a real timer (tests pass
	// their own to stay off the clock).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Renderer draws placeholder images. The zero value is ready to use and is
// safe for concurrent use.
type Renderer struct {
	opts     Options
	failures failures
}

// New returns a Renderer.
func New(opts Options) *Renderer {
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	return &Renderer{opts: opts}
}

// Generate validates the request like a real provider would and renders the
// placeholder: req.Width x req.Height, DefaultSide for a side left unset. A
// request naming no model gets the default model, as everywhere else.
//
// For an edit (input images, for the models that take them) the
// placeholder shows what it was given: the first input image scaled into
// the middle, the others as thumbnails beside it, the mask's area tinted
// red over the first, and a line saying how many inputs, mask and strength
// it got. So an edit chain (generate, then edit that job's image) can be
// tried offline, and each link visibly contains the one before.
func (r *Renderer) Generate(ctx context.Context, req imagegen.Request, inputs imagegen.Inputs) (imagegen.Image, error) {
	if err := ctx.Err(); err != nil {
		return imagegen.Image{}, fmt.Errorf("preview: %w", err)
	}
	req = req.WithDefaults()
	if err := req.Validate(); err != nil {
		return imagegen.Image{}, err
	}
	p, err := parseDirectives(req.Prompt)
	if err != nil {
		return imagegen.Image{}, err
	}
	delay := r.opts.Delay
	if p.hasDelay {
		delay = p.delay
	}
	wait := r.opts.Sleep
	if wait == nil {
		wait = sleep
	}
	if err := wait(ctx, delay); err != nil {
		return imagegen.Image{}, fmt.Errorf("preview: %w", err)
	}
	if p.fail != "" && r.failures.take(requestKey(req), p.failN) {
		return imagegen.Image{}, simulatedError(p.fail, failDirective(req.Prompt))
	}
	w, h := req.Width, req.Height
	if w == 0 {
		w = DefaultSide
	}
	if h == 0 {
		h = DefaultSide
	}

	pictures, err := decodeInputs(req, inputs)
	if err != nil {
		return imagegen.Image{}, err
	}

	img := image.NewRGBA(image.Rect(0, 0, w, h))
	paintBackground(img, fingerprint(req))
	free := drawCaptions(img, req.Model, inputsNote(req), req.Prompt)
	drawInputs(img, free, pictures)

	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindUpstream, Message: "preview: encoding the PNG failed", Err: err}
	}
	return imagegen.Image{Data: buf.Bytes(), ContentType: "image/png"}, nil
}

// fingerprint hashes every field that affects a real generation, so that
// different requests look different while equal ones stay byte-identical.
func fingerprint(req imagegen.Request) [32]byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%q|%q|%q|%d|%d|%d", req.Model, req.Prompt, req.NegativePrompt, req.Width, req.Height, req.Steps)
	if req.Seed != nil {
		fmt.Fprintf(&b, "|seed=%d", *req.Seed)
	}
	if req.Guidance != nil {
		fmt.Fprintf(&b, "|guidance=%g", *req.Guidance)
	}
	for _, in := range req.Inputs {
		fmt.Fprintf(&b, "|input=%q", in)
	}
	if req.Mask != "" {
		fmt.Fprintf(&b, "|mask=%q", req.Mask)
	}
	if req.Strength != nil {
		fmt.Fprintf(&b, "|strength=%g", *req.Strength)
	}
	if req.Variant != 0 { // images of one multi-image job differ
		fmt.Fprintf(&b, "|variant=%d", req.Variant)
	}
	return sha256.Sum256([]byte(b.String()))
}

// paintBackground fills the image with a diagonal gradient between two
// colours taken from the hash, overlaid with stripes whose angle and width
// also come from it. It writes Pix directly: Set per pixel is several times slower.
func paintBackground(img *image.RGBA, sum [32]byte) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	from := [3]int{int(sum[0]), int(sum[1]), int(sum[2])}
	to := [3]int{int(sum[3]), int(sum[4]), int(sum[5])}
	ax, ay := 1+int(sum[6]%4), 1+int(sum[7]%4) // gradient direction
	span := ax*(w-1) + ay*(h-1)
	if span == 0 {
		span = 1
	}
	period := 16 + int(sum[8]%48)             // stripe width in pixels
	sx, sy := 1+int(sum[9]%3), int(sum[10]%3) // stripe direction

	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := range w {
			t := (ax*x + ay*y) * 256 / span
			shade := 256
			if ((sx*x+sy*y)/period)%2 == 1 {
				shade = 216 // darker stripe
			}
			p := row[4*x : 4*x+4 : 4*x+4]
			for c := range 3 {
				v := from[c] + (to[c]-from[c])*t/256
				p[c] = uint8(v * shade / 256)
			}
			p[3] = 0xFF
		}
	}
}
