package imagegen

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// USD is an amount of money in nano-dollars (1e-9 US dollars). The cheapest
// published figure, FLUX.1 Schnell's $0.0000528 per tile, is 52,800 of them,
// so every published price and every sum of them is exact: no floating
// point anywhere money is added. An int64 holds up to about $9.2 billion.
type USD int64

// Units of USD.
const (
	NanoDollar USD = 1
	Dollar     USD = 1_000_000_000
)

// String formats the amount in dollars with as many decimals as it needs
// (at least two, at most nine): "$0.0025", "$0.0000528", "$1.50", "-$0.01".
func (u USD) String() string {
	if u < 0 {
		return "-$" + strings.TrimPrefix(u.decimal(2), "-")
	}
	return "$" + u.decimal(2)
}

// decimal is the amount in dollars without the sign of the currency, with at
// least minFrac decimals.
func (u USD) decimal(minFrac int) string {
	neg := u < 0
	n := uint64(u)
	if neg {
		n = uint64(-u) // -MinInt64 wraps to itself, which as uint64 is its magnitude
	}
	whole, frac := n/uint64(Dollar), n%uint64(Dollar)
	f := strings.TrimRight(fmt.Sprintf("%09d", frac), "0")
	for len(f) < minFrac {
		f += "0"
	}
	s := strconv.FormatUint(whole, 10)
	if f != "" {
		s += "." + f
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Dollars is the amount as a float, for metrics and nothing that adds money.
func (u USD) Dollars() float64 { return float64(u) / float64(Dollar) }

// MarshalJSON writes the amount as a JSON number of dollars, exactly as
// String shows it (0.0025), so JSON readers see dollars, not nano-dollars.
func (u USD) MarshalJSON() ([]byte, error) { return []byte(u.decimal(0)), nil }

// UnmarshalJSON reads a JSON number of dollars (or a string such as
// "$0.0025") without going through floating point.
func (u *USD) UnmarshalJSON(b []byte) error {
	s := string(b)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	v, err := ParseUSD(s)
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// ParseUSD reads an amount of dollars such as "5", "0.25", "$0.0000528" or
// "-1.5": at most nine decimals (nano-dollars), no exponent, no grouping.
func ParseUSD(s string) (USD, error) {
	orig := s
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	s = strings.TrimPrefix(s, "$")
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && frac == "" || hasDot && frac == "" || len(frac) > 9 || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%q is not an amount of dollars such as 5 or 0.25 (at most 9 decimals)", orig)
	}
	var w uint64
	if whole != "" {
		var err error
		if w, err = strconv.ParseUint(whole, 10, 64); err != nil || w > math.MaxInt64/uint64(Dollar) {
			return 0, fmt.Errorf("%q is too large an amount", orig)
		}
	}
	f := uint64(0)
	if frac != "" {
		f, _ = strconv.ParseUint(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	v := USD(w)*Dollar + USD(f)
	if neg {
		v = -v
	}
	return v, nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// TileSide is the side of the square tile Workers AI prices images by.
const TileSide = 512

// Tiles is how many 512×512 tiles a w×h image is billed as: each side
// rounded up to whole tiles. The pricing page prices "per 512x512 tile"
// without defining partial tiles; rounding up makes the figure an upper
// bound rather than a guess below the bill.
func Tiles(w, h int) int64 {
	if w <= 0 || h <= 0 {
		return 0
	}
	return int64((w+TileSide-1)/TileSide) * int64((h+TileSide-1)/TileSide)
}

// megapixel is how Workers AI counts a megapixel for FLUX.2 [klein] 9B: "per
// first MP (1024x1024)".
const megapixel = 1024 * 1024

// megapixels is a pixel count in whole megapixels, rounded up.
func megapixels(px int64) int64 { return (px + megapixel - 1) / megapixel }

// Price is one model's published price: what a single provider call costs,
// in the units the provider's pricing page uses. The fields that do not
// apply are zero. Known false means no price is published: its cost is
// unknown (never zero), and Note says what the page does say.
type Price struct {
	// ProviderModel is the provider's id of the model (the models table's
	// ProviderModel), so a public name can change without losing its price.
	ProviderModel string `json:"provider_model"`
	Known         bool   `json:"known"`

	// Per 512×512 tile of the output image, once per call.
	OutputTile USD `json:"output_tile,omitzero"`
	// Per step, once per call (not per tile).
	Step USD `json:"step,omitzero"`
	// Per 512×512 output tile and per step (FLUX.2 [dev]).
	OutputTileStep USD `json:"output_tile_step,omitzero"`
	// Per 512×512 tile of each input image, once per call.
	InputTile USD `json:"input_tile,omitzero"`
	// Per 512×512 tile of each input image and per step (FLUX.2 [dev]).
	InputTileStep USD `json:"input_tile_step,omitzero"`
	// Megapixel pricing (FLUX.2 [klein] 9B): the first output megapixel,
	// each further one, and each megapixel of each input image.
	FirstMegapixel USD `json:"first_megapixel,omitzero"`
	ExtraMegapixel USD `json:"extra_megapixel,omitzero"`
	InputMegapixel USD `json:"input_megapixel,omitzero"`

	// DefaultWidth and DefaultHeight are the size the model makes when a
	// request sets none (from its Workers AI input schema).
	DefaultWidth  int `json:"default_width,omitempty"`
	DefaultHeight int `json:"default_height,omitempty"`
	// FixedSteps is the step count of a model that takes no steps
	// parameter (FLUX.2 [klein] runs 4); 0 if the request or the model's
	// default decides.
	FixedSteps int `json:"fixed_steps,omitempty"`

	// AsOf is the date the figure was read from Source (YYYY-MM-DD).
	AsOf   string `json:"as_of"`
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
}

// Sources of the figures below.
const (
	pricingPage     = "https://developers.cloudflare.com/workers-ai/platform/pricing/"
	pricingPageDate = "2026-08-28" // "Last updated Aug 28, 2026" on the page
)

// prices is the price table, one entry per provider model, beside the models
// table. Figures are the pricing page's "Image model pricing" table (its
// "Price in Tokens" column, which equals the neuron column at $0.011 per
// 1,000 neurons; model pages round some, e.g. lucid-origin's $0.007 for
// $0.006996). Entries for FLUX.2 are keyed by id, so they apply whenever
// those rows are in the models table. Update AsOf with every figure.
var prices = []Price{
	{
		ProviderModel: "@cf/black-forest-labs/flux-1-schnell", Known: true,
		OutputTile: 52_800, Step: 105_600, // $0.0000528 per tile, $0.0001056 per step
		DefaultWidth: 1024, DefaultHeight: 1024,
		AsOf: pricingPageDate, Source: pricingPage,
	},
	{
		ProviderModel: "@cf/bytedance/stable-diffusion-xl-lightning", Known: false,
		DefaultWidth: 1024, DefaultHeight: 1024,
		AsOf: pricingPageDate, Source: pricingPage,
		Note: "not in the pricing page's image model table; the model is listed as Beta: price not published, so unknown",
	},
	{
		ProviderModel: "@cf/stabilityai/stable-diffusion-xl-base-1.0", Known: false,
		DefaultWidth: 1024, DefaultHeight: 1024,
		AsOf: pricingPageDate, Source: "https://developers.cloudflare.com/workers-ai/models/stable-diffusion-xl-base-1.0/",
		Note: "not in the pricing page's image model table; its model page marks it Beta with \"$0.00 per step\", " +
			"a beta figure, not a published price: unknown",
	},
	{
		ProviderModel: "@cf/leonardo/phoenix-1.0", Known: true,
		OutputTile: 5_830_000, Step: 110_000, // $0.005830 per tile, $0.000110 per step
		DefaultWidth: 1024, DefaultHeight: 1024,
		AsOf: pricingPageDate, Source: pricingPage,
	},
	{
		ProviderModel: "@cf/leonardo/lucid-origin", Known: true,
		OutputTile: 6_996_000, Step: 132_000, // $0.006996 per tile, $0.000132 per step
		DefaultWidth: 1120, DefaultHeight: 1120,
		AsOf: pricingPageDate, Source: pricingPage,
		Note: "the model page rounds the tile price to $0.007; its schema documents no default step count, so an estimate without steps assumes the maximum (an upper bound)",
	},
	{
		ProviderModel: "@cf/black-forest-labs/flux-2-dev", Known: true,
		OutputTileStep: 410_000, InputTileStep: 210_000, // $0.00041 per output tile per step, $0.00021 per input tile per step
		DefaultWidth: 1024, DefaultHeight: 768, // the model page's default size
		AsOf: pricingPageDate, Source: pricingPage,
		Note: "the page has shown other figures for this model before",
	},
	{
		ProviderModel: "@cf/black-forest-labs/flux-2-klein-4b", Known: true,
		OutputTile: 287_000, InputTile: 59_000, // $0.000287 per output tile, $0.000059 per input tile
		DefaultWidth: 1024, DefaultHeight: 768, FixedSteps: 4,
		AsOf: pricingPageDate, Source: pricingPage,
		Note: "fixed 4 steps, priced per tile only",
	},
	{
		ProviderModel: "@cf/black-forest-labs/flux-2-klein-9b", Known: true,
		FirstMegapixel: 15_000_000, ExtraMegapixel: 2_000_000, InputMegapixel: 2_000_000, // $0.015, $0.002, $0.002
		DefaultWidth: 1024, DefaultHeight: 768, FixedSteps: 4,
		AsOf: pricingPageDate, Source: pricingPage,
		Note: "priced per megapixel (1024x1024); the page does not say how partial megapixels count: rounded up (an upper bound)",
	},
	{
		ProviderModel: "gpt-image-2", Known: false,
		AsOf: "2026-12-01", Source: "https://openai.com/api/pricing/",
		Note: "OpenAI bills gpt-image-2 by tokens, and the operator may point openai-image at another model or server: no per-image price is known",
	},
}

// Prices returns the price table. The slice is a copy.
func Prices() []Price { return append([]Price(nil), prices...) }

// PriceOf finds a model's price entry by its provider model id. An entry
// with Known false is still an entry: the model's price is unknown.
func PriceOf(m Model) (Price, bool) {
	for _, p := range prices {
		if p.ProviderModel == m.ProviderModel {
			return p, true
		}
	}
	return Price{}, false
}

// ErrUnpriced means a model has no published price.
var ErrUnpriced = errors.New("no published price")

// callSize is the output size and step count one call of req makes on m.
func callSize(m Model, p Price, req Request) (w, h, steps int) {
	w, h = req.Width, req.Height
	if w == 0 {
		w = p.DefaultWidth
	}
	if h == 0 {
		h = p.DefaultHeight
	}
	steps = req.Steps
	switch {
	case p.FixedSteps > 0:
		steps = p.FixedSteps
	case steps == 0 && m.DefaultSteps > 0:
		steps = m.DefaultSteps
	case steps == 0:
		steps = m.MaxSteps // no documented default: the most it can take
	}
	return w, h, steps
}

// CallCost is what one provider call of req costs, with the input images it
// actually sends (their real sizes). Requests with input references but no
// images given are priced as EstimateCost prices them. False: the model's
// price is not published (or the model is unknown).
func CallCost(req Request, in Inputs) (USD, bool) {
	m, ok := LookupModel(req.Model)
	if !ok {
		return 0, false
	}
	p, ok := PriceOf(m)
	if !ok || !p.Known {
		return 0, false
	}
	inputs := make([][2]int, 0, len(req.Inputs))
	if len(in.Images) > 0 {
		for _, img := range in.Images {
			inputs = append(inputs, [2]int{img.Width, img.Height})
		}
	} else {
		for range req.Inputs {
			inputs = append(inputs, inputBound(m, p))
		}
	}
	return p.cost(m, req, inputs), true
}

// inputBound is the largest an input image of m can be after normalisation:
// a square of the model's InputSide (or of its largest output side, or the
// default size, when it has none).
func inputBound(m Model, p Price) [2]int {
	side := m.InputSide
	if side <= 0 {
		side = max(m.MaxSide, p.DefaultWidth, p.DefaultHeight)
	}
	return [2]int{side, side}
}

// cost prices one call: output size and steps from the request (or the
// model's defaults), the given input image sizes.
func (p Price) cost(m Model, req Request, inputs [][2]int) USD {
	w, h, steps := callSize(m, p, req)
	out := Tiles(w, h)
	var inTiles, inMP int64
	for _, s := range inputs {
		inTiles += Tiles(s[0], s[1])
		inMP += megapixels(int64(s[0]) * int64(s[1]))
	}
	st := USD(steps)
	c := p.OutputTile*USD(out) + p.Step*st +
		p.OutputTileStep*USD(out)*st +
		p.InputTile*USD(inTiles) + p.InputTileStep*USD(inTiles)*st +
		p.InputMegapixel*USD(inMP)
	if p.FirstMegapixel > 0 {
		c += p.FirstMegapixel + p.ExtraMegapixel*USD(max(0, megapixels(int64(w)*int64(h))-1))
	}
	return c
}

// EstimateCost is what a job of n images of req is expected to cost before
// it runs: n provider calls at the request's size and steps (the model's
// defaults when unset; its maximum steps when it documents no default), with
// each input image counted at the largest size it can be sent at (the
// model's InputSide). Retries are not in it: they are counted when they
// happen. False: the model's price is not published, so the cost is unknown.
func EstimateCost(req Request, n int) (USD, bool) {
	one, ok := CallCost(req, Inputs{})
	if !ok {
		return 0, false
	}
	return one * USD(max(n, 1)), true
}

// TypicalCost is one image at the model's default settings, for list_models.
func TypicalCost(m Model) (USD, bool) {
	return EstimateCost(Request{Model: m.Name}, 1)
}

var _ json.Marshaler = USD(0)

// Units describes the price in the page's own units, e.g. "$0.0000528 per
// 512x512 output tile + $0.0001056 per step", or "unknown: ..." with the note.
func (p Price) Units() string {
	if !p.Known {
		return "unknown: " + p.Note
	}
	var parts []string
	add := func(v USD, unit string) {
		if v != 0 {
			parts = append(parts, v.String()+" per "+unit)
		}
	}
	add(p.OutputTile, "512x512 output tile")
	add(p.Step, "step")
	add(p.OutputTileStep, "512x512 output tile per step")
	add(p.InputTile, "512x512 input tile")
	add(p.InputTileStep, "512x512 input tile per step")
	add(p.FirstMegapixel, "first output megapixel")
	add(p.ExtraMegapixel, "further output megapixel")
	add(p.InputMegapixel, "input image megapixel")
	return strings.Join(parts, " + ")
}

// DefaultSettings describes the call TypicalCost prices: the model's default
// size and steps, e.g. "1024x1024, 4 steps".
func DefaultSettings(m Model) string {
	p, ok := PriceOf(m)
	if !ok {
		return ""
	}
	w, h, steps := callSize(m, p, Request{})
	s := ""
	if w > 0 && h > 0 {
		s = fmt.Sprintf("%dx%d", w, h)
	}
	if steps > 0 {
		if s != "" {
			s += ", "
		}
		if p.FixedSteps == 0 && m.DefaultSteps == 0 {
			s += "up to " // no documented default: priced at the maximum
		}
		s += fmt.Sprintf("%d steps", steps)
	}
	return s
}
