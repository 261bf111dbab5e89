package imagegen

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestUSDFormatsDollarsExactly(t *testing.T) {
	tests := []struct {
		in   USD
		want string
	}{
		{0, "$0.00"},
		{52_800, "$0.0000528"},
		{2_500_000, "$0.0025"},
		{633_600, "$0.0006336"},
		{1, "$0.000000001"},
		{Dollar + Dollar/2, "$1.50"},
		{12 * Dollar, "$12.00"},
		{-10_000_000, "-$0.01"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("USD(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

func TestUSDRoundTripsThroughJSONAsDollars(t *testing.T) {
	for _, v := range []USD{0, 52_800, 633_600, 41 * Dollar / 1000, 7 * Dollar, -3} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var back USD
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if back != v {
			t.Errorf("%d → %s → %d", int64(v), b, int64(back))
		}
	}
	b, _ := json.Marshal(struct {
		C USD `json:"c"`
	}{633_600})
	if string(b) != `{"c":0.0006336}` {
		t.Errorf("JSON = %s, want dollars as a number", b)
	}
}

func TestParseUSDAcceptsDollarAmountsAndRefusesTheRest(t *testing.T) {
	good := map[string]USD{"5": 5 * Dollar, "0.25": Dollar / 4, "$0.0000528": 52_800, " 10.5 ": 10*Dollar + Dollar/2, ".5": Dollar / 2, "-1": -Dollar}
	for in, want := range good {
		if got, err := ParseUSD(in); err != nil || got != want {
			t.Errorf("ParseUSD(%q) = %d, %v; want %d", in, int64(got), err, int64(want))
		}
	}
	for _, in := range []string{"", "$", "1.", "abc", "1e3", "1,000", "0.0000000001", "99999999999"} {
		if _, err := ParseUSD(in); err == nil {
			t.Errorf("ParseUSD(%q) accepted", in)
		}
	}
}

func TestTilesRoundEachSideUpToWhole512Tiles(t *testing.T) {
	tests := []struct {
		w, h int
		want int64
	}{{512, 512, 1}, {1024, 1024, 4}, {1024, 768, 4}, {513, 512, 2}, {1120, 1120, 9}, {2048, 2048, 16}, {256, 256, 1}, {0, 512, 0}}
	for _, tt := range tests {
		if got := Tiles(tt.w, tt.h); got != tt.want {
			t.Errorf("Tiles(%d, %d) = %d, want %d", tt.w, tt.h, got, tt.want)
		}
	}
}

func TestEveryModelHasAPriceEntryWithItsSource(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Prices() {
		if seen[p.ProviderModel] {
			t.Errorf("%s: priced twice", p.ProviderModel)
		}
		seen[p.ProviderModel] = true
		if p.AsOf == "" || !strings.HasPrefix(p.Source, "https://") {
			t.Errorf("%s: every figure needs its date and source: %+v", p.ProviderModel, p)
		}
		if !p.Known && p.Note == "" {
			t.Errorf("%s: an unknown price must say why", p.ProviderModel)
		}
	}
	// Every row has a price entry, and every entry prices a row.
	rows := map[string]bool{}
	for _, m := range Models() {
		rows[m.ProviderModel] = true
		if _, ok := PriceOf(m); !ok {
			t.Errorf("model %s (%s) has no price entry: add one to prices (Known: false if no price is published)", m.Name, m.ProviderModel)
		}
	}
	for id := range seen {
		if !rows[id] {
			t.Errorf("%s is priced but is no row of the models table", id)
		}
	}
}

// modelFor is the models-table row of a provider model.
func modelFor(t *testing.T, id string) Model {
	t.Helper()
	for _, m := range Models() {
		if m.ProviderModel == id {
			return m
		}
	}
	t.Fatalf("no row of the models table has provider model %s", id)
	return Model{}
}

// The pricing page publishes unit prices and no worked examples; these are
// the page's units applied to concrete calls, worked by hand.
func TestCallCostFollowsThePublishedUnitPrices(t *testing.T) {
	tests := []struct {
		name   string
		id     string
		req    Request
		inputs [][2]int
		want   USD
	}{
		{"flux-1-schnell 1024x1024, 4 steps: 4 tiles x $0.0000528 + 4 steps x $0.0001056",
			"@cf/black-forest-labs/flux-1-schnell", Request{Steps: 4}, nil, 633_600},
		{"flux-1-schnell at 8 steps", "@cf/black-forest-labs/flux-1-schnell", Request{Steps: 8}, nil, 4*52_800 + 8*105_600},
		{"phoenix 1024x1024, 25 steps: 4 x $0.00583 + 25 x $0.00011 = $0.02607",
			"@cf/leonardo/phoenix-1.0", Request{Steps: 25}, nil, 26_070_000},
		{"phoenix 512x512, 10 steps", "@cf/leonardo/phoenix-1.0", Request{Width: 512, Height: 512, Steps: 10}, nil, 5_830_000 + 1_100_000},
		{"lucid-origin 1024x1024, 20 steps: 4 x $0.006996 + 20 x $0.000132 = $0.030624",
			"@cf/leonardo/lucid-origin", Request{Width: 1024, Height: 1024, Steps: 20}, nil, 30_624_000},
		{"lucid-origin 1536x1024 counts 6 tiles", "@cf/leonardo/lucid-origin", Request{Width: 1536, Height: 1024, Steps: 1}, nil, 6*6_996_000 + 132_000},
		{"flux-2-dev 1024x1024, 25 steps: 4 tiles x 25 x $0.00041 = $0.041",
			"@cf/black-forest-labs/flux-2-dev", Request{Width: 1024, Height: 1024, Steps: 25}, nil, 41_000_000},
		{"flux-2-dev with two 1024x1024 inputs adds 8 input tiles x 25 x $0.00021",
			"@cf/black-forest-labs/flux-2-dev", Request{Width: 1024, Height: 1024, Steps: 25}, [][2]int{{1024, 1024}, {1024, 1024}}, 83_000_000},
		{"flux-2-klein-4b 1024x1024: 4 x $0.000287", "@cf/black-forest-labs/flux-2-klein-4b", Request{Width: 1024, Height: 1024}, nil, 1_148_000},
		{"flux-2-klein-4b with a 512x768 input: + 2 x $0.000059", "@cf/black-forest-labs/flux-2-klein-4b", Request{Width: 1024, Height: 1024}, [][2]int{{512, 768}}, 1_148_000 + 118_000},
		{"flux-2-klein-9b 1024x1024: the first MP, $0.015", "@cf/black-forest-labs/flux-2-klein-9b", Request{Width: 1024, Height: 1024}, nil, 15_000_000},
		{"flux-2-klein-9b 2048x1024: + one more MP", "@cf/black-forest-labs/flux-2-klein-9b", Request{Width: 2048, Height: 1024}, nil, 17_000_000},
		{"flux-2-klein-9b 1024x1024 with a 1024x1024 input: + $0.002", "@cf/black-forest-labs/flux-2-klein-9b", Request{Width: 1024, Height: 1024}, [][2]int{{1024, 1024}}, 17_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := modelFor(t, tt.id)
			p, ok := PriceOf(m)
			if !ok || !p.Known {
				t.Fatalf("no known price for %s", tt.id)
			}
			if got := p.cost(m, tt.req, tt.inputs); got != tt.want {
				t.Errorf("cost = %s (%d), want %s (%d)", got, int64(got), tt.want, int64(tt.want))
			}
		})
	}
}

func TestEstimateCostUsesDefaultsAndMultipliesByN(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		n    int
		want USD
	}{
		{"flux-schnell with nothing set: 1024x1024 at its default 4 steps", Request{Model: "flux-schnell"}, 1, 633_600},
		{"n = 4 is four calls", Request{Model: "flux-schnell"}, 4, 4 * 633_600},
		{"n = 0 means one image", Request{Model: "flux-schnell"}, 0, 633_600},
		{"phoenix defaults: 1024x1024, 25 steps", Request{Model: "leonardo-phoenix"}, 1, 26_070_000},
		{"lucid-origin defaults: 1120x1120 (9 tiles) and no documented steps, so its maximum of 40",
			Request{Model: "leonardo-lucid-origin"}, 1, 9*6_996_000 + 40*132_000},
		{"lucid-origin at a chosen size and steps, n = 2", Request{Model: "leonardo-lucid-origin", Width: 1024, Height: 1024, Steps: 20}, 2, 2 * 30_624_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := EstimateCost(tt.req, tt.n)
			if !ok || got != tt.want {
				t.Errorf("EstimateCost = %s, %v; want %s", got, ok, tt.want)
			}
		})
	}
}

func TestEstimateCountsEachInputAtTheModelsInputSide(t *testing.T) {
	m := modelFor(t, "@cf/black-forest-labs/flux-2-klein-4b")
	p, _ := PriceOf(m)
	req := Request{Model: m.Name, Inputs: []string{"images://a", "images://b"}}
	side := m.InputSide
	if side == 0 {
		t.Fatal("the flux-2-klein-4b row has no InputSide: nothing to bound inputs by")
	}
	bound := inputBound(m, p)
	want := p.cost(m, req, [][2]int{bound, bound})
	if wantTiles := 2 * Tiles(side, side); want != p.OutputTile*USD(Tiles(1024, 1024))+p.InputTile*USD(wantTiles) {
		t.Fatalf("two inputs at %d px should add %d input tiles", side, wantTiles)
	}
	if got, ok := EstimateCost(req, 3); !ok || got != 3*want {
		t.Errorf("EstimateCost = %s, %v; want %s", got, ok, 3*want)
	}
}

func TestUnpublishedPricesAreUnknownNotZero(t *testing.T) {
	for _, name := range []string{"sdxl-lightning", "sdxl-base", "openai-image"} {
		got, ok := EstimateCost(Request{Model: name}, 1)
		if ok {
			t.Errorf("%s: EstimateCost = %s, want unknown", name, got)
		}
		m, _ := LookupModel(name)
		if _, ok := TypicalCost(m); ok {
			t.Errorf("%s: TypicalCost known", name)
		}
	}
	if _, ok := EstimateCost(Request{Model: "no-such-model"}, 1); ok {
		t.Error("an unknown model has a cost")
	}
}

func TestCallCostPricesTheInputsActuallySent(t *testing.T) {
	m := modelFor(t, "@cf/black-forest-labs/flux-2-klein-4b")
	req := Request{Model: m.Name, Width: 1024, Height: 1024, Inputs: []string{"images://a"}}
	got, ok := CallCost(req, Inputs{Images: []InputImage{{Width: 512, Height: 512}}})
	if !ok || got != 1_148_000+59_000 {
		t.Errorf("CallCost = %s, %v; want $0.001207", got, ok)
	}
}

func TestFlux2EstimatesAtTheirDefaults(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want USD
	}{
		{"flux-2-dev 1024x768 (4 tiles) at its 25 steps: $0.041", Request{Model: "flux-2-dev"}, 41_000_000},
		{"flux-2-dev with two inputs at its 512 px InputSide: + 2 tiles x 25 x $0.00021",
			Request{Model: "flux-2-dev", Inputs: []string{"images://a", "images://b"}}, 41_000_000 + 2*25*210_000},
		{"flux-2-klein-4b 1024x768: 4 x $0.000287", Request{Model: "flux-2-klein-4b"}, 1_148_000},
		{"flux-2-klein-9b 1024x768: within the first MP", Request{Model: "flux-2-klein-9b"}, 15_000_000},
		{"flux-2-klein-9b 1920x1920 (3.5 MP, rounded up to 4): $0.015 + 3 x $0.002", Request{Model: "flux-2-klein-9b", Width: 1920, Height: 1920}, 21_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := EstimateCost(tt.req, 1); !ok || got != tt.want {
				t.Errorf("EstimateCost = %s, %v; want %s", got, ok, tt.want)
			}
		})
	}
}
