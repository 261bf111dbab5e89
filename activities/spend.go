package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"

	"github.com/imagegen/imagegen"
)

// Spend is what a Generate activity's provider calls cost, across all its
// attempts: how many were (or may have been) paid, and their price.
//
// A provider call counts as paid when
//   - the provider answered with an image (even if staging it then failed);
//   - the provider answered but the answer was unusable (bad_response: it ran);
//   - our side cut the call off after sending it: our deadline ran out
//     (timeout without a provider error code), the worker shut down or the
//     job was canceled mid-call (the provider may have run and billed);
//   - an earlier attempt started a call and never recorded how it ended
//     (its worker died mid-call): counted once by the next attempt.
//
// It is not paid when the provider refused with an error answer (capacity,
// quota, invalid input, credentials, 5xx, its own inference timeout 3007),
// or for the offline preview renderer. The count is therefore an upper bound
// of what the provider billed, except for two gaps: a call cut off by job
// cancellation is not reported to the workflow (the workflow stops waiting
// for a canceled activity), and a worker killed between starting a call and
// its first heartbeat reaching Temporal (one RPC) loses that call. A worker
// killed after an unpaid refusal, before the attempt's failure was reported,
// counts one call too many.
type Spend struct {
	// PaidCalls counts the paid provider calls.
	PaidCalls int `json:"paid_calls,omitempty"`
	// Cost is what they cost; meaningless when Unpriced.
	Cost imagegen.USD `json:"cost_usd,omitzero"`
	// Unpriced: the model has no published price, so Cost is unknown, not 0.
	Unpriced bool `json:"unpriced,omitempty"`
}

// Add sums two spends; the sum is unpriced if either paid for an unpriced call.
func (s Spend) Add(o Spend) Spend {
	return Spend{PaidCalls: s.PaidCalls + o.PaidCalls, Cost: s.Cost + o.Cost,
		Unpriced: (s.Unpriced && s.PaidCalls > 0) || (o.Unpriced && o.PaidCalls > 0)}
}

// GenerateProgress is Generate's heartbeat detail: an activity retry's
// earlier attempts are invisible to the workflow (only the last attempt's
// result or failure reaches it), so each attempt carries the running count
// to the next through Temporal's heartbeat details.
type GenerateProgress struct {
	// Spend is the settled spend of the attempts so far.
	Spend Spend `json:"spend"`
	// InFlight: a provider call has started and its outcome is not recorded.
	InFlight bool `json:"in_flight,omitempty"`
	// CallCost is what one call costs (unknown if CallUnpriced), so that an
	// in-flight call can be priced by whoever settles it.
	CallCost     imagegen.USD `json:"call_cost_usd,omitzero"`
	CallUnpriced bool         `json:"call_unpriced,omitempty"`
}

// Settled is the spend with an unfinished call counted as paid: the provider
// may have run it.
func (p GenerateProgress) Settled() Spend {
	if !p.InFlight {
		return p.Spend
	}
	return p.Spend.Add(p.oneCall())
}

// oneCall is the spend of one paid call.
func (p GenerateProgress) oneCall() Spend {
	return Spend{PaidCalls: 1, Cost: p.CallCost, Unpriced: p.CallUnpriced}
}

// SpendOf is the spend an activity error reports: the FailureDetails of a
// failed Generate, or the heartbeat details of one that timed out (its
// worker died mid-call). Zero for anything else.
func SpendOf(err error) Spend {
	var d FailureDetails
	if DetailsOf(err, &d) && d.Spend != nil {
		return *d.Spend
	}
	var te interface {
		HasLastHeartbeatDetails() bool
		LastHeartbeatDetails(d ...any) error
	}
	if errors.As(err, &te) && te.HasLastHeartbeatDetails() {
		var p GenerateProgress
		if te.LastHeartbeatDetails(&p) == nil {
			return p.Settled()
		}
	}
	return Spend{}
}

// DetailsOf reads the FailureDetails of an activity's application error.
func DetailsOf(err error, d *FailureDetails) bool {
	var ae interface {
		HasDetails() bool
		Details(d ...any) error
	}
	return errors.As(err, &ae) && ae.HasDetails() && ae.Details(d) == nil
}

// paidCall decides whether a provider call that ended with err was paid
// (see Spend).
func paidCall(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return true
	}
	var e *imagegen.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Kind {
	case imagegen.KindBadResponse:
		return true
	case imagegen.KindTimeout:
		return e.Code == 0 && e.Status == 0 // our deadline, not the provider's 3007 answer
	}
	return false
}

// spendTracker keeps one Generate attempt's progress and heartbeats it.
type spendTracker struct {
	progress GenerateProgress
	// free: the calls cost nothing (the offline preview renderer).
	free bool
}

// startSpend reads the progress earlier attempts left in the heartbeat
// details and settles a call one of them left in flight. The call's price
// is set by price once the inputs it sends are known.
func (a *Activities) startSpend(ctx context.Context, req imagegen.Request) *spendTracker {
	t := &spendTracker{free: a.Placeholder}
	if activity.HasHeartbeatDetails(ctx) {
		var p GenerateProgress
		if err := activity.GetHeartbeatDetails(ctx, &p); err == nil {
			if p.InFlight {
				a.observePaid(req.Model, "no_image", p.oneCall())
			}
			t.progress.Spend = p.Settled()
		}
	}
	return t
}

// price sets what one call costs, with the input images it actually sends.
func (t *spendTracker) price(req imagegen.Request, in imagegen.Inputs) {
	if t.free {
		return
	}
	cost, priced := imagegen.CallCost(req, in)
	t.progress.CallCost, t.progress.CallUnpriced = cost, !priced
}

// begin records, before the provider is called, that a call is in flight.
// The attempt's first heartbeat goes to Temporal at once, so a worker that
// dies during the call leaves the mark for the next attempt.
func (t *spendTracker) begin(ctx context.Context) {
	t.progress.InFlight = !t.free
	activity.RecordHeartbeat(ctx, t.progress)
}

// end records how the call ended and returns the call's spend (zero if it
// was not paid). The SDK flushes this heartbeat before it reports a failed
// attempt, so the next attempt starts from it.
func (t *spendTracker) end(ctx context.Context, paid bool) Spend {
	t.progress.InFlight = false
	var call Spend
	if paid && !t.free {
		call = t.progress.oneCall()
		t.progress.Spend = t.progress.Spend.Add(call)
	}
	activity.RecordHeartbeat(ctx, t.progress)
	return call
}

// spend is the attempt's total so far.
func (t *spendTracker) spend() Spend { return t.progress.Spend }

// observePaid reports a paid call to the metrics: outcome "image" when it
// produced an image, "no_image" when the money bought nothing.
func (a *Activities) observePaid(model, outcome string, call Spend) {
	if call.PaidCalls == 0 {
		return
	}
	a.observe(func(o Observer) { o.PaidCall(model, outcome, call.Cost, !call.Unpriced) })
}
