// Package imagegen holds the vocabulary every layer shares: the models table,
// generation requests, generated images and the error kinds that decide
// whether a failed provider call is worth retrying.
//
// It imports only the standard library, so the workflow, the activities,
// the MCP layer and each provider package can all depend on it without
// depending on each other. The HTTP side the provider clients share lives in
// internal/providerkit.
package imagegen

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxPromptLength is the longest prompt, in characters, that every model
// accepts (Workers AI rejects longer ones with error 5006).
const MaxPromptLength = 2048

// Request is one image to generate. Zero values of the optional parameters mean
// "the model's default"; Validate rejects parameters the model does not take.
type Request struct {
	Prompt string `json:"prompt"`
	Model  string `json:"model"`

	NegativePrompt string   `json:"negative_prompt,omitempty"`
	Width          int      `json:"width,omitempty"`
	Height         int      `json:"height,omitempty"`
	Steps          int      `json:"steps,omitempty"`
	Seed           *int64   `json:"seed,omitempty"`
	Guidance       *float64 `json:"guidance,omitempty"`

	// Inputs are reference images for editing or image-to-image, as
	// references, never bytes (they travel in workflow history): an earlier
	// job's image "images://JOB[/INDEX]", an http(s) URL, or an inline image
	// the MCP layer already staged, "inline:sha256-HEX". An activity fetches
	// and normalises them; the provider gets the bytes as Inputs.
	Inputs []string `json:"inputs,omitempty"`
	// Mask is an inpainting mask, a reference of the same forms as Inputs.
	Mask string `json:"mask,omitempty"`
	// Strength is how far image-to-image moves away from the input (0 to 1).
	Strength *float64 `json:"strength,omitempty"`

	// Variant is the image's index within a multi-image job. Providers that
	// draw no randomness of their own (the preview renderer) use it so that
	// the images differ; it is never sent to a remote API.
	Variant int `json:"variant,omitempty"`
}

// Image is what a provider returns: the bytes and their real media type, named
// from the magic bytes rather than from what the provider claimed.
type Image struct {
	Data        []byte
	ContentType string
}

// InputImage is one reference image as a provider receives it: fetched,
// type-sniffed and normalised to what the model accepts.
type InputImage struct {
	Data        []byte
	ContentType string
	Width       int
	Height      int
}

// Inputs are the images a provider call works from, in the order of
// Request.Inputs, plus the inpainting mask if Request.Mask is set. The zero
// value means a plain text-to-image call.
type Inputs struct {
	Images []InputImage
	Mask   *InputImage
}

// Extension returns the file extension (with dot) for the image's media type.
func (i Image) Extension() string { return ExtensionFor(i.ContentType) }

// ExtensionFor maps a media type to the file extension used in storage keys.
func ExtensionFor(contentType string) string {
	switch contentType {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/webp":
		return ".webp"
	default:
		return ".bin"
	}
}

// SniffImageType names the image format from its magic bytes. It returns ""
// for anything that is not a PNG, JPEG or WebP image, so that garbage never
// gets stored as a picture.
func SniffImageType(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "image/webp"
	default:
		return ""
	}
}

// Validate checks a request against the models table and returns an *Error of
// kind KindInvalidInput or KindUnknownModel describing the first problem, in
// words a model can act on. It fills nothing in: callers apply defaults first
// (see WithDefaults).
func (r Request) Validate() error {
	// Invisible format characters (zero-width spaces and joiners) alone do
	// not describe an image either.
	visible := strings.IndexFunc(r.Prompt, func(c rune) bool { return !unicode.IsSpace(c) && !unicode.Is(unicode.Cf, c) })
	if visible < 0 {
		return invalid("prompt is empty: describe the image to generate")
	}
	if !utf8.ValidString(r.Prompt) {
		return invalid("prompt is not valid UTF-8 text")
	}
	if strings.ContainsRune(r.Prompt, 0) {
		return invalid("prompt contains a NUL character")
	}
	if n := utf8.RuneCountInString(r.Prompt); n > MaxPromptLength {
		return invalid(fmt.Sprintf("prompt is %d characters long; the limit is %d: shorten it", n, MaxPromptLength))
	}
	// The negative prompt has the prompt's limits (the tool schema says so).
	if !utf8.ValidString(r.NegativePrompt) {
		return invalid("negative_prompt is not valid UTF-8 text")
	}
	if strings.ContainsRune(r.NegativePrompt, 0) {
		return invalid("negative_prompt contains a NUL character")
	}
	if n := utf8.RuneCountInString(r.NegativePrompt); n > MaxPromptLength {
		return invalid(fmt.Sprintf("negative_prompt is %d characters long; the limit is %d: shorten it", n, MaxPromptLength))
	}
	m, ok := LookupModel(r.Model)
	if !ok {
		return &Error{Kind: KindUnknownModel, Message: fmt.Sprintf("unknown model %q: use one of %s", r.Model, strings.Join(ModelNames(), ", "))}
	}
	return m.validateParams(r)
}

// WithDefaults returns the request with the default model filled in.
func (r Request) WithDefaults() Request {
	if r.Model == "" {
		r.Model = DefaultModel
	}
	return r
}

func invalid(msg string) *Error { return &Error{Kind: KindInvalidInput, Message: msg} }
