package mcpserver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"image"
	"image/png"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"

	"github.com/imagegen/imagegen/mcpserver"
)

// inputStore keeps inline images in memory.
type inputStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	types   map[string]string
}

func (s *inputStore) Put(ctx context.Context, key string, data []byte, contentType string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key], s.types[key] = bytes.Clone(data), contentType
	return nil
}

func (s *inputStore) count() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.objects) }

func editServer(t *testing.T, f *fakeJobs, store mcpserver.InputStore) *client.Client {
	t.Helper()
	return inProcessWith(t, mcpserver.Options{Jobs: f, Version: "test", InputStore: store})
}

// editModel takes up to 4 input images (FLUX.2), imgModel one with a
// strength (SDXL image-to-image).
const editModel, imgModel = "flux-2-klein-4b", "sdxl-lightning"

func pngData(w, h int) []byte {
	var b bytes.Buffer
	_ = png.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h)))
	return b.Bytes()
}

func dataURL(mediaType string, b []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(b)
}

const earlierJob = "images://3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"

// TestEditArgumentsOfAModelWithoutInputsAreRefused: whatever the model
// cannot use is refused before anything is stored or started.
func TestEditArgumentsOfAModelWithoutInputsAreRefused(t *testing.T) {
	f, store := &fakeJobs{}, &inputStore{objects: map[string][]byte{}, types: map[string]string{}}
	c := editServer(t, f, store)
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"prompt": "p", "model": "flux-schnell", "input_images": []string{earlierJob}}, "takes no input images"},
		{map[string]any{"prompt": "p", "model": "flux-schnell", "input_images": []string{dataURL("image/png", pngData(4, 4))}}, "takes no input images"},
		{map[string]any{"prompt": "p", "input_images": []string{earlierJob, earlierJob, earlierJob, earlierJob, earlierJob}}, "at most 4"},
		{map[string]any{"prompt": "p", "input_images": earlierJob}, `"input_images" must be of type array`},
		{map[string]any{"prompt": "p", "input_images": []any{7}}, "must be of type"},
		{map[string]any{"prompt": "p", "strength": 1.5}, "strength must be between 0 and 1"},
		{map[string]any{"prompt": "p", "strength": -0.1}, "strength must be between 0 and 1"},
		{map[string]any{"prompt": "p", "strength": "much"}, `"strength" must be of type number`},
		{map[string]any{"prompt": "p", "mask": ""}, "mask is empty"},
		{map[string]any{"prompt": "p", "model": "flux-schnell", "mask": earlierJob}, "takes no mask"},
	} {
		for _, tool := range []string{"generate_image", "generate_image_and_wait"} {
			res := call(t, c, tool, tc.args)
			if !res.IsError || !strings.Contains(text(res), tc.want) {
				t.Errorf("%s %.100v: %q, want an error saying %q", tool, tc.args, text(res), tc.want)
			}
		}
	}
	if starts, _ := f.calls(); starts != 0 || store.count() != 0 {
		t.Errorf("refused edits reached the job layer %d times and stored %d images", starts, store.count())
	}
}

// TestBadInlineImagesAreRefusedAndNothingIsStored: a data: URL must be a
// base64 PNG, JPEG or WebP image within the cap.
func TestBadInlineImagesAreRefusedAndNothingIsStored(t *testing.T) {
	f, store := &fakeJobs{}, &inputStore{objects: map[string][]byte{}, types: map[string]string{}}
	c := editServer(t, f, store)
	big := make([]byte, mcpserver.MaxInlineImageBytes+1)
	copy(big, pngData(4, 4))
	for _, tc := range []struct {
		ref, want string
	}{
		{"data:image/png,notbase64", "is not base64"},
		{"data:image/png;base64", "has no comma"},
		{"data:text/html;base64,PHNjcmlwdD4=", "use image/png, image/jpeg or image/webp"},
		{"data:image/svg+xml;base64,PHN2Zz4=", "use image/png, image/jpeg or image/webp"},
		{dataURL("image/png", []byte("GIF89a, not a PNG at all")), "is not a PNG, JPEG or WebP image"},
		{"data:image/png;base64,!!!!", "not valid base64"},
		{dataURL("image/png", big), "larger than the limit of 512 KiB: pass a URL or an earlier job's image"},
		{"inline:sha256-" + strings.Repeat("ab", 32), "made by the server"},
		{"file:///etc/passwd", "is not a reference image"},
	} {
		res := call(t, c, "generate_image", map[string]any{"prompt": "p", "model": editModel, "input_images": []string{earlierJob, tc.ref}})
		if !res.IsError || !strings.Contains(text(res), tc.want) || (tc.ref != "file:///etc/passwd" && !strings.Contains(text(res), "input_images[1]")) {
			t.Errorf("%.60s: %q, want an error about input_images[1] saying %q", tc.ref, text(res), tc.want)
		}
	}
	if store.count() != 0 {
		t.Errorf("refused inline images stored %d objects", store.count())
	}
}

// TestInlineImagesAreStoredOnceAndTheJobNamesThemByHash: the request (and
// so the workflow history) carries inline:sha256-HEX, never the bytes; the
// bytes are stored content-addressed only when the job layer accepted the
// request.
func TestInlineImagesAreStoredOnceAndTheJobNamesThemByHash(t *testing.T) {
	f, store := &fakeJobs{}, &inputStore{objects: map[string][]byte{}, types: map[string]string{}}
	c := editServer(t, f, store)
	img := pngData(16, 8)
	sum := sha256.Sum256(img)
	ref := "inline:sha256-" + hex.EncodeToString(sum[:])
	args := map[string]any{"prompt": "make it snow", "model": editModel, "input_images": []string{dataURL("image/png", img), earlierJob + "/0", dataURL("IMAGE/PNG", img)}}
	res := call(t, c, "generate_image", args)
	if res.IsError {
		t.Fatal(text(res))
	}
	r := f.started[0]
	if strings.Join(r.Inputs, " ") != ref+" "+earlierJob+"/0 "+ref {
		t.Errorf("the job got inputs %q, want the inline reference, the job reference as given, the inline reference", r.Inputs)
	}
	key := "inputs/inline/sha256-" + hex.EncodeToString(sum[:])
	if store.count() != 1 || !bytes.Equal(store.objects[key], img) || store.types[key] != "image/png" {
		t.Errorf("store holds %d objects; %s: %d bytes %q, want the image once", store.count(), key, len(store.objects[key]), store.types[key])
	}

	// Without a store, inline images are refused with advice.
	c = editServer(t, &fakeJobs{}, nil)
	res = call(t, c, "generate_image", map[string]any{"prompt": "p", "model": editModel, "input_images": []string{dataURL("image/png", img)}})
	if !res.IsError || !strings.Contains(text(res), "pass a URL or an earlier job's image") {
		t.Errorf("inline image without a store: %q", text(res))
	}
}

// TestInpaintingArgumentsReachTheJobLayer: an image-to-image model gets its
// input, an inline mask by reference, and the strength.
func TestInpaintingArgumentsReachTheJobLayer(t *testing.T) {
	f, store := &fakeJobs{}, &inputStore{objects: map[string][]byte{}, types: map[string]string{}}
	c := editServer(t, f, store)
	mask := pngData(8, 8)
	sum := sha256.Sum256(mask)
	res := call(t, c, "generate_image_and_wait", map[string]any{"prompt": "a red door", "model": imgModel,
		"input_images": []string{earlierJob}, "mask": dataURL("image/png", mask), "strength": 0.6})
	if res.IsError {
		t.Fatal(text(res))
	}
	r := f.started[0]
	if len(r.Inputs) != 1 || r.Inputs[0] != earlierJob || r.Mask != "inline:sha256-"+hex.EncodeToString(sum[:]) || r.Strength == nil || *r.Strength != 0.6 {
		t.Errorf("request inputs %q mask %q strength %v", r.Inputs, r.Mask, r.Strength)
	}
	if !bytes.Equal(store.objects["inputs/inline/sha256-"+hex.EncodeToString(sum[:])], mask) {
		t.Error("the mask was not stored under its hash")
	}
}
