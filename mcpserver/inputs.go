package mcpserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/imagegen/imagegen"
)

// InputStore keeps the inline images tools are sent (objectstore's stores),
// so that requests, and so workflow histories, carry a reference instead of
// the bytes. Put must be idempotent.
type InputStore interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
}

// MaxInlineImageBytes bounds one inline (data: URL) input image, decoded.
// The whole tool call must also fit the MCP routes' request body limit
// (1 MiB); larger images are passed as a URL or an earlier job's image.
const MaxInlineImageBytes = 512 << 10

// inlineImage is an inline image decoded from a data: URL, to be stored
// under its reference's key before the job starts.
type inlineImage struct {
	ref         imagegen.Ref
	data        []byte
	contentType string
}

// inlineInputs replaces every data: URL among the request's reference images
// by the inline: reference of its bytes and returns the images to store.
// Other references are checked for form, and left for the start path to
// resolve.
func inlineInputs(req *imagegen.Request) ([]inlineImage, error) {
	var out []inlineImage
	seen := map[string]bool{}
	conv := func(name, s string) (string, error) {
		lower := strings.ToLower(s)
		if strings.HasPrefix(lower, "inline:") {
			return "", &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: name +
				": inline: references are made by the server; send the image itself as a data:image/png;base64,… URL"}
		}
		if !strings.HasPrefix(lower, "data:") {
			// Checked here for an early answer, resolved by the start path.
			_, err := imagegen.ParseRef(name, s)
			return s, err
		}
		img, err := decodeDataURL(name, s)
		if err != nil {
			return "", err
		}
		if ref := img.ref.String(); !seen[ref] {
			seen[ref] = true
			out = append(out, img)
		}
		return img.ref.String(), nil
	}
	for i, s := range req.Inputs {
		ref, err := conv(fmt.Sprintf("input_images[%d]", i), s)
		if err != nil {
			return nil, err
		}
		req.Inputs[i] = ref
	}
	if req.Mask != "" {
		ref, err := conv("mask", req.Mask)
		if err != nil {
			return nil, err
		}
		req.Mask = ref
	}
	return out, nil
}

// decodeDataURL decodes a data:image/png|jpeg|webp;base64,… URL, checking
// its size before decoding and its type from the decoded bytes.
func decodeDataURL(name, s string) (inlineImage, error) {
	bad := func(format string, args ...any) (inlineImage, error) {
		return inlineImage{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: name + ": " + fmt.Sprintf(format, args...)}
	}
	meta, payload, ok := strings.Cut(s[len("data:"):], ",")
	if !ok {
		return bad("a data: URL needs a comma before its data: data:image/png;base64,…")
	}
	mediaType, isBase64 := strings.CutSuffix(strings.ToLower(meta), ";base64")
	switch mediaType {
	case "image/png", "image/jpeg", "image/jpg", "image/webp":
	default:
		return bad("data: URLs must be PNG, JPEG or WebP images (data:image/png;base64,…), not %q", clip(meta, 40))
	}
	if !isBase64 {
		return bad("the data: URL must be base64-encoded (data:%s;base64,…)", mediaType)
	}
	if base64.StdEncoding.DecodedLen(len(payload)) > MaxInlineImageBytes+2 {
		return bad("the inline image is about %d KiB; inline images are limited to %d KiB: pass a URL or an earlier job's image (images://JOB_ID) instead",
			base64.StdEncoding.DecodedLen(len(payload))>>10, MaxInlineImageBytes>>10)
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		if data, err = base64.RawStdEncoding.DecodeString(payload); err != nil {
			return bad("the data: URL's base64 is invalid")
		}
	}
	if len(data) > MaxInlineImageBytes {
		return bad("the inline image is %d KiB; inline images are limited to %d KiB", len(data)>>10, MaxInlineImageBytes>>10)
	}
	ct := imagegen.SniffImageType(data)
	if ct == "" {
		return bad("the data: URL does not hold a PNG, JPEG or WebP image")
	}
	ref, err := imagegen.ParseRef(name, imagegen.InlineRef(sha256.Sum256(data)))
	if err != nil {
		return inlineImage{}, err
	}
	return inlineImage{ref: ref, data: data, contentType: ct}, nil
}

// storeInline stores the inline images under their content-addressed keys.
func (s *Server) storeInline(ctx context.Context, imgs []inlineImage) error {
	for _, img := range imgs {
		if err := s.opts.InputStore.Put(ctx, img.ref.InlineKey(), img.data, img.contentType); err != nil {
			return fmt.Errorf("store inline image %s: %w", img.ref.InlineKey(), err)
		}
	}
	return nil
}
