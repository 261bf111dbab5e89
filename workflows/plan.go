package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/imagegen/imagegen"
)

// Plan is everything the workflow needs to know about a job's model,
// resolved from the models table when the job is started (NewInput) and
// carried in the workflow input. Workflow code never reads the models table:
// a row renamed or retuned while a job runs, or after its history was saved,
// must not change what a replay of that job decides.
type Plan struct {
	// Provider routes the job: the models table's provider of its model
	// ("workersai", "openai"), reported with each image.
	Provider string `json:"provider"`
	// GenerateTimeout bounds one Generate attempt (the model's provider
	// timeout plus the activity's own margin).
	GenerateTimeout time.Duration `json:"generate_timeout"`
	// GenerateAttempts bounds paid provider calls per generation.
	GenerateAttempts int32 `json:"generate_attempts"`
	// Generations bounds how often one image is generated: a staged image
	// lost with its worker is generated again until this many generations.
	Generations int `json:"generations"`
	// Cost is the job's price resolved when it started (nil in inputs
	// recorded before costs were counted: those jobs report no cost).
	Cost *PlanCost `json:"cost,omitempty"`
	// InputSide is the longest side input images are resized down to (the
	// model's InputSide; 0: sent as they are).
	InputSide int `json:"input_side,omitempty"`
}

// PlanCost is what a job was expected to cost when it started, from the
// price table (imagegen.EstimateCost). Workflow code never reads the price
// table, for the same reason it never reads the models table.
type PlanCost struct {
	// Estimate is n calls at the request's size, steps and inputs; nil when
	// the model has no published price (the cost is unknown, not zero).
	Estimate *imagegen.USD `json:"estimate_usd,omitempty"`
}

// Retry and timeout policy that is not the model's. See README "Pipeline and
// retries" for the why.
const (
	// generateMargin is added to the model's provider timeout for one
	// Generate attempt: staging the image and reporting back (and reading
	// an edit's staged inputs).
	generateMargin = 30 * time.Second
	// fetchInputsTimeout bounds one FetchInputs attempt: up to five
	// downloads (four images and a mask), each bounded by the fetcher.
	fetchInputsTimeout = 3 * time.Minute
	// fetchInputsAttempts bounds FetchInputs attempts (retryable faults:
	// network, storage).
	fetchInputsAttempts = 5
	// defaultGenerateAttempts bounds paid provider calls per generation.
	defaultGenerateAttempts = 5
	// defaultGenerations: a lost staged image is regenerated at most once more.
	defaultGenerations = 2
)

// PlanFor resolves a model's plan. Call it when a job starts, never from
// workflow code.
func PlanFor(m imagegen.Model) Plan {
	return Plan{
		Provider:         m.Provider,
		GenerateTimeout:  m.Timeout + generateMargin,
		GenerateAttempts: defaultGenerateAttempts,
		Generations:      defaultGenerations,
		InputSide:        m.InputSide,
	}
}

// NewInput is the input that starts a job of n images: the request with its
// plan resolved from the models table. The request must be valid (see
// imagegen.Request.Validate); an unknown model is an error.
func NewInput(req imagegen.Request, n int) (Input, error) {
	m, ok := imagegen.LookupModel(req.Model)
	if !ok {
		return Input{}, &imagegen.Error{Kind: imagegen.KindUnknownModel,
			Message: fmt.Sprintf("unknown model %q: use one of %s", req.Model, strings.Join(imagegen.ModelNames(), ", "))}
	}
	p := PlanFor(m)
	p.Cost = &PlanCost{}
	if est, ok := imagegen.EstimateCost(req, n); ok {
		p.Cost.Estimate = &est
	}
	return Input{Request: req, N: n, Plan: &p}, nil
}

// legacyPlan is the plan of a job started before inputs carried one: its
// histories (some saved in testdata, others of jobs still running when a
// worker is upgraded) replay against this frozen copy of the models table as
// it was when they were recorded, never against the live table.
//
// Why not workflow.GetVersion: a version marker tells old histories from new
// ones, but an old history still needs the old values, so the frozen copy is
// needed either way, and the input already says which kind a history is (a
// nil Plan). The only value that changes the commands of an old history is
// whether its model was known (unknown: the job fails without scheduling
// anything); timeouts and the provider only shape activity options, which
// replay does not compare but a running job still uses.
//
// Never edit this table: add models to the live table instead.
func legacyPlan(model string) (Plan, bool) {
	var timeout time.Duration
	provider := "workersai"
	switch model {
	case "flux-schnell":
		timeout = 60 * time.Second
	case "sdxl-lightning":
		timeout = 90 * time.Second
	case "sdxl-base":
		timeout = 150 * time.Second
	case "leonardo-phoenix", "leonardo-lucid-origin":
		timeout = 120 * time.Second
	case "openai-image":
		timeout, provider = 180*time.Second, "openai"
	default:
		return Plan{}, false
	}
	return Plan{
		Provider:         provider,
		GenerateTimeout:  timeout + generateMargin,
		GenerateAttempts: defaultGenerateAttempts,
		Generations:      defaultGenerations,
	}, true
}

// plan is the input's plan, or the legacy one for inputs without. Bounds a
// caller left at zero get the defaults: zero attempts would mean unlimited
// paid calls.
func (in Input) plan() (Plan, bool) {
	if in.Plan == nil {
		return legacyPlan(in.Request.Model)
	}
	p := *in.Plan
	if p.GenerateTimeout <= 0 {
		p.GenerateTimeout = maxGenerateTimeout
	}
	if p.GenerateAttempts <= 0 {
		p.GenerateAttempts = defaultGenerateAttempts
	}
	if p.Generations <= 0 {
		p.Generations = defaultGenerations
	}
	return p, true
}

// maxGenerateTimeout stands in for a plan without a timeout: the slowest
// model's (openai-image, 180 s) plus the margin.
const maxGenerateTimeout = 180*time.Second + generateMargin
