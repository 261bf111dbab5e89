package jobs

import (
	"strings"
	"testing"

	"github.com/imagegen/imagegen"
)

// TestKeyedJobIDsNeedTheInstallSecret: with the name-based ids anyone who
// knew an idempotency key could compute the job id (and its image path).
func TestKeyedJobIDsNeedTheInstallSecret(t *testing.T) {
	a, b := []byte("install a secret 0123456789abcdef"), []byte("install b secret 0123456789abcdef")
	id := IDForKey(a, "order-1")
	if id != IDForKey(a, "order-1") {
		t.Error("the same key and secret give different ids")
	}
	for name, other := range map[string]string{
		"name-based id": IDForKey(nil, "order-1"),
		"other install": IDForKey(b, "order-1"),
		"other key":     IDForKey(a, "order-2"),
	} {
		if other == id {
			t.Errorf("%s equals the keyed id %s", name, id)
		}
	}
	if err := ValidateID(id); err != nil {
		t.Errorf("keyed id %q is not a valid job id: %v", id, err)
	}
}

// TestKeyedIDsOfEditsDependOnTheirInputs: one idempotency key with two
// different edits is two jobs; a text-to-image request keeps the id it
// always had.
func TestKeyedIDsOfEditsDependOnTheirInputs(t *testing.T) {
	secret := []byte("install a secret 0123456789abcdef")
	half, one := 0.5, 1.0
	plain := imagegen.Request{Prompt: "p", Model: "m"}
	if got := IDForKey(secret, idMaterial("k", plain)); got != IDForKey(secret, "k") {
		t.Errorf("a request without inputs got id %s, want the key's own %s", got, IDForKey(secret, "k"))
	}
	edits := map[string]imagegen.Request{
		"input a":         {Inputs: []string{"images://a"}},
		"input b":         {Inputs: []string{"images://b"}},
		"inputs a, b":     {Inputs: []string{"images://a", "images://b"}},
		"inputs b, a":     {Inputs: []string{"images://b", "images://a"}},
		"input a, mask b": {Inputs: []string{"images://a"}, Mask: "images://b"},
		"mask a":          {Mask: "images://a"},
		"input a, 0.5":    {Inputs: []string{"images://a"}, Strength: &half},
		"input a, 1":      {Inputs: []string{"images://a"}, Strength: &one},
		"strength alone":  {Strength: &half},
	}
	seen := map[string]string{IDForKey(secret, "k"): "no inputs"}
	for name, req := range edits {
		id := IDForKey(secret, idMaterial("k", req))
		if other, ok := seen[id]; ok {
			t.Errorf("%s and %s share the keyed id %s", name, other, id)
		}
		seen[id] = name
		if again := IDForKey(secret, idMaterial("k", req)); again != id {
			t.Errorf("%s: the id is not stable", name)
		}
	}
}

// TestDetailsNameAnEditsInputsWithoutURLSecrets: the Temporal Web UI's job
// page names an edit's inputs, mask and strength, never a URL's query.
func TestDetailsNameAnEditsInputsWithoutURLSecrets(t *testing.T) {
	s := 0.3
	d := Details(imagegen.Request{Prompt: "p", Model: "sdxl-base", Strength: &s,
		Inputs: []string{"images://0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d/1", "https://cdn.example.com/a.png?X-Amz-Signature=s3cret"},
		Mask:   "https://u:pw@cdn.example.com/m.png"}, 1)
	for _, want := range []string{"**strength** 0.3", "**input images** images://0578872d-1f7e-4c2a-9b0d-5e6f7a8b9c0d/1 https://cdn.example.com/a.png?…", "**mask** https://cdn.example.com/m.png"} {
		if !strings.Contains(d, want) {
			t.Errorf("details %q lack %q", d, want)
		}
	}
	if strings.Contains(d, "s3cret") || strings.Contains(d, "pw@") {
		t.Errorf("details %q show a URL secret", d)
	}
}
