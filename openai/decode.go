package openai

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit"
)

// service names the images API in error messages.
func service() providerkit.Service {
	return providerkit.Service{
		Name:        "the images API",
		Credentials: "the key in OPENAI_API_KEY",
		BaseURL:     "OPENAI_BASE_URL",
		Quota:       "the images API account's quota or billing limit is used up",
		Capacity:    "is rate-limiting or out of capacity",
		Timeout:     "timed out",
	}
}

// answer is a success: {"created":...,"data":[{"b64_json":"..."}]}, or
// data[0].url from servers that answer with links.
type answer struct {
	data []byte
	url  string
}

// apiError is the error envelope's inner object:
// {"error":{"message":"...","type":"...","param":"...","code":"..."}}.
type apiError struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"` // a string at OpenAI; numbers and null elsewhere
}

// code returns the error code as text, whatever JSON type it came as.
func (e apiError) code() string {
	var s string
	if json.Unmarshal(e.Code, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(e.Code, &n) == nil {
		return n.String()
	}
	return ""
}

// envelope holds both shapes; "error" is an object at OpenAI and a bare
// string at some compatible servers.
type envelope struct {
	Data []struct {
		B64JSON string `json:"b64_json"`
		URL     string `json:"url"`
	} `json:"data"`
	Error json.RawMessage `json:"error"`
}

func (env envelope) apiError() (apiError, bool) {
	if len(env.Error) == 0 || string(env.Error) == "null" {
		return apiError{}, false
	}
	var e apiError
	if json.Unmarshal(env.Error, &e) == nil {
		return e, true
	}
	var s string
	if json.Unmarshal(env.Error, &s) == nil {
		return apiError{Message: s}, true
	}
	return apiError{}, true
}

// decodeAnswer turns one complete HTTP answer into image bytes (still to be
// checked), an image URL to fetch, or an *imagegen.Error. It is separate from
// the HTTP plumbing so that it can be fuzzed.
func decodeAnswer(status int, contentType string, body []byte) (answer, error) {
	mediaType := providerkit.MediaType(contentType)
	var env envelope
	parsed := json.Unmarshal(body, &env) == nil

	if status < 200 || status > 299 {
		if e, ok := env.apiError(); parsed && ok {
			return answer{}, classify(status, e)
		}
		return answer{}, classify(status, apiError{Message: providerkit.TextSnippet(mediaType, body)})
	}
	if !parsed {
		return answer{}, badResponse(status, "the answer is not JSON (content type %q, starts with %q)",
			providerkit.RemoteText(contentType, 60), providerkit.RemoteText(string(body[:min(len(body), 128)]), 40))
	}
	if e, ok := env.apiError(); ok && len(env.Data) == 0 {
		return answer{}, classify(status, e)
	}
	if len(env.Data) == 0 {
		return answer{}, badResponse(status, "the answer has no data[0]")
	}
	first := env.Data[0]
	switch {
	case first.B64JSON != "":
		data, err := providerkit.DecodeBase64(first.B64JSON)
		if err != nil {
			return answer{}, badResponse(status, "data[0].b64_json is not valid base64: %v", err)
		}
		if len(data) == 0 {
			return answer{}, badResponse(status, "data[0].b64_json is empty")
		}
		return answer{data: data}, nil
	case first.URL != "":
		return answer{url: first.URL}, nil
	default:
		return answer{}, badResponse(status, "data[0] has neither b64_json nor url")
	}
}

// classify maps a failure to an error kind: by the error code first (the
// precise signal), then by what the message says of the safety system, then
// by the HTTP status. The provider's message is kept, trimmed, because for
// input errors it names the offending field.
func classify(status int, e apiError) *imagegen.Error {
	code := strings.ToLower(e.code())
	provider := providerkit.RemoteText(strings.TrimSpace(e.Message), providerkit.MaxMessageLen)
	refused := code == "content_policy_violation" || code == "moderation_blocked" ||
		strings.Contains(strings.ToLower(provider), "safety system")

	var kind imagegen.ErrorKind
	switch {
	case code == "insufficient_quota" || strings.EqualFold(e.Type, "insufficient_quota") ||
		code == "billing_hard_limit_reached" || code == "billing_not_active":
		kind = imagegen.KindQuotaExceeded
	case refused:
		kind = imagegen.KindInvalidInput
	case code == "model_not_found":
		kind = imagegen.KindUnknownModel
	case code == "invalid_api_key":
		kind = imagegen.KindUnauthorized
	default:
		kind = providerkit.KindForStatus(status)
	}

	msg := service().Summary(kind, status)
	if refused && kind == imagegen.KindInvalidInput {
		msg = "the prompt was refused by the provider's safety system"
	}
	msg = service().Said(msg, provider)
	// Numeric codes are kept in Code as with Workers AI; OpenAI's are words,
	// already in the message's context when they matter.
	n, _ := strconv.Atoi(code)
	return &imagegen.Error{Kind: kind, Code: n, Status: status, Message: msg}
}

func badResponse(status int, format string, args ...any) *imagegen.Error {
	return service().BadResponse(status, format, args...)
}
