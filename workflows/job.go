// Package workflows holds the image generation workflow and the vocabulary the
// rest of the service uses to find and read jobs: statuses, search attributes,
// the memo and the state query.
package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
)

// Names that callers and workers must agree on.
const (
	// TaskQueue is where generation workflows and Generate activities run.
	TaskQueue = "imagegen"
	// WorkflowName is the registered workflow type name.
	WorkflowName = "GenerateImage"
	// QueryState returns the job's full State.
	QueryState = "state"
	// MemoKey is the memo field holding the job's Record, so that list queries
	// return prompts and URLs without a query per job.
	MemoKey = "job"
)

// Status is a job's lifecycle stage, as the original system named them.
type Status string

const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusCanceled   Status = "canceled"
)

// Terminal reports whether the status is final.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCanceled
}

// Search attribute names, registered on the namespace before any workflow
// runs (a workflow that upserts an unregistered attribute hangs).
const (
	AttrStatus = "ImagegenStatus"
	AttrModel  = "ImagegenModel"
)

// Typed keys for the search attributes above.
var (
	StatusKey = temporal.NewSearchAttributeKeyKeyword(AttrStatus)
	ModelKey  = temporal.NewSearchAttributeKeyKeyword(AttrModel)
)

// SearchAttributes lists the custom search attributes the service needs, for
// registration on a namespace.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		AttrStatus: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		AttrModel:  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// Input starts a job.
type Input struct {
	Request imagegen.Request `json:"request"`
	// N is how many images to generate (1 to MaxImages; 0 means 1).
	N int `json:"n,omitempty"`
	// Plan is the model's timeouts, provider and retry bounds, resolved when
	// the job started (see NewInput). Nil in inputs recorded before plans
	// existed: those replay with legacyPlan.
	Plan *Plan `json:"plan,omitempty"`
	// Inputs and Mask are the request's reference images resolved when the
	// job started (jobs.Client.StartWith): an earlier job's image or an
	// inline image by its object-store key, a URL as it is. Empty for
	// text-to-image jobs, whose commands stay what they always were.
	Inputs []InputSource `json:"inputs,omitempty"`
	Mask   *InputSource  `json:"mask,omitempty"`
	// Budget is the job's reservation on a day's budget ledger (see
	// BudgetLedger), nil when no budget is configured: only a job with one
	// signals the ledger when it ends, so inputs without it (and every
	// history recorded before budgets) produce the same commands as before.
	Budget *BudgetReservation `json:"budget,omitempty"`
}

// BudgetReservation names the ledger holding a job's reserved estimate.
type BudgetReservation struct {
	// Ledger is the ledger's workflow id (BudgetLedgerID of the day).
	Ledger string `json:"ledger"`
	// Amount is the estimate reserved for the job.
	Amount imagegen.USD `json:"amount"`
}

// InputSource is one resolved reference image; see activities.InputSource.
type InputSource = activities.InputSource

// Result is what a completed job returns.
type Result struct {
	ImageURL    string `json:"image_url"`
	Key         string `json:"key"`
	ContentType string `json:"content_type"`
	SizeBytes   int64  `json:"size_bytes"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	// ProviderMillis is the provider's generation time; StoreMillis the upload's.
	ProviderMillis int64  `json:"provider_ms"`
	StoreMillis    int64  `json:"store_ms"`
	Provider       string `json:"provider"`
	// Placeholder is true for the offline preview provider: not an AI image.
	Placeholder bool `json:"placeholder,omitempty"`
	// ThumbnailKey names a small JPEG preview of the image (empty if none).
	ThumbnailKey string `json:"thumbnail_key,omitempty"`

	// Images lists every image of a job with n > 1 (the fields above repeat
	// the first); Failed counts the images that could not be made, Errors
	// says why.
	Images []Image  `json:"images,omitempty"`
	Failed int      `json:"failed,omitempty"`
	Errors []string `json:"errors,omitempty"`

	// Cost is what the job cost, every image and paid retry included (nil
	// for jobs started before costs were counted).
	Cost *Cost `json:"cost,omitempty"`
}

// Cost is a job's money: the estimate made when it started and what its
// paid provider calls actually cost. A nil amount is unknown (the model has
// no published price), never zero.
type Cost struct {
	// Estimate is what the job was expected to cost before it ran.
	Estimate *imagegen.USD `json:"estimate_usd,omitempty"`
	// Actual is what its paid provider calls cost so far (final once the
	// job has finished); nil when unknown.
	Actual *imagegen.USD `json:"actual_usd,omitempty"`
	// PaidCalls counts the provider calls that were or may have been paid
	// (see activities.Spend), retries and regenerations included.
	PaidCalls int `json:"paid_calls"`
	// PaidWithoutImage counts the paid calls that left no stored image: the
	// money lost to retries, lost staged images and failed images.
	PaidWithoutImage int `json:"paid_calls_without_image,omitempty"`
	// Preview: the images are offline placeholders, which cost nothing.
	Preview bool `json:"preview,omitempty"`
}

// Image is one stored image of a job.
type Image struct {
	URL            string `json:"image_url"`
	Key            string `json:"key"`
	ThumbnailKey   string `json:"thumbnail_key,omitempty"`
	ContentType    string `json:"content_type"`
	SizeBytes      int64  `json:"size_bytes"`
	Width          int    `json:"width,omitempty"`
	Height         int    `json:"height,omitempty"`
	ProviderMillis int64  `json:"provider_ms"`
	StoreMillis    int64  `json:"store_ms"`
	Provider       string `json:"provider"`
	Placeholder    bool   `json:"placeholder,omitempty"`
	// PaidCalls and Cost are what this image's provider calls cost (Cost nil:
	// unknown); zero for jobs started before costs were counted.
	PaidCalls int           `json:"paid_calls,omitempty"`
	Cost      *imagegen.USD `json:"cost_usd,omitempty"`
}

// Record is a job's state as kept in the memo and returned by the state query.
type Record struct {
	Status    Status           `json:"status"`
	Stage     string           `json:"stage,omitempty"` // finer than status: generating, storing
	Request   imagegen.Request `json:"request"`
	Result    *Result          `json:"result,omitempty"`
	Error     string           `json:"error,omitempty"`
	ErrorKind string           `json:"error_kind,omitempty"`
	// Generations is how many times an image of the job was generated (a
	// staged image lost with its worker is generated again).
	Generations int       `json:"generations,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Cost is the estimate while the job runs and the actual cost once it
	// has finished (nil for jobs started before costs were counted).
	Cost *Cost `json:"cost,omitempty"`
}

// Summary says the cost in one sentence, for people and models: the
// estimate while the job runs (done false), what it cost once it has
// finished; "unknown" for a model without a published price (named by
// model), "preview: no cost" for placeholders (preview, or c.Preview).
func (c Cost) Summary(model string, done, preview bool) string {
	if preview || c.Preview {
		return "preview: no cost (offline placeholders, not a paid model)"
	}
	if !done {
		if c.Estimate == nil {
			return "unknown: " + model + " has no published price"
		}
		return "estimated " + c.Estimate.String() + " at the published price; the actual cost is known when the job has finished"
	}
	calls := fmt.Sprintf("%d paid provider call", c.PaidCalls)
	if c.PaidCalls != 1 {
		calls += "s"
	}
	if c.PaidWithoutImage > 0 {
		calls += fmt.Sprintf(", %d of them without an image", c.PaidWithoutImage)
	}
	if c.Actual == nil {
		return "unknown: " + model + " has no published price (" + calls + ")"
	}
	s := c.Actual.String() + " for " + calls
	if c.Estimate != nil {
		s += "; estimated " + c.Estimate.String()
	}
	return s
}

// Short says the cost in a few words, for a gallery card: "est. $0.0006336"
// while running, "$0.0012672" once finished, "cost unknown" without a
// published price, "no cost (preview)" for placeholders.
func (c Cost) Short(done, preview bool) string {
	switch {
	case preview || c.Preview:
		return "no cost (preview)"
	case !done && c.Estimate == nil:
		return "cost unknown"
	case !done:
		return "est. " + c.Estimate.String()
	case c.Actual == nil:
		return "cost unknown"
	default:
		return c.Actual.String()
	}
}
