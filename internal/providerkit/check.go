// Package providerkit holds the HTTP-client pieces every provider client
// shares: configuration checks (secrets, base URLs), the default HTTP client,
// one request/answer exchange with its size cap and secret scrubbing, the
// classification of HTTP statuses and transport faults into imagegen error
// kinds, and the wording of the resulting messages. Each provider package
// keeps only what is its own: endpoints, wire formats and error codes.
package providerkit

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/webp"

	"github.com/imagegen/imagegen"
)

// MaxImagePixels bounds the dimensions an image header may claim before it is
// decoded, so that a corrupt or hostile header cannot make a worker allocate
// gigabytes. The largest output of any listed model (3840x2160, 2500x2500) is
// well under it.
const MaxImagePixels = 4096 * 4096

// MaxDecodedBytes bounds the memory a decoded image may take, computed from
// its header (width x height x bytes per pixel of its color model) before it
// is decoded. The pixel cap alone admits a 4096x4096 16-bit PNG (8 bytes a
// pixel, 128 MiB decoded, about twice that to check and thumbnail) that
// compresses to a few hundred kilobytes. 80 MiB keeps the largest real
// output, openai-image's 3840x3840 8-bit RGBA (56 MiB), allowed.
const MaxDecodedBytes = 80 << 20

// BytesPerPixel is what the image package allocates per pixel for a color
// model; an unknown model counts as the widest (8 bytes, 16-bit RGBA). With
// an image header's dimensions it bounds the memory a decode will take.
func BytesPerPixel(m color.Model) int {
	if _, ok := m.(color.Palette); ok { // a slice: not comparable with ==
		return 1
	}
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel: // 4:4:4 at worst
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	default:
		return 8
	}
}

// Decoders returns the header and full decoders of an image type as
// imagegen.SniffImageType names it (image/png, image/jpeg or image/webp); ok
// is false for any other type.
func Decoders(kind string) (config func(io.Reader) (image.Config, error), decode func(io.Reader) (image.Image, error), ok bool) {
	switch kind {
	case "image/png":
		return png.DecodeConfig, png.Decode, true
	case "image/jpeg":
		return jpeg.DecodeConfig, jpeg.Decode, true
	case "image/webp":
		return webp.DecodeConfig, webp.Decode, true
	}
	return nil, nil, false
}

// CheckImage names the image type from its magic bytes and decodes the image
// fully, for every provider's answers: a truncated PNG or JPEG has a valid
// header, and only a full decode notices the missing data. Storing such a file
// would hand users a broken picture. The error says what is wrong in words
// safe to show (at most a few quoted bytes of the data).
func CheckImage(data []byte) (contentType string, err error) {
	if len(data) == 0 {
		return "", fmt.Errorf("the image is empty")
	}
	kind := imagegen.SniffImageType(data)
	decodeConfig, decode, ok := Decoders(kind)
	if !ok {
		return "", fmt.Errorf("the answer is not a PNG, JPEG or WebP image (starts with %q)", RemoteText(string(data[:min(len(data), 128)]), 16))
	}
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("the %s header does not decode: %v", kind, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxImagePixels/cfg.Height {
		return "", fmt.Errorf("the %s claims an implausible size %dx%d", kind, cfg.Width, cfg.Height)
	}
	if bpp := BytesPerPixel(cfg.ColorModel); cfg.Width*cfg.Height > MaxDecodedBytes/bpp {
		return "", fmt.Errorf("the %s is too large to decode: %dx%d at %d bytes a pixel is over the %d MiB limit", kind, cfg.Width, cfg.Height, bpp, MaxDecodedBytes>>20)
	}
	if _, err := decode(bytes.NewReader(data)); err != nil {
		return "", fmt.Errorf("the %s does not decode (truncated or corrupt): %v", kind, err)
	}
	return kind, nil
}

// RemoteText makes text that came from a remote (an error message, the start
// of an unexpected body) safe to embed in errors, tool results and logs:
// valid UTF-8, no control characters, whitespace collapsed, at most n runes.
func RemoteText(s string, n int) string {
	if len(s) > 8*n { // enough bytes for n runes plus collapsed whitespace
		s = s[:8*n]
	}
	fields := strings.FieldsFunc(strings.ToValidUTF8(s, "\uFFFD"), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	})
	out := strings.Join(fields, " ")
	if utf8.RuneCountInString(out) <= n {
		return out
	}
	return string([]rune(out)[:n]) + "…"
}

// CheckSecret trims an API secret (named what, e.g. "API token") and refuses
// one that net/http would reject as a header value, saying so without quoting
// it. Both provider clients use it.
func CheckSecret(what, secret string) (string, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return "", fmt.Errorf("%s is required", what)
	}
	for _, r := range secret {
		if r <= ' ' || r > '~' {
			return "", fmt.Errorf("%s contains whitespace or non-printable characters (check how it was pasted)", what)
		}
	}
	return secret, nil
}

// ParseAPIBase trims an API base URL (def when empty) and checks that it is an
// absolute http(s) URL without credentials, query or fragment. It returns the
// base without a trailing slash and its parsed form.
func ParseAPIBase(raw, def string) (string, *url.URL, error) {
	base := strings.TrimRight(strings.TrimSpace(raw), "/")
	if base == "" {
		base = def
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", nil, fmt.Errorf("base URL %q must be an absolute http(s) URL", base)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", nil, fmt.Errorf("base URL must not contain credentials, a query or a fragment")
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return "", nil, fmt.Errorf("base URL %q is plain http to another machine, which would send the API key in cleartext: use https (http is allowed for loopback hosts only)", base)
	}
	return base, u, nil
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
