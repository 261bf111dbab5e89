package mcpserver

import (
	"time"

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
}

// ImageView is one image of a multi-image job.
type ImageView struct {
	ImageURL    string `json:"image_url"`
	ContentType string `json:"content_type"`
	SizeBytes   int64  `json:"size_bytes"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
}

func viewOf(j jobs.Job) JobView {
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
			v.Images = append(v.Images, ImageView{ImageURL: img.URL, ContentType: img.ContentType, SizeBytes: img.SizeBytes, Width: img.Width, Height: img.Height})
		}
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
