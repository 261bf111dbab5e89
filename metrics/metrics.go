// Package metrics defines the service's Prometheus metrics and records them
// for every layer: job outcomes (through the Temporal SDK's metrics handler,
// so that workflow code stays replay-safe), provider and storage calls
// (activities), and MCP tool calls and waiters (mcpserver). Each layer
// declares the small observer interface it needs; *Metrics implements them.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/imagegen/imagegen"
)

// Names of the metrics the workflow emits through the Temporal SDK handler.
const (
	JobsStarted  = "imagegen_jobs_started"
	JobsFinished = "imagegen_jobs_finished"
)

// Metrics owns a registry and every metric in it.
type Metrics struct {
	reg *prometheus.Registry

	jobsStarted     *prometheus.CounterVec
	jobsFinished    *prometheus.CounterVec
	providerLatency *prometheus.HistogramVec
	providerErrors  *prometheus.CounterVec
	retries         *prometheus.CounterVec
	paidCalls       *prometheus.CounterVec
	spend           *prometheus.CounterVec
	storageLatency  *prometheus.HistogramVec
	toolCalls       *prometheus.CounterVec
	toolLatency     *prometheus.HistogramVec
	waiters         prometheus.Gauge
}

// New creates the metrics on a fresh registry (plus Go and process collectors).
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{
		reg: reg,
		jobsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegen_jobs_started_total", Help: "Generation workflows started (a retried job counts again).",
		}, []string{"model"}),
		jobsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegen_jobs_finished_total", Help: "Generation workflows finished, by final status (completed, failed, canceled).",
		}, []string{"model", "status"}),
		providerLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "imagegen_provider_duration_seconds", Help: "Duration of provider calls.",
			Buckets: []float64{0.05, 0.25, 1, 2.5, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120},
		}, []string{"model", "outcome"}),
		providerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegen_provider_errors_total", Help: "Failed provider calls by error kind and provider error code.",
		}, []string{"model", "kind", "code"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegen_activity_retries_total", Help: "Activity attempts after the first (generate, store).",
		}, []string{"activity"}),
		paidCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegen_provider_paid_calls_total",
			Help: "Provider calls that were or may have been paid, by outcome: image (produced one) or no_image (paid for nothing: an unusable answer, a call cut off on our side, an image that could not be staged).",
		}, []string{"model", "outcome"}),
		spend: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegen_spend_usd_total",
			Help: "What paid provider calls cost at the published price, in US dollars, by outcome (image, no_image: money lost to retries). Models without a published price are not in it; their calls are in imagegen_provider_paid_calls_total.",
		}, []string{"model", "outcome"}),
		storageLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "imagegen_storage_duration_seconds", Help: "Duration of image uploads.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"outcome"}),
		toolCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegen_mcp_tool_calls_total", Help: "MCP tool calls by tool and outcome (ok, tool_error, protocol_error).",
		}, []string{"tool", "outcome"}),
		toolLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "imagegen_mcp_tool_duration_seconds", Help: "Duration of MCP tool calls.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 12),
		}, []string{"tool"}),
		waiters: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "imagegen_waiters_in_flight", Help: "Tool calls currently blocked waiting for a job.",
		}),
	}
	for _, c := range []prometheus.Collector{
		m.jobsStarted, m.jobsFinished, m.providerLatency, m.providerErrors, m.retries, m.paidCalls, m.spend,
		m.storageLatency, m.toolCalls, m.toolLatency, m.waiters,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		f(c)
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Gatherer exposes the registry (tests parse what it gathers).
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// ProviderCall records one provider call.
func (m *Metrics) ProviderCall(model string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
		kind, code := "unclassified", "0"
		var e *imagegen.Error
		if errors.As(err, &e) {
			kind, code = string(e.Kind), strconv.Itoa(e.Code)
		}
		m.providerErrors.WithLabelValues(model, kind, code).Inc()
	}
	m.providerLatency.WithLabelValues(model, outcome).Observe(d.Seconds())
}

// Retry records an activity attempt after the first.
func (m *Metrics) Retry(activity string) { m.retries.WithLabelValues(activity).Inc() }

// PaidCall records one paid provider call and, if the model has a published
// price, what it cost.
func (m *Metrics) PaidCall(model, outcome string, cost imagegen.USD, priced bool) {
	m.paidCalls.WithLabelValues(model, outcome).Inc()
	if priced {
		m.spend.WithLabelValues(model, outcome).Add(cost.Dollars())
	}
}

// StoreCall records one upload.
func (m *Metrics) StoreCall(d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.storageLatency.WithLabelValues(outcome).Observe(d.Seconds())
}

// ToolCall records one MCP tool call.
func (m *Metrics) ToolCall(tool, outcome string, d time.Duration) {
	m.toolCalls.WithLabelValues(tool, outcome).Inc()
	m.toolLatency.WithLabelValues(tool).Observe(d.Seconds())
}

// WaiterAdd moves the waiters gauge.
func (m *Metrics) WaiterAdd(delta int) { m.waiters.Add(float64(delta)) }

// TemporalHandler adapts the metrics the workflow emits through
// workflow.GetMetricsHandler (which skips them during replay) to Prometheus.
// The SDK's own metrics pass through it too and are dropped: the Temporal
// server and UI already show workflow and task-queue health.
func (m *Metrics) TemporalHandler() client.MetricsHandler { return temporalHandler{m: m} }

type temporalHandler struct {
	m    *Metrics
	tags map[string]string
}

func (h temporalHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return temporalHandler{m: h.m, tags: merged}
}

func (h temporalHandler) Counter(name string) client.MetricsCounter {
	switch name {
	case JobsStarted:
		return counterFunc(func(n int64) { h.m.jobsStarted.WithLabelValues(h.tags["model"]).Add(float64(n)) })
	case JobsFinished:
		return counterFunc(func(n int64) {
			h.m.jobsFinished.WithLabelValues(h.tags["model"], h.tags["status"]).Add(float64(n))
		})
	}
	return nop{}
}

func (h temporalHandler) Gauge(string) client.MetricsGauge { return nop{} }
func (h temporalHandler) Timer(string) client.MetricsTimer { return nop{} }

type counterFunc func(int64)

func (f counterFunc) Inc(n int64) { f(n) }

type nop struct{}

func (nop) Inc(int64)            {}
func (nop) Update(float64)       {}
func (nop) Record(time.Duration) {}
