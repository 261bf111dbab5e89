package imagegen

import (
	"errors"
	"fmt"
	"strings"
)

// ErrorKind classifies a failure by what the caller should do about it. The
// activities turn kinds into Temporal retry decisions; the MCP layer turns them
// into advice for the model.
type ErrorKind string

const (
	KindInvalidInput  ErrorKind = "invalid_input"  // the request is wrong: fix it (5006)
	KindUnknownModel  ErrorKind = "unknown_model"  // no such model (5007, 3042)
	KindUnauthorized  ErrorKind = "unauthorized"   // bad token or account (10000)
	KindQuotaExceeded ErrorKind = "quota_exceeded" // daily free allocation used up (4006, 3036)
	KindCapacity      ErrorKind = "capacity"       // provider out of capacity (3040): retry
	KindTimeout       ErrorKind = "timeout"        // provider inference timed out (3007): retry
	KindUpstream      ErrorKind = "upstream"       // 5xx, connection reset, other transient faults: retry
	KindBadResponse   ErrorKind = "bad_response"   // unreadable answer (wrong type, truncated image): retry
	KindStorage       ErrorKind = "storage"        // storage temporarily failing: retry the upload
	KindMisconfigured ErrorKind = "misconfigured"  // storage or provider set up wrong (no bucket, denied)
	// KindBudgetExceeded: the operator's daily budget (or per-job ceiling)
	// does not cover the job, which was therefore not started.
	KindBudgetExceeded ErrorKind = "budget_exceeded"
)

// Retryable reports whether trying the same call again may succeed.
func (k ErrorKind) Retryable() bool {
	switch k {
	case KindCapacity, KindTimeout, KindUpstream, KindBadResponse, KindStorage:
		return true
	default:
		return false
	}
}

// Known reports whether k is one of the kinds above.
func (k ErrorKind) Known() bool {
	switch k {
	case KindInvalidInput, KindUnknownModel, KindUnauthorized, KindQuotaExceeded, KindCapacity,
		KindTimeout, KindUpstream, KindBadResponse, KindStorage, KindMisconfigured, KindBudgetExceeded:
		return true
	default:
		return false
	}
}

// Advice tells an AI assistant what to do next after a job failed with this
// kind. It is the only place advice is written: provider messages say what
// happened, Explain adds this once.
func (k ErrorKind) Advice() string {
	switch k {
	case KindInvalidInput:
		return "Rephrase the prompt or fix the parameters, then start a new job."
	case KindUnknownModel:
		return "Use one of the listed models."
	case KindUnauthorized:
		return "Retrying will not help: tell the operator to check the service's provider credentials."
	case KindQuotaExceeded:
		return "Retrying today will not help: try again tomorrow (the Workers AI free allocation resets at 00:00 UTC), use another model, or ask the operator to raise the quota."
	case KindCapacity, KindTimeout, KindUpstream, KindBadResponse:
		return "The provider kept failing after several retries; try again in a few minutes or with another model (flux-schnell is fastest)."
	case KindStorage:
		return "The image was generated but could not be stored after several retries; try again later."
	case KindMisconfigured:
		return "The service is misconfigured; tell the operator. Retrying will not help."
	case KindBudgetExceeded:
		return "No job was started: tell the user before spending more; a cheaper model, fewer or smaller images fit better, or wait for the budget to reset at 00:00 UTC (get_budget shows what is left)."
	default:
		return "Try again later."
	}
}

// Explain is the model-facing message of a job that failed with this kind:
// what happened (said by the layer that knows, without advice), then the
// kind's advice, once.
func (k ErrorKind) Explain(what string) string {
	what = strings.TrimRight(strings.TrimSpace(what), ".")
	if what == "" {
		return k.Advice()
	}
	return what + ". " + k.Advice()
}

// Error is a classified failure. Message says what happened in words safe to
// show to a model or a person (never credentials, never advice: see
// ErrorKind.Explain); Error() adds the kind and code for logs.
type Error struct {
	Kind    ErrorKind
	Code    int // provider error code, 0 if none
	Status  int // HTTP status, 0 if none
	Message string
	Err     error // underlying cause, if any
}

func (e *Error) Error() string {
	s := string(e.Kind) + ": " + e.Message
	if e.Code != 0 {
		s = fmt.Sprintf("%s (code %d)", s, e.Code)
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the first *Error in err's chain, or "" if none.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}
