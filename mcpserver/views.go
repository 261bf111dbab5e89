package mcpserver

import (
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
)

// JobView is a job as tools return it: flat, with times as RFC 3339 strings.
type JobView struct {
	JobID       string `json:"job_id" jsonschema:"The job id (a UUID)"`
	Status      string `json:"status"`
	Stage       string `json:"stage,omitempty" jsonschema:"Finer progress while processing: generating or storing"`
	Prompt      string `json:"prompt"`
	Model       string `json:"model"`
	ImageURL    string `json:"image_url,omitempty" jsonschema:"URL of the image once completed"`
	ContentType string `json:"content_type,omitempty"`
	SizeBytes   int64  `json:"size_bytes,omitempty"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	Provider    string `json:"provider,omitempty"`
	Placeholder bool   `json:"placeholder,omitempty" jsonschema:"True when the image is an offline placeholder and not AI-generated"`
	Error       string `json:"error,omitempty" jsonschema:"Why the job failed and what to do next"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
	// ProviderMillis is how long the provider took to generate the image.
	ProviderMillis int64  `json:"generation_ms,omitempty"`
	TemporalUIURL  string `json:"temporal_ui_url,omitempty" jsonschema:"The job in the Temporal Web UI"`
	// Images lists every image of a job with n > 1 (image_url is the first).
	Images []ImageView `json:"images,omitempty"`
	// FailedImages counts images of a multi-image job that could not be made.
	FailedImages int      `json:"failed_images,omitempty"`
	ImageErrors  []string `json:"image_errors,omitempty"`
	// Note says the job is past Temporal's retention (described from its
	// image record).
	Note string `json:"note,omitempty" jsonschema:"Set when the job is past the Temporal retention period and is described from its image record"`
	// InputImages, Mask and Strength are what an edit or image-to-image job
	// worked from, as the generate call named them (never image bytes).
	InputImages []string `json:"input_images,omitempty" jsonschema:"The reference images the job edited or started from: images://JOB[/INDEX] of an earlier job, an http(s) URL shown without its query string or user info, or inline:sha256-HEX for an inline image"`
	Mask        string   `json:"mask,omitempty" jsonschema:"The inpainting mask, a reference of the same forms as input_images"`
	Strength    *float64 `json:"strength,omitempty" jsonschema:"How far image-to-image moved away from the input (0 to 1)"`
	// Cost is the job's money: the estimate while it runs, what it cost
	// once it has finished. Absent for jobs started before costs were counted.
	Cost *CostView `json:"cost,omitempty" jsonschema:"What the job costs: the estimate while it runs, the actual cost (every paid attempt included) once it has finished"`
}

// CostView is a job's cost as tools show it: amounts as dollar strings, so
// that an unknown price reads "unknown" and never 0.
type CostView struct {
	Estimate string `json:"estimate" jsonschema:"What the job was expected to cost before it ran, in US dollars (e.g. $0.0006336); unknown when the model has no published price; $0.00 for offline previews"`
	Actual   string `json:"actual,omitempty" jsonschema:"What its paid provider calls cost once the job has finished, retries included; unknown when the model has no published price"`
	// PaidCalls counts provider calls that were or may have been paid.
	PaidCalls             int    `json:"paid_calls" jsonschema:"Provider calls that were or may have been paid for, retries and regenerations included"`
	PaidCallsWithoutImage int    `json:"paid_calls_without_image,omitempty" jsonschema:"Paid calls that left no stored image: the money lost to retries"`
	Preview               bool   `json:"preview,omitempty" jsonschema:"True for offline placeholders: no cost"`
	Summary               string `json:"summary" jsonschema:"The cost in one sentence"`
}

// ImageView is one image of a multi-image job.
type ImageView struct {
	ImageURL    string `json:"image_url"`
	ContentType string `json:"content_type"`
	SizeBytes   int64  `json:"size_bytes"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	// Cost is what this image's provider calls cost ("unknown" without a
	// published price); absent for jobs started before costs were counted.
	Cost string `json:"cost,omitempty"`
}

// view is how every tool shows a job. On a service that renders offline
// placeholders a job costs nothing, even before it has finished.
func (s *Server) view(j jobs.Job) JobView {
	v := JobView{
		JobID: j.ID, Status: string(j.Status), Stage: j.Stage, Prompt: j.Prompt, Model: j.Model,
		ImageURL: j.ImageURL, Error: j.Error,
		CreatedAt: formatTime(j.CreatedAt), UpdatedAt: formatTime(j.UpdatedAt), TemporalUIURL: j.UIURL,
		InputImages: j.Inputs, Mask: j.Mask, Strength: j.Strength,
	}
	if r := j.Result; r != nil {
		v.ContentType, v.SizeBytes, v.Width, v.Height = r.ContentType, r.SizeBytes, r.Width, r.Height
		v.Provider, v.Placeholder, v.ProviderMillis = r.Provider, r.Placeholder, r.ProviderMillis
		v.FailedImages, v.ImageErrors = r.Failed, r.Errors
		for _, img := range r.Images {
			iv := ImageView{ImageURL: img.URL, ContentType: img.ContentType, SizeBytes: img.SizeBytes, Width: img.Width, Height: img.Height}
			if j.Cost != nil {
				iv.Cost = amount(img.Cost)
				if img.Placeholder {
					iv.Cost = imagegen.USD(0).String()
				}
			}
			v.Images = append(v.Images, iv)
		}
	}
	v.Cost = costView(j, s.opts.Placeholder)
	return v
}

// amount shows an amount of money, or "unknown".
func amount(u *imagegen.USD) string {
	if u == nil {
		return "unknown"
	}
	return u.String()
}

// costView shows a job's cost. preview says the service renders offline
// placeholders (so even a running job costs nothing); a finished job says
// so itself.
func costView(j jobs.Job, preview bool) *CostView {
	c := j.Cost
	if c == nil {
		return nil
	}
	v := &CostView{Estimate: amount(c.Estimate), PaidCalls: c.PaidCalls, PaidCallsWithoutImage: c.PaidWithoutImage}
	done := j.Status.Terminal()
	preview = preview || c.Preview || j.Result != nil && j.Result.Placeholder
	v.Summary = c.Summary(j.Model, done, preview)
	switch {
	case preview:
		v.Preview, v.Estimate = true, imagegen.USD(0).String()
		if done {
			v.Actual = v.Estimate
		}
	case done:
		v.Actual = amount(c.Actual)
	}
	return v
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Generation is one completed image in the gallery listing.
type Generation struct {
	JobID       string `json:"job_id"`
	ImageURL    string `json:"image_url"`
	Prompt      string `json:"prompt"`
	Model       string `json:"model"`
	ContentType string `json:"content_type,omitempty"`
	Placeholder bool   `json:"placeholder,omitempty"`
	CreatedAt   string `json:"created_at"`
	CompletedAt string `json:"completed_at"`
}

// StartResult is what generate_image returns.
type StartResult struct {
	JobID         string `json:"job_id"`
	Status        string `json:"status"`
	Model         string `json:"model"`
	Message       string `json:"message"`
	TemporalUIURL string `json:"temporal_ui_url,omitempty"`
	// Existing is true when an idempotency key named a job that already existed.
	Existing bool `json:"existing,omitempty"`
	// Cost is the job's estimate (absent if the job layer gave none).
	Cost *CostView `json:"cost,omitempty" jsonschema:"What the job is expected to cost: the estimate at the published price, unknown without one, $0.00 for offline previews"`
}

// WaitResult is what the waiting tools return: the job, whether it finished,
// and what to do next.
type WaitResult struct {
	Done    bool    `json:"done" jsonschema:"True when the job has finished; false when the wait timed out and the job is still running"`
	Message string  `json:"message"`
	Job     JobView `json:"job"`
}

// GenerationList is what list_generations returns.
type GenerationList struct {
	Generations []Generation `json:"generations"`
	Count       int          `json:"count"`
	Limit       int          `json:"limit"`
	Offset      int          `json:"offset"`
}

// JobList is what list_jobs returns.
type JobList struct {
	Jobs   []JobView `json:"jobs"`
	Count  int       `json:"count"`
	Status string    `json:"status"`
	Limit  int       `json:"limit"`
	Offset int       `json:"offset"`
}
