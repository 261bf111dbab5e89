package workersai_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit/providerkittest"
)

// FuzzClientAndFakeAgreeOnEveryValidRequest drives every Workers AI model
// with arbitrary parameters and inputs: a request Validate accepts must be
// sent in a form the fake's schema check (the documented wire) accepts, so
// the API never spends a call refusing with 5006 what the client could have
// refused; one Validate refuses must never reach the wire.
func FuzzClientAndFakeAgreeOnEveryValidRequest(f *testing.F) {
	f.Add(uint8(0), "a fox", 0, 0, 0, -1.0, int64(-1), uint8(0), false, -1.0)
	f.Add(uint8(1), "a fox", 1024, 768, 12, 7.5, int64(42), uint8(1), true, 0.4)
	f.Add(uint8(5), "put image 1 into image 0", 1920, 256, 50, 4.5, int64(0), uint8(4), false, -1.0)
	f.Add(uint8(6), "make it night", 0, 0, 4, 1.0, int64(7), uint8(2), false, -1.0)
	f.Add(uint8(7), "make it night", 256, 1920, 0, 10.0, int64(1<<40), uint8(5), false, 0.5)
	f.Add(uint8(2), "a door", 512, 512, 20, 30.5, int64(-3), uint8(1), true, 1.5)
	f.Add(uint8(3), "x", 2049, 100, 51, 2.0, int64(1), uint8(0), false, math.NaN())
	f.Add(uint8(1), "the largest seed", 0, 0, 0, -1.0, int64(math.MaxInt64), uint8(0), false, -1.0)

	small := providerkittest.PNG(f, 48, 32)
	var models []imagegen.Model
	for _, m := range imagegen.Models() {
		if m.Provider == "workersai" {
			models = append(models, m)
		}
	}
	f.Fuzz(func(t *testing.T, pick uint8, prompt string, width, height, steps int, guidance float64, seed int64, n uint8, mask bool, strength float64) {
		fake, client := newFakeClient(t)
		m := models[int(pick)%len(models)]
		req := imagegen.Request{Prompt: prompt, Model: m.Name, Width: width, Height: height, Steps: steps}
		if guidance >= 0 {
			req.Guidance = &guidance
		}
		if seed >= 0 {
			req.Seed = &seed
		}
		if strength >= 0 || math.IsNaN(strength) {
			req.Strength = &strength
		}
		var inputs imagegen.Inputs
		for i := range int(n % 6) {
			req.Inputs = append(req.Inputs, fmt.Sprintf("images://job-%d", i))
			inputs.Images = append(inputs.Images, imagegen.InputImage{Data: small, ContentType: "image/png", Width: 48, Height: 32})
		}
		if mask {
			req.Mask = "images://mask"
			inputs.Mask = &imagegen.InputImage{Data: small, ContentType: "image/png", Width: 48, Height: 32}
		}
		valid := req.Validate() == nil
		_, err := client.Generate(context.Background(), req, inputs)
		switch {
		case valid && err != nil:
			t.Fatalf("%s: a valid request failed: %v (request %+v)", m.Name, err, req)
		case !valid && fake.Calls() != 0:
			t.Fatalf("%s: an invalid request reached the API (request %+v)", m.Name, req)
		case !valid && imagegen.KindOf(err) != imagegen.KindInvalidInput:
			t.Fatalf("%s: an invalid request failed as %q, want invalid_input: %v", m.Name, imagegen.KindOf(err), err)
		}
	})
}
