package workersai

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/imagegen/imagegen"
)

const (
	// maxMessageLen bounds provider-supplied text in our errors: it comes from
	// the remote, ends up in tool results and logs, and must stay readable.
	maxMessageLen = 300
)

// envelope is the Cloudflare API v4 JSON wrapper around results and errors.
type envelope struct {
	Result  json.RawMessage `json:"result"`
	Success *bool           `json:"success"`
	Errors  []apiMessage    `json:"errors"`
}

type apiMessage struct {
	Code    apiCode `json:"code"`
	Message string  `json:"message"`
}

// apiCode accepts a code sent as a number or as a numeric string, so that a
// gateway re-encoding the envelope does not turn a clear error into an
// unreadable response.
type apiCode int

func (c *apiCode) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*c = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("error code %s is not a number", b)
	}
	*c = apiCode(n)
	return nil
}

// decodeResponse turns one complete HTTP answer into an image or an
// *imagegen.Error. It is separate from the HTTP plumbing so that it can be
// fuzzed. A success is only returned for bytes that fully decode as an image,
// named by their magic bytes rather than by what the provider claimed.
func decodeResponse(status int, contentType string, body []byte) (imagegen.Image, error) {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = strings.ToLower(strings.TrimSpace(contentType))
	}
	isJSON := mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")

	if status < 200 || status > 299 {
		var env envelope
		if isJSON && json.Unmarshal(body, &env) == nil {
			return imagegen.Image{}, classify(status, env.Errors)
		}
		return imagegen.Image{}, classify(status, []apiMessage{{Message: textSnippet(mediaType, body)}})
	}

	var data []byte
	switch {
	case isJSON:
		var env envelope
		if err := json.Unmarshal(body, &env); err != nil {
			return imagegen.Image{}, badResponse(status, "the JSON answer does not parse: %v", err)
		}
		// An error envelope can come with HTTP 200, so success decides; a
		// body without the flag counts as failed only if it lists errors.
		if (env.Success != nil && !*env.Success) || (env.Success == nil && len(env.Errors) > 0) {
			return imagegen.Image{}, classify(status, env.Errors)
		}
		var result struct {
			Image string `json:"image"`
		}
		if err := json.Unmarshal(env.Result, &result); err != nil || result.Image == "" {
			return imagegen.Image{}, badResponse(status, "the JSON answer has no result.image")
		}
		data, err = decodeBase64(result.Image)
		if err != nil {
			return imagegen.Image{}, badResponse(status, "result.image is not valid base64: %v", err)
		}
	case strings.HasPrefix(mediaType, "image/"):
		data = body
	default:
		return imagegen.Image{}, badResponse(status, "unexpected content type %q (want application/json or image/*)", clip(contentType, 80))
	}

	kind, err := checkImage(data)
	if err != nil {
		return imagegen.Image{}, badResponse(status, "%v", err)
	}
	return imagegen.Image{Data: data, ContentType: kind}, nil
}

// decodeBase64 accepts padded and unpadded standard base64, the two forms
// seen from JSON-returning image models.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	b, err := base64.StdEncoding.DecodeString(s)
	if err == nil {
		return b, nil
	}
	if b2, err2 := base64.RawStdEncoding.DecodeString(s); err2 == nil {
		return b2, nil
	}
	return nil, err
}

// checkImage names and fully decodes the image; the check is shared with
// the other providers (see imagegen.CheckImage).
func checkImage(data []byte) (string, error) { return imagegen.CheckImage(data) }

// classify maps a Workers AI failure to an error kind: by the envelope's error
// code first (it is the precise signal), then by the quota wording, then by
// the HTTP status. The provider's message is kept, trimmed, because for input
// errors it names the offending field.
func classify(status int, errs []apiMessage) *imagegen.Error {
	var code int
	var msgs []string
	for _, e := range errs {
		if code == 0 && e.Code != 0 {
			code = int(e.Code)
		}
		if m := strings.TrimSpace(e.Message); m != "" {
			msgs = append(msgs, m)
		}
	}
	for _, e := range errs { // prefer a code we know over the first one
		if _, ok := kindForCode(int(e.Code)); ok {
			code = int(e.Code)
			break
		}
	}
	provider := clip(strings.Join(msgs, "; "), maxMessageLen)

	kind, ok := kindForCode(code)
	if !ok && strings.Contains(strings.ToLower(provider), "daily free allocation") {
		kind, ok = imagegen.KindQuotaExceeded, true
	}
	if !ok {
		kind = imagegen.KindForHTTPStatus(status)
	}

	msg := summary(kind, status)
	if provider != "" {
		msg += ". Workers AI said: " + provider
	}
	return &imagegen.Error{Kind: kind, Code: code, Status: status, Message: msg}
}

func kindForCode(code int) (imagegen.ErrorKind, bool) {
	switch code {
	case 5006:
		return imagegen.KindInvalidInput, true
	case 5007, 3042:
		return imagegen.KindUnknownModel, true
	case 10000:
		return imagegen.KindUnauthorized, true
	case 3040:
		return imagegen.KindCapacity, true
	case 4006, 3036:
		return imagegen.KindQuotaExceeded, true
	case 3007:
		return imagegen.KindTimeout, true
	default:
		return "", false
	}
}

// summary is the human part of the message: what happened. What to do about
// it is the kind's advice (imagegen.ErrorKind.Explain), added once when a job
// fails.
func summary(kind imagegen.ErrorKind, status int) string {
	switch kind {
	case imagegen.KindInvalidInput:
		return fmt.Sprintf("Workers AI rejected the request (HTTP %d)", status)
	case imagegen.KindUnknownModel:
		if status == http.StatusNotFound {
			return "Workers AI does not know this model, or the base URL is wrong (HTTP 404)"
		}
		return fmt.Sprintf("Workers AI does not know this model (HTTP %d)", status)
	case imagegen.KindUnauthorized:
		return fmt.Sprintf("Workers AI refused the account ID or API token (HTTP %d)", status)
	case imagegen.KindQuotaExceeded:
		return "the daily Workers AI free allocation is used up"
	case imagegen.KindCapacity:
		return fmt.Sprintf("Workers AI is out of capacity for this model (HTTP %d)", status)
	case imagegen.KindTimeout:
		return fmt.Sprintf("Workers AI inference timed out (HTTP %d)", status)
	case imagegen.KindMisconfigured:
		return fmt.Sprintf("Workers AI answered with a redirect (HTTP %d), so the base URL is wrong", status)
	default:
		return fmt.Sprintf("Workers AI failed (HTTP %d)", status)
	}
}

func badResponse(status int, format string, args ...any) *imagegen.Error {
	return &imagegen.Error{Kind: imagegen.KindBadResponse, Status: status,
		Message: "Workers AI returned an unusable answer: " + clip(fmt.Sprintf(format, args...), maxMessageLen)}
}

// textSnippet keeps the start of a plain-text error body (gateways send
// those); HTML and binary bodies say nothing useful and are dropped.
func textSnippet(mediaType string, body []byte) string {
	if mediaType != "text/plain" {
		return ""
	}
	return clip(string(body), maxMessageLen)
}

// clip makes remote text safe to embed (see imagegen.RemoteText).
func clip(s string, n int) string { return imagegen.RemoteText(s, n) }
