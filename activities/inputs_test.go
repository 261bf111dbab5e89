package activities_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
)

// fetcher serves URL inputs from a map; err, if set, fails every fetch.
type fetcher struct {
	mu    sync.Mutex
	pages map[string][]byte
	err   error
	urls  []string
}

func (f *fetcher) Fetch(ctx context.Context, rawURL string) ([]byte, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, rawURL)
	if f.err != nil {
		return nil, "", f.err
	}
	b, ok := f.pages[rawURL]
	if !ok {
		return nil, "", &imagegen.Error{Kind: imagegen.KindInvalidInput, Status: 404, Message: "example.test answered 404 Not Found"}
	}
	return b, imagegen.SniffImageType(b), nil
}

func sizedPNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, x%h, color.RGBA{uint8(x), 40, 200, 255})
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

func sizedJPEG(w, h int) []byte {
	var b bytes.Buffer
	_ = jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h)), nil)
	return b.Bytes()
}

func (f *fixture) fetchInputs(t *testing.T, in activities.FetchInputsInput) (activities.FetchedInputs, error) {
	t.Helper()
	v, err := f.env.ExecuteActivity(f.acts.FetchInputs, in)
	if err != nil {
		return activities.FetchedInputs{}, err
	}
	var out activities.FetchedInputs
	if err := v.Get(&out); err != nil {
		t.Fatal(err)
	}
	return out, nil
}

const jobID = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"

// TestFetchInputsStagesEachSourceNormalisedInTheObjectStore: an earlier
// job's image and an inline image are read from the store, a URL through
// the fetcher; each is scaled down to the model's side, staged under a
// job-scoped key and described (never carried) in the result.
func TestFetchInputsStagesEachSourceNormalisedInTheObjectStore(t *testing.T) {
	f := newFixture(t)
	fe := &fetcher{pages: map[string][]byte{"https://example.test/cat.jpg": sizedJPEG(300, 200)}}
	f.acts.Fetcher = fe
	f.store.objects["2026/12/01/earlier.png"] = sizedPNG(1024, 512)
	f.store.objects["inputs/inline/sha256-ab"] = sizedPNG(100, 80)
	f.store.objects["masks/m.png"] = sizedPNG(1024, 512)

	out, err := f.fetchInputs(t, activities.FetchInputsInput{
		JobID: jobID, MaxSide: 512,
		Sources: []activities.InputSource{
			{Ref: "images://earlier", Key: "2026/12/01/earlier.png"},
			{Ref: "https://example.test/cat.jpg"},
			{Ref: "inline:sha256-ab", Key: "inputs/inline/sha256-ab"},
		},
		Mask: &activities.InputSource{Ref: "images://mask", Key: "masks/m.png"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// PNGs stay PNG (lossless), opaque JPEGs stay JPEG (see imagefetch.Normalise).
	want := []struct {
		ref, key, ct string
		w, h         int
	}{
		{"images://earlier", "inputs/" + jobID + "/0.png", "image/png", 512, 256},
		{"https://example.test/cat.jpg", "inputs/" + jobID + "/1.jpg", "image/jpeg", 300, 200},
		{"inline:sha256-ab", "inputs/" + jobID + "/2.png", "image/png", 100, 80},
	}
	if len(out.Images) != len(want) || out.Mask == nil {
		t.Fatalf("fetched %+v, want %d images and a mask", out, len(want))
	}
	check := func(got activities.FetchedInput, ref, key, ct string, w, h int) {
		t.Helper()
		if got.Ref != ref || got.Key != key || got.Width != w || got.Height != h || got.ContentType != ct {
			t.Errorf("fetched %+v, want ref %s key %s %d×%d %s", got, ref, key, w, h, ct)
		}
		data := f.store.objects[got.Key]
		sum := sha256.Sum256(data)
		if len(data) == 0 || int64(len(data)) != got.SizeBytes || hex.EncodeToString(sum[:]) != got.SHA256 {
			t.Errorf("staged %s: %d bytes, want %d with sha256 %s", got.Key, len(data), got.SizeBytes, got.SHA256)
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != w || cfg.Height != h {
			t.Errorf("staged %s is %d×%d (%v), want %d×%d", got.Key, cfg.Width, cfg.Height, err, w, h)
		}
	}
	for i, w := range want {
		check(out.Images[i], w.ref, w.key, w.ct, w.w, w.h)
	}
	check(*out.Mask, "images://mask", "inputs/"+jobID+"/mask.png", "image/png", 512, 256)
	if len(fe.urls) != 1 || fe.urls[0] != "https://example.test/cat.jpg" {
		t.Errorf("fetcher saw %v, want the one URL", fe.urls)
	}

	// A retry (or a second worker) rewrites the same objects with the same bytes.
	before := f.store.objects[out.Images[0].Key]
	again, err := f.fetchInputs(t, activities.FetchInputsInput{JobID: jobID, MaxSide: 512,
		Sources: []activities.InputSource{{Ref: "images://earlier", Key: "2026/12/01/earlier.png"}}})
	if err != nil || again.Images[0] != out.Images[0] || !bytes.Equal(before, f.store.objects[out.Images[0].Key]) {
		t.Errorf("a second fetch gave %+v (%v), want the same staged object %+v", again.Images, err, out.Images[0])
	}
}

// TestFetchInputsFailuresSayWhichInputAndWhetherToRetry: refusals and
// broken images fail at once; network and storage trouble is retried.
func TestFetchInputsFailuresSayWhichInputAndWhetherToRetry(t *testing.T) {
	for _, tc := range []struct {
		name       string
		src        activities.InputSource
		fetchErr   error
		noFetcher  bool
		stored     []byte
		wantType   string
		wantRetry  bool
		wantPrefix string
		says       string
	}{
		{name: "job image gone from storage", src: activities.InputSource{Ref: "images://gone", Key: "2026/01/01/gone.png"},
			wantType: "invalid_input", says: "is no longer stored"},
		{name: "not an image", src: activities.InputSource{Ref: "inline:x", Key: "k"}, stored: []byte("GIF89a not really"),
			wantType: "invalid_input", says: "not a PNG, JPEG or WebP image"},
		{name: "truncated image", src: activities.InputSource{Ref: "inline:x", Key: "k"}, stored: sizedPNG(64, 64)[:60],
			wantType: "invalid_input", says: "input image 1 is a png that does not decode"},
		{name: "decompression bomb refused from its header", src: activities.InputSource{Ref: "inline:x", Key: "k"}, stored: bombPNG(20000, 20000),
			wantType: "invalid_input", says: "20000×20000"},
		{name: "fetcher refusal is final", src: activities.InputSource{Ref: "https://10.0.0.1/a.png"},
			fetchErr: &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "10.0.0.1 is a private address"},
			wantType: "invalid_input", says: "input image 1: 10.0.0.1 is a private address"},
		{name: "fetch timeout is retried", src: activities.InputSource{Ref: "https://slow.test/a.png"},
			fetchErr: &imagegen.Error{Kind: imagegen.KindTimeout, Message: "slow.test did not answer in 30 s"},
			wantType: "timeout", wantRetry: true, says: "input image 1: slow.test did not answer"},
		{name: "upstream 5xx is retried", src: activities.InputSource{Ref: "https://down.test/a.png"},
			fetchErr: &imagegen.Error{Kind: imagegen.KindUpstream, Status: 502, Message: "down.test answered 502"},
			wantType: "upstream", wantRetry: true, says: "answered 502"},
		{name: "no fetcher configured", src: activities.InputSource{Ref: "https://example.test/a.png"}, noFetcher: true,
			wantType: "misconfigured", says: "no fetcher"},
		{name: "an unresolved job reference", src: activities.InputSource{Ref: "images://" + jobID},
			wantType: "invalid_input", says: "not resolved when the job started"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if !tc.noFetcher {
				f.acts.Fetcher = &fetcher{err: tc.fetchErr}
			}
			if tc.stored != nil {
				f.store.objects[tc.src.Key] = tc.stored
			}
			_, err := f.fetchInputs(t, activities.FetchInputsInput{JobID: jobID, MaxSide: 512, Sources: []activities.InputSource{tc.src}})
			var ae *temporal.ApplicationError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v, want an application error", err)
			}
			if ae.Type() != tc.wantType || ae.NonRetryable() == tc.wantRetry || !strings.Contains(ae.Message(), tc.says) {
				t.Errorf("got type %s, non-retryable %v, message %q; want %s, retryable %v, saying %q",
					ae.Type(), ae.NonRetryable(), ae.Message(), tc.wantType, tc.wantRetry, tc.says)
			}
			for k := range f.store.objects {
				if strings.HasPrefix(k, "inputs/"+jobID) {
					t.Errorf("a failed fetch staged %s", k)
				}
			}
		})
	}
}

// bombPNG is a PNG header claiming w×h pixels, with no pixel data.
func bombPNG(w, h int) []byte {
	full := sizedPNG(1, 1)
	// The IHDR chunk: type at 12-15, width and height at 16-23, its CRC
	// (over type and data) at 29-32.
	b := bytes.Clone(full[:33])
	binary.BigEndian.PutUint32(b[16:], uint32(w))
	binary.BigEndian.PutUint32(b[20:], uint32(h))
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// TestGenerateHandsTheStagedInputsToTheProvider: Generate reads the staged
// inputs back and the provider gets their bytes, in order, with the mask.
func TestGenerateHandsTheStagedInputsToTheProvider(t *testing.T) {
	f := newFixture(t)
	f.store.objects["2026/12/01/a.png"] = sizedPNG(40, 30)
	f.store.objects["2026/12/01/b.png"] = sizedPNG(20, 10)
	fetched, err := f.fetchInputs(t, activities.FetchInputsInput{JobID: jobID, Sources: []activities.InputSource{
		{Ref: "images://a", Key: "2026/12/01/a.png"}, {Ref: "images://b", Key: "2026/12/01/b.png"},
	}, Mask: &activities.InputSource{Ref: "images://a", Key: "2026/12/01/a.png"}})
	if err != nil {
		t.Fatal(err)
	}
	in := request
	in.Inputs, in.Mask = fetched.Images, fetched.Mask
	if _, err := f.generate(t, in); err != nil {
		t.Fatal(err)
	}
	if len(f.provider.inputs) != 1 {
		t.Fatalf("provider called %d times", len(f.provider.inputs))
	}
	got := f.provider.inputs[0]
	if len(got.Images) != 2 || got.Mask == nil {
		t.Fatalf("provider got %d images, mask %v; want 2 and a mask", len(got.Images), got.Mask != nil)
	}
	for i, fi := range fetched.Images {
		g := got.Images[i]
		if !bytes.Equal(g.Data, f.store.objects[fi.Key]) || g.Width != fi.Width || g.Height != fi.Height || g.ContentType != "image/png" {
			t.Errorf("input %d: provider got %d bytes %d×%d %s, want the staged %s", i, len(g.Data), g.Width, g.Height, g.ContentType, fi.Key)
		}
	}
	if !bytes.Equal(got.Mask.Data, f.store.objects[fetched.Mask.Key]) {
		t.Error("the mask the provider got is not the staged one")
	}
}

// TestGenerateRefusesADamagedStagedInput: a staged input whose bytes no
// longer match the checksum is never sent to the provider (retryable: the
// store may answer right next time; attempts are bounded).
func TestGenerateRefusesADamagedStagedInput(t *testing.T) {
	f := newFixture(t)
	f.store.objects["2026/12/01/a.png"] = sizedPNG(40, 30)
	fetched, err := f.fetchInputs(t, activities.FetchInputsInput{JobID: jobID, Sources: []activities.InputSource{{Ref: "images://a", Key: "2026/12/01/a.png"}}})
	if err != nil {
		t.Fatal(err)
	}
	f.store.objects[fetched.Images[0].Key] = sizedPNG(41, 30)
	in := request
	in.Inputs = fetched.Images
	_, err = f.generate(t, in)
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != "storage" || !strings.Contains(ae.Message(), "damaged") {
		t.Fatalf("error = %v, want a storage error saying the input was damaged", err)
	}
	if f.provider.Calls() != 0 {
		t.Errorf("the provider was called %d times with a damaged input", f.provider.Calls())
	}
}
