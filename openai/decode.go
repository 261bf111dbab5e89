package openai

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"strconv"
	"strings"

	"github.com/imagegen/imagegen"
)

// maxMessageLen bounds provider-supplied text in our errors: it comes from
// the remote, ends up in tool results and logs, and must stay readable.
const maxMessageLen = 300

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
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = strings.ToLower(strings.TrimSpace(contentType))
	}
	var env envelope
	parsed := json.Unmarshal(body, &env) == nil

	if status < 200 || status > 299 {
		if e, ok := env.apiError(); parsed && ok {
			return answer{}, classify(status, e)
		}
		return answer{}, classify(status, apiError{Message: textSnippet(mediaType, body)})
	}
	if !parsed {
		return answer{}, badResponse(status, "the answer is not JSON (content type %q, starts with %q)",
			imagegen.RemoteText(contentType, 60), imagegen.RemoteText(string(body[:min(len(body), 128)]), 40))
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
		data, err := decodeBase64(first.B64JSON)
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

// decodeBase64 accepts padded and unpadded standard base64, and a data: URL
// prefix, the forms seen from compatible servers.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "data:"); ok {
		if _, b64, ok := strings.Cut(rest, ";base64,"); ok {
			s = b64
		}
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err == nil {
		return b, nil
	}
	if b2, err2 := base64.RawStdEncoding.DecodeString(s); err2 == nil {
		return b2, nil
	}
	return nil, err
}

// classify maps a failure to an error kind: by the error code first (the
// precise signal), then by what the message says of the safety system, then
// by the HTTP status. The provider's message is kept, trimmed, because for
// input errors it names the offending field.
func classify(status int, e apiError) *imagegen.Error {
	code := strings.ToLower(e.code())
	provider := imagegen.RemoteText(strings.TrimSpace(e.Message), maxMessageLen)
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
		kind = imagegen.KindForHTTPStatus(status)
	}

	msg := summary(kind, status)
	if refused && kind == imagegen.KindInvalidInput {
		msg = "the prompt was refused by the provider's safety system"
	}
	if provider != "" {
		msg += ". The images API said: " + provider
	}
	// Numeric codes are kept in Code as with Workers AI; OpenAI's are words,
	// already in the message's context when they matter.
	n, _ := strconv.Atoi(code)
	return &imagegen.Error{Kind: kind, Code: n, Status: status, Message: msg}
}

// summary is the human part of the message: what happened. What to do about
// it is the kind's advice (imagegen.ErrorKind.Explain), added once when a job
// fails.
func summary(kind imagegen.ErrorKind, status int) string {
	switch kind {
	case imagegen.KindInvalidInput:
		return fmt.Sprintf("the images API rejected the request (HTTP %d)", status)
	case imagegen.KindUnknownModel:
		return fmt.Sprintf("the images API does not know this model, or the base URL is wrong (HTTP %d)", status)
	case imagegen.KindUnauthorized:
		return fmt.Sprintf("the images API refused the key in OPENAI_API_KEY (HTTP %d)", status)
	case imagegen.KindQuotaExceeded:
		return "the images API account's quota or billing limit is used up"
	case imagegen.KindCapacity:
		return fmt.Sprintf("the images API is rate-limiting or out of capacity (HTTP %d)", status)
	case imagegen.KindTimeout:
		return fmt.Sprintf("the images API timed out (HTTP %d)", status)
	case imagegen.KindMisconfigured:
		return fmt.Sprintf("the images API answered with a redirect (HTTP %d), so OPENAI_BASE_URL is wrong", status)
	default:
		return fmt.Sprintf("the images API failed (HTTP %d)", status)
	}
}

func badResponse(status int, format string, args ...any) *imagegen.Error {
	return &imagegen.Error{Kind: imagegen.KindBadResponse, Status: status,
		Message: "the images API returned an unusable answer: " + imagegen.RemoteText(fmt.Sprintf(format, args...), maxMessageLen)}
}

// textSnippet keeps the start of a plain-text error body (gateways send
// those); HTML and binary bodies say nothing useful and are dropped.
func textSnippet(mediaType string, body []byte) string {
	if mediaType != "text/plain" {
		return ""
	}
	return string(body[:min(len(body), 8*maxMessageLen)])
}
