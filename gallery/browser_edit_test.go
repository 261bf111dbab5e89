package gallery_test

import (
	"context"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/gallery"
	"github.com/imagegen/imagegen/objectstore"
	"github.com/imagegen/imagegen/workflows"
)

// TestGalleryJobPageOfAnEditInChromium loads an edit's page in headless
// Chromium: its image, from a second origin, must be drawn (the page's
// policy names that origin), and the DOM the browser built must link the
// source job's page; the source's page, in turn, links the edit.
func TestGalleryJobPageOfAnEditInChromium(t *testing.T) {
	chromium := findChromium(t)
	magenta := color.NRGBA{R: 255, G: 0, B: 255, A: 255}
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(solidPNG(t, magenta))
	}))
	defer images.Close()

	js := editJobs()
	for i := range js[workflows.StatusCompleted] {
		j := &js[workflows.StatusCompleted][i]
		j.ImageURL = images.URL + "/" + j.ID + ".png"
		j.Result = &workflows.Result{ImageURL: j.ImageURL}
	}
	store, err := objectstore.NewLocal(t.TempDir(), "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	writeEdit(t, store, js[workflows.StatusCompleted][0])
	site := httptest.NewServer(gallery.New(gallery.Options{Jobs: &fakeLister{jobs: js}, History: store, Now: epochTime}))
	defer site.Close()

	run := func(args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a bound on a hung browser, not an assertion
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--hide-scrollbars", "--user-data-dir=" + t.TempDir(), "--window-size=1200,900", "--virtual-time-budget=5000"}
		return exec.CommandContext(ctx, chromium, append(base, args...)...).Output()
	}
	shot := filepath.Join(t.ArtifactDir(), "gallery-edit.png")
	out, err := run("--screenshot="+shot, site.URL+"/job/"+editID)
	if _, statErr := os.Stat(shot); statErr != nil {
		t.Skipf("chromium could not start (%v): %s", err, tail(out, 800))
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	t.Logf("screenshot %s; keep it with go test -artifacts", shot)
	// The image column is about 3/5 of 1160 px wide and square: far more
	// than 100,000 px, where an undrawn image gives none.
	if n := countColour(img, magenta); n < 100000 {
		t.Errorf("the edit's page shows %d magenta pixels, want its image drawn large (at least 100000)", n)
	}

	for page, want := range map[string]string{
		"/job/" + editID:   `<a href="/job/` + sourceID + `">image 1 of job 0578872d</a>`,
		"/job/" + sourceID: `<a href="/job/` + editID + `">job 3f2c9a1e</a>`,
	} {
		dom, err := run("--dump-dom", site.URL+page)
		if err != nil {
			t.Fatalf("chromium --dump-dom %s: %v", page, err)
		}
		if !strings.Contains(string(dom), want) {
			t.Errorf("the DOM of %s lacks %s:\n%s", page, want, tail(dom, 2000))
		}
	}
}
