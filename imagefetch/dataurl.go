package imagefetch

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"

	"github.com/imagegen/imagegen"
)

// IsDataURL reports whether s is written as a data: URL (whatever its
// content): the form ParseDataURL reads.
func IsDataURL(s string) bool {
	return len(s) >= 5 && strings.EqualFold(s[:5], "data:")
}

// ParseDataURL decodes an inline image written as a data: URL,
// "data:image/png;base64,iVBORw0…" (RFC 2397; image/png, image/jpeg and
// image/webp, base64 only). Padding may be missing, the URL-safe alphabet
// and line breaks are tolerated. It refuses an image larger than maxBytes
// decoded (maxBytes <= 0: DefaultMaxBytes) before decoding it, and returns
// the bytes with the type sniffed from them: a PNG labelled image/jpeg is a
// PNG. Errors are *imagegen.Error of kind KindInvalidInput and never quote
// the data.
func ParseDataURL(s string, maxBytes int) (data []byte, contentType string, err error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if !IsDataURL(s) {
		return nil, "", invalid("inline image is not a data: URL (write data:image/png;base64,...)", nil)
	}
	header, payload, ok := strings.Cut(s[5:], ",")
	if !ok {
		return nil, "", invalid("inline image data: URL has no comma before its data (write data:image/png;base64,...)", nil)
	}
	params := strings.Split(header, ";")
	media := strings.ToLower(strings.TrimSpace(params[0]))
	switch media {
	case "image/png", "image/jpeg", "image/jpg", "image/webp":
	case "":
		return nil, "", invalid("inline image data: URL names no media type: use image/png, image/jpeg or image/webp", nil)
	default:
		return nil, "", invalid(fmt.Sprintf("inline image data: URL has the media type %q: use image/png, image/jpeg or image/webp", printable(media, 40)), nil)
	}
	if len(params) < 2 || !strings.EqualFold(strings.TrimSpace(params[len(params)-1]), "base64") {
		return nil, "", invalid("inline image data: URL is not base64 (write data:"+media+";base64,...)", nil)
	}
	// A cheap bound before copying: twice the encoded size leaves room for
	// line breaks.
	if len(payload) > 2*base64.StdEncoding.EncodedLen(maxBytes)+1024 {
		return nil, "", invalid(fmt.Sprintf("inline image is larger than the limit of %s", sizeText(int64(maxBytes))), nil)
	}
	if strings.Contains(payload, "%") {
		if p, err := url.PathUnescape(payload); err == nil {
			payload = p
		}
	}
	payload = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n', '=':
			return -1
		case '-':
			return '+'
		case '_':
			return '/'
		}
		return r
	}, payload)
	// Size before decoding: 4 characters are 3 bytes.
	if base64.RawStdEncoding.DecodedLen(len(payload)) > maxBytes {
		return nil, "", invalid(fmt.Sprintf("inline image is larger than the limit of %s", sizeText(int64(maxBytes))), nil)
	}
	data, err = base64.RawStdEncoding.DecodeString(payload)
	if err != nil {
		return nil, "", invalid("inline image data: URL is not valid base64", nil)
	}
	if len(data) == 0 {
		return nil, "", invalid("inline image data: URL is empty", nil)
	}
	kind := imagegen.SniffImageType(data)
	if kind == "" {
		return nil, "", invalid("inline image is not a PNG, JPEG or WebP image (its bytes are neither, whatever the data: URL says)", nil)
	}
	return data, kind, nil
}
