package mcpserver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/imagegen/imagegen"
)

func TestModelDescriptionSaysWhatEachModelEditsFrom(t *testing.T) {
	desc := modelsDescription()
	editing := 0
	for _, m := range imagegen.Models() {
		entry := fmt.Sprintf(" %s (~%d-%d s", m.Name, m.TypicalSeconds[0], m.TypicalSeconds[1])
		i := strings.Index(desc, entry)
		if i < 0 {
			t.Fatalf("description %q does not list %s", desc, m.Name)
		}
		end := strings.IndexAny(desc[i:], ";.")
		got := desc[i : i+end]
		says := strings.Contains(got, "edits from")
		if says != (m.MaxInputs > 0) {
			t.Errorf("%s (MaxInputs %d): entry %q", m.Name, m.MaxInputs, got)
		}
		if m.MaxInputs > 0 {
			editing++
			if !strings.Contains(got, fmt.Sprint(m.MaxInputs)) || strings.Contains(got, "mask") != m.SupportsMask ||
				strings.Contains(got, "strength") != m.SupportsStrength {
				t.Errorf("%s: entry %q does not match its row (inputs %d, mask %v, strength %v)", m.Name, got, m.MaxInputs, m.SupportsMask, m.SupportsStrength)
			}
		}
	}
	if editing == 0 {
		t.Error("no model takes input images: the table lost its editing rows")
	}
}
