package workersai

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit"
)

// service names Workers AI in error messages.
func service() providerkit.Service {
	return providerkit.Service{
		Name:        "Workers AI",
		Credentials: "the account ID or API token",
		BaseURL:     "the base URL",
		Quota:       "the daily Workers AI free allocation is used up",
		Capacity:    "is out of capacity for this model",
		Timeout:     "inference timed out",
	}
}

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
	mediaType := providerkit.MediaType(contentType)
	isJSON := mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")

	if status < 200 || status > 299 {
		var env envelope
		if isJSON && json.Unmarshal(body, &env) == nil {
			return imagegen.Image{}, classify(status, env.Errors)
		}
		return imagegen.Image{}, classify(status, []apiMessage{{Message: providerkit.TextSnippet(mediaType, body)}})
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
		var err error
		data, err = providerkit.DecodeBase64(result.Image)
		if err != nil {
			return imagegen.Image{}, badResponse(status, "result.image is not valid base64: %v", err)
		}
	case strings.HasPrefix(mediaType, "image/"):
		data = body
	default:
		return imagegen.Image{}, badResponse(status, "unexpected content type %q (want application/json or image/*)", providerkit.RemoteText(contentType, 80))
	}

	kind, err := providerkit.CheckImage(data)
	if err != nil {
		return imagegen.Image{}, badResponse(status, "%v", err)
	}
	return imagegen.Image{Data: data, ContentType: kind}, nil
}

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
	provider := providerkit.RemoteText(strings.Join(msgs, "; "), providerkit.MaxMessageLen)

	kind, ok := kindForCode(code)
	if !ok && strings.Contains(strings.ToLower(provider), "daily free allocation") {
		kind, ok = imagegen.KindQuotaExceeded, true
	}
	if !ok {
		kind = providerkit.KindForStatus(status)
	}

	return &imagegen.Error{Kind: kind, Code: code, Status: status, Message: service().Said(service().Summary(kind, status), provider)}
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

func badResponse(status int, format string, args ...any) *imagegen.Error {
	return service().BadResponse(status, format, args...)
}
