package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dist summarises a set of durations, in milliseconds.
type Dist struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
	// Over1s counts samples above one second: with an instant provider, or
	// measured from the provider's answer, each one is a stall.
	Over1s int `json:"over_1s"`
}

// distOf computes nearest-rank percentiles: each one is an observed sample,
// so p50 <= p90 <= p99 <= max holds by construction.
func distOf(samples []time.Duration) Dist {
	if len(samples) == 0 {
		return Dist{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return ms(s[max(0, min(i, len(s)-1))])
	}
	var (
		sum  time.Duration
		over int
	)
	for _, d := range s {
		sum += d
		if d > time.Second {
			over++
		}
	}
	return Dist{
		N: len(s), P50: rank(50), P90: rank(90), P99: rank(99), Max: ms(s[len(s)-1]),
		Mean: round2(ms(sum) / float64(len(s))), Over1s: over,
	}
}

func ms(d time.Duration) float64 { return round2(float64(d) / float64(time.Millisecond)) }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// ratio is a/b rounded for display; 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round2(a / b)
}

// rssBytes reads the resident set size of this process from /proc. RSS, not
// the Go heap, is what an operator sees and pays for.
func rssBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(v) // "123456 kB"
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/self/status")
}

// settledRSS collects garbage and hands freed pages back to the OS before
// reading RSS, so that two readings differ by live memory rather than by
// what the collector has not yet returned.
func settledRSS() (int64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	return rssBytes()
}

func mb(b int64) float64 { return round2(float64(b) / (1 << 20)) }

// loadAverage is the first three fields of /proc/loadavg ("" if unreadable):
// reported so that a noisy run is visible as such.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// goroutineCounts splits the goroutines of the process by what they serve.
type goroutineCounts struct {
	total int
	// client: the benchmark's own HTTP client connections, which run in this
	// process only because the benchmark does.
	client int
	// waiterPath: everything a wait_for_completion call keeps alive, from
	// the HTTP connection down to history's long poll.
	waiterPath int
	// longPolls: workflow-result long polls parked in the history service.
	longPolls int
}

// Stack frames that mark each kind. These are other packages' internals: if
// one is renamed the quick benchmark test fails at once, naming the count.
const (
	frameClientConn = "net/http.(*persistConn)"
	frameLongPoll   = "GetOrPollWorkflowMutableState"
)

var waiterPathFrames = []string{
	"net/http.(*persistConn)", "net/http.(*conn).serve", "net/http.(*connReader).backgroundRead",
	"mark3labs/mcp-go/server", "github.com/imagegen/imagegen/jobs", "github.com/imagegen/imagegen/mcpserver",
	frameLongPoll,
}

// goroutines reads the goroutine profile (stacks folded by the runtime, so
// a few thousand goroutines cost a few milliseconds) and counts by kind.
func goroutines() goroutineCounts {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	var c goroutineCounts
	// Records are "N @ pc pc ...\n#\tpc\tfunc+off\tfile:line\n..." separated by blank lines.
	for _, rec := range strings.Split(buf.String(), "\n\n") {
		head, _, _ := strings.Cut(rec, " @ ")
		n, err := strconv.Atoi(head)
		if err != nil {
			continue // the "goroutine profile: total N" header
		}
		c.total += n
		if strings.Contains(rec, frameClientConn) {
			c.client += n
		}
		if strings.Contains(rec, frameLongPoll) {
			c.longPolls += n
		}
		for _, f := range waiterPathFrames {
			if strings.Contains(rec, f) {
				c.waiterPath += n
				break
			}
		}
	}
	return c
}
