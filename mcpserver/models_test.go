package mcpserver

import (
	"slices"
	"testing"

	"github.com/imagegen/imagegen"
)

func TestListModelsShowsEachModelsInputAbilities(t *testing.T) {
	tests := []struct {
		name          string
		model         imagegen.Model
		wantParams    []string
		wantMaxInputs int
		wantInputSide int
		wantMask      bool
		wantStrength  bool
	}{
		{"a text-only model shows no input abilities",
			imagegen.Model{Name: "t", MaxSteps: 8}, []string{"steps"}, 0, 0, false, false},
		{"a reference-image model shows how many inputs and their size",
			imagegen.Model{Name: "r", MaxInputs: 4, InputSide: 1024, SupportsSeed: true}, []string{"seed", "input_images"}, 4, 1024, false, false},
		{"an inpainting model shows mask and strength",
			imagegen.Model{Name: "i", MaxInputs: 1, SupportsMask: true, SupportsStrength: true}, []string{"input_images", "mask", "strength"}, 1, 0, true, true},
		{"an image-to-image model without a mask shows strength only",
			imagegen.Model{Name: "s", MaxInputs: 1, SupportsStrength: true}, []string{"input_images", "strength"}, 1, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := modelView(tt.model)
			if !slices.Equal(v.Parameters, tt.wantParams) || v.MaxInputImages != tt.wantMaxInputs || v.InputSide != tt.wantInputSide ||
				v.Mask != tt.wantMask || v.Strength != tt.wantStrength {
				t.Errorf("view = params %v, max_input_images %d, input_side %d, mask %v, strength %v; want %v, %d, %d, %v, %v",
					v.Parameters, v.MaxInputImages, v.InputSide, v.Mask, v.Strength,
					tt.wantParams, tt.wantMaxInputs, tt.wantInputSide, tt.wantMask, tt.wantStrength)
			}
		})
	}
	// Every row of the real table is shown as its abilities say.
	for _, m := range imagegen.Models() {
		v := modelView(m)
		if v.MaxInputImages != m.MaxInputs || v.Mask != m.SupportsMask || v.Strength != m.SupportsStrength ||
			slices.Contains(v.Parameters, "input_images") != (m.MaxInputs > 0) {
			t.Errorf("%s: view %+v does not match its row (max_inputs %d, mask %v, strength %v)", m.Name, v, m.MaxInputs, m.SupportsMask, m.SupportsStrength)
		}
	}
}
