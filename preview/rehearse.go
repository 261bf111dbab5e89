package preview

import (
	"context"
	"crypto/sha256"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imagegen/imagegen"
)

// Rehearsal knobs: the preview provider can be slow and can fail on demand,
// so that cancel, retry and Temporal's retries can be tried without
// Cloudflare credentials. A prompt steers its own job with directives:
//
//	[delay:30s]           this image takes 30 s (overrides Options.Delay)
//	[fail:quota_exceeded] every call fails with that provider error
//	[fail:capacity:2]     the first 2 calls for this request fail, later ones succeed
//
// Counts are kept in this process's memory per distinct request, so a
// retried job (the same request again) succeeds once its failures are used
// up; a restart forgets them.

// MaxDelay bounds a [delay:...] directive.
const MaxDelay = 10 * time.Minute

var directive = regexp.MustCompile(`\[(delay|fail):([^\]]*)\]`)

// simulated is the provider error each failure kind stands for: the Workers
// AI code and status a real call would answer with.
var simulated = map[imagegen.ErrorKind]struct{ code, status int }{
	imagegen.KindInvalidInput:  {5006, 400},
	imagegen.KindUnknownModel:  {5007, 400},
	imagegen.KindUnauthorized:  {10000, 401},
	imagegen.KindQuotaExceeded: {4006, 429},
	imagegen.KindCapacity:      {3040, 429},
	imagegen.KindTimeout:       {3007, 408},
	imagegen.KindUpstream:      {0, 502},
	imagegen.KindBadResponse:   {0, 200},
}

// failureKinds lists the kinds a [fail:...] directive accepts, for messages.
func failureKinds() string {
	kinds := []string{
		string(imagegen.KindQuotaExceeded), string(imagegen.KindCapacity), string(imagegen.KindTimeout),
		string(imagegen.KindUpstream), string(imagegen.KindBadResponse), string(imagegen.KindInvalidInput),
		string(imagegen.KindUnknownModel), string(imagegen.KindUnauthorized),
	}
	return strings.Join(kinds, ", ")
}

// plan is what a prompt's directives ask of one call.
type plan struct {
	delay    time.Duration
	hasDelay bool
	fail     imagegen.ErrorKind
	failN    int // 0: every call fails
}

// parseDirectives reads the directives of a prompt. A directive with a bad
// value is an input error: the user asked for something that cannot happen.
func parseDirectives(prompt string) (plan, error) {
	var p plan
	for _, m := range directive.FindAllStringSubmatch(prompt, -1) {
		key, val := m[1], strings.TrimSpace(m[2])
		switch key {
		case "delay":
			d, err := time.ParseDuration(val)
			if err != nil || d < 0 || d > MaxDelay {
				return plan{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("preview: %s is not a delay: use a duration between 0s and %s, e.g. [delay:20s]", m[0], MaxDelay)}
			}
			p.delay, p.hasDelay = d, true
		case "fail":
			name, count, hasCount := strings.Cut(val, ":")
			kind := imagegen.ErrorKind(strings.TrimSpace(name))
			if _, ok := simulated[kind]; !ok {
				return plan{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("preview: %s names no failure: use one of %s, e.g. [fail:quota_exceeded] or [fail:capacity:2]", m[0], failureKinds())}
			}
			p.fail = kind
			if hasCount {
				n, err := strconv.Atoi(strings.TrimSpace(count))
				if err != nil || n < 1 || n > 100 {
					return plan{}, &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: fmt.Sprintf("preview: %s: the count after the kind must be 1 to 100", m[0])}
				}
				p.failN = n
			}
		}
	}
	return p, nil
}

// failures counts the simulated failures already served per request.
type failures struct {
	mu   sync.Mutex
	seen map[[32]byte]int
}

// take reports whether this call of the request should fail: always for an
// uncounted directive, for the first n calls of a counted one.
func (f *failures) take(key [32]byte, n int) bool {
	if n == 0 {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = make(map[[32]byte]int)
	}
	if f.seen[key] >= n {
		return false
	}
	f.seen[key]++
	return true
}

// requestKey identifies a request for failure counting (the image index is
// part of it, so each image of an n-image job counts its own failures).
func requestKey(req imagegen.Request) [32]byte {
	fp := fingerprint(req)
	return sha256.Sum256(fp[:])
}

func simulatedError(kind imagegen.ErrorKind, directive string) error {
	s := simulated[kind]
	return &imagegen.Error{
		Kind: kind, Code: s.code, Status: s.status,
		Message: fmt.Sprintf("the preview provider simulated a %s failure, as the prompt's %s asked", kind, directive),
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// failDirective returns the text of the prompt's fail directive, for messages.
func failDirective(prompt string) string {
	for _, m := range directive.FindAllStringSubmatch(prompt, -1) {
		if m[1] == "fail" {
			return m[0]
		}
	}
	return "[fail:...]"
}
