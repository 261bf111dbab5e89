package imagegen

import (
	"errors"
	"fmt"
	"net/http"
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

// Advice tells an AI assistant what to do next after a job failed with this kind.
func (k ErrorKind) Advice() string {
	switch k {
	case KindInvalidInput:
		return "Rephrase the prompt or fix the parameters, then start a new job."
	case KindUnknownModel:
		return "Use one of the listed models."
	case KindUnauthorized:
		return "The service's provider credentials were refused; tell the operator. Retrying will not help."
	case KindQuotaExceeded:
		return "The provider's quota is used up (Workers AI: the daily free allocation, reset at 00:00 UTC); try again tomorrow, use another model, or ask the operator to upgrade."
	case KindCapacity, KindTimeout, KindUpstream, KindBadResponse:
		return "The provider kept failing after several retries; try again in a few minutes or with another model (flux-schnell is fastest)."
	case KindStorage:
		return "The image was generated but could not be stored after several retries; try again later."
	case KindMisconfigured:
		return "The service is misconfigured; tell the operator. Retrying will not help."
	default:
		return "Try again later."
	}
}

// Error is a classified failure. Message is safe to show to a model or a
// person: it never contains credentials.
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

// KindForHTTPStatus classifies an HTTP API's failure by status alone, the
// fallback when the answer carried no error code a provider client knows. An
// unknown 4xx is a non-retryable input error (the same request would be
// refused again); redirects are not followed for a POST, so a base URL that
// redirects is set up wrong.
func KindForHTTPStatus(status int) ErrorKind {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return KindUnauthorized
	case status == http.StatusNotFound:
		return KindUnknownModel
	case status == http.StatusRequestTimeout:
		return KindTimeout
	case status == http.StatusTooManyRequests:
		return KindCapacity
	case status >= 500:
		return KindUpstream
	case status >= 400:
		return KindInvalidInput
	case status >= 300:
		return KindMisconfigured
	default:
		return KindUpstream
	}
}

// KindOf returns the kind of the first *Error in err's chain, or "" if none.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}
