package providerkit

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/imagegen/imagegen"
)

// MaxMessageLen bounds provider-supplied text in our errors: it comes from
// the remote, ends up in tool results and logs, and must stay readable.
const MaxMessageLen = 300

// Service is how a provider is named in the messages of its errors. The
// messages say what happened, never what to do: that is the error kind's
// advice (imagegen.ErrorKind.Explain), added once when a job fails.
type Service struct {
	// Name is the subject of every sentence: "Workers AI", "the images API".
	Name string
	// Credentials is what a 401 or 403 refused: "the account ID or API token".
	Credentials string
	// BaseURL is the setting a redirect shows to be wrong: "the base URL".
	BaseURL string
	// Quota is the whole sentence for a used-up quota.
	Quota string
	// Capacity and Timeout complete "<Name> ... (HTTP n)" for a provider out
	// of capacity and for one that timed out: "is out of capacity for this
	// model", "inference timed out".
	Capacity, Timeout string
}

// Summary says what a failure of this kind, answered with this HTTP status,
// means.
func (s Service) Summary(kind imagegen.ErrorKind, status int) string {
	switch kind {
	case imagegen.KindInvalidInput:
		return fmt.Sprintf("%s rejected the request (HTTP %d)", s.Name, status)
	case imagegen.KindUnknownModel:
		if status == http.StatusNotFound {
			return fmt.Sprintf("%s does not know this model, or the base URL is wrong (HTTP 404)", s.Name)
		}
		return fmt.Sprintf("%s does not know this model (HTTP %d)", s.Name, status)
	case imagegen.KindUnauthorized:
		return fmt.Sprintf("%s refused %s (HTTP %d)", s.Name, s.Credentials, status)
	case imagegen.KindQuotaExceeded:
		return s.Quota
	case imagegen.KindCapacity:
		return fmt.Sprintf("%s %s (HTTP %d)", s.Name, s.Capacity, status)
	case imagegen.KindTimeout:
		return fmt.Sprintf("%s %s (HTTP %d)", s.Name, s.Timeout, status)
	case imagegen.KindMisconfigured:
		return fmt.Sprintf("%s answered with a redirect (HTTP %d), so %s is wrong", s.Name, status, s.BaseURL)
	default:
		return fmt.Sprintf("%s failed (HTTP %d)", s.Name, status)
	}
}

// Said appends what the provider itself said, if anything, to a message:
// for input errors it names the offending field.
func (s Service) Said(msg, remote string) string {
	if remote == "" {
		return msg
	}
	return msg + ". " + capitalize(s.Name) + " said: " + remote
}

// BadResponse is the error for an answer that cannot be used (wrong type,
// truncated image, too large): retryable, since the next answer may be fine.
func (s Service) BadResponse(status int, format string, args ...any) *imagegen.Error {
	return &imagegen.Error{Kind: imagegen.KindBadResponse, Status: status,
		Message: s.Name + " returned an unusable answer: " + RemoteText(fmt.Sprintf(format, args...), MaxMessageLen)}
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// MediaType is the lower-case media type of a Content-Type header, without
// parameters; a header that does not parse is taken as it stands.
func MediaType(contentType string) string {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(contentType))
	}
	return mediaType
}

// TextSnippet keeps the start of a plain-text error body (gateways send
// those), made safe to embed; HTML and binary bodies say nothing useful and
// are dropped.
func TextSnippet(mediaType string, body []byte) string {
	if mediaType != "text/plain" {
		return ""
	}
	return RemoteText(string(body), MaxMessageLen)
}

// DecodeBase64 accepts padded and unpadded standard base64, and a data: URL
// prefix, the forms image APIs answer with.
func DecodeBase64(s string) ([]byte, error) {
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
