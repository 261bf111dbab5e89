package metrics_test

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/metrics"
)

// value finds the counter of name with exactly these labels.
func value(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, mt := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range mt.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if len(got) != len(labels) {
				continue
			}
			for k, v := range labels {
				if got[k] != v {
					continue metric
				}
			}
			return counterValue(mt), true
		}
	}
	return 0, false
}

func counterValue(m *dto.Metric) float64 { return m.GetCounter().GetValue() }

func TestPaidCallsAreCountedBySpendAndOutcome(t *testing.T) {
	m := metrics.New()
	m.PaidCall("flux-schnell", "image", 633_600, true)
	m.PaidCall("flux-schnell", "image", 633_600, true)
	m.PaidCall("flux-schnell", "no_image", 633_600, true)
	m.PaidCall("sdxl-base", "image", 0, false) // no published price

	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"imagegen_provider_paid_calls_total", map[string]string{"model": "flux-schnell", "outcome": "image"}, 2},
		{"imagegen_provider_paid_calls_total", map[string]string{"model": "flux-schnell", "outcome": "no_image"}, 1},
		{"imagegen_provider_paid_calls_total", map[string]string{"model": "sdxl-base", "outcome": "image"}, 1},
		{"imagegen_spend_usd_total", map[string]string{"model": "flux-schnell", "outcome": "image"}, 2 * imagegen.USD(633_600).Dollars()},
		{"imagegen_spend_usd_total", map[string]string{"model": "flux-schnell", "outcome": "no_image"}, imagegen.USD(633_600).Dollars()},
	} {
		got, ok := value(t, m, tc.name, tc.labels)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %g (found %v), want %g", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	// An unpriced model's calls are counted, but never as $0 of spend.
	if _, ok := value(t, m, "imagegen_spend_usd_total", map[string]string{"model": "sdxl-base", "outcome": "image"}); ok {
		t.Error("spend recorded for a model without a published price")
	}
}
