package mcpserver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/imagefetch"
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
	data, ct, err := imagefetch.ParseDataURL(s, MaxInlineImageBytes)
	if err != nil {
		var e *imagegen.Error
		if errors.As(err, &e) {
			msg := e.Message
			if strings.Contains(msg, "larger than the limit") {
				msg += ": pass a URL or an earlier job's image (images://JOB_ID) instead"
			}
			return inlineImage{}, &imagegen.Error{Kind: e.Kind, Message: name + ": " + msg}
		}
		return inlineImage{}, fmt.Errorf("%s: %w", name, err)
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
