package mcpserver

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/authlimit"
)

// TestWrongTokensAreRateLimitedPerAddress replays the brute force (200
// guesses in 1.5 s, each a log line): after the burst every attempt from
// that address, even with the right token, gets 429 and Retry-After without
// being compared; another address is unaffected; the log holds a summary.
func TestWrongTokensAreRateLimitedPerAddress(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	var logs bytes.Buffer
	lim := authlimit.New(0, 0, slog.New(slog.NewTextHandler(&logs, nil)))
	h := requireBearer(token, lim, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	try := func(addr, tok string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/mcp", nil)
		req.RemoteAddr = addr
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(rec, req)
		return rec
	}
	codes := map[int]int{}
	for i := range 200 {
		codes[try("192.0.2.7:"+strconv.Itoa(40000+i), "guess"+strconv.Itoa(i)).Code]++
	}
	if codes[http.StatusUnauthorized] != authlimit.DefaultBurst || codes[http.StatusTooManyRequests] != 200-authlimit.DefaultBurst {
		t.Errorf("200 guesses: %v, want %d×401 then 429", codes, authlimit.DefaultBurst)
	}
	rec := try("192.0.2.7:1", token)
	if rec.Code != http.StatusTooManyRequests {
		t.Errorf("right token from the blocked address: %d, want 429", rec.Code)
	}
	if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After %q, want a positive number of seconds", rec.Header().Get("Retry-After"))
	}
	if !strings.Contains(rec.Body.String(), "too many failed") {
		t.Errorf("429 body %q does not say why", rec.Body.String())
	}
	if rec := try("198.51.100.9:1", token); rec.Code != http.StatusNoContent {
		t.Errorf("right token from another address: %d, want 204", rec.Code)
	}
	if n := strings.Count(logs.String(), "\n"); n > 2 {
		t.Errorf("%d log lines for one address's 200 failures, want a summary:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "guess") {
		t.Error("a guessed token reached the log")
	}
}
