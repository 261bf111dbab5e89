package providerkit

import (
	"strings"
	"testing"
)

func TestRedactHidesEchoesInAnyCaseAndPartialOnes(t *testing.T) {
	const secret = "cfut_Ab3dEf9hIjKlMnOpQrStUvWxYz012345"
	for _, tc := range []struct{ name, in string }{
		{"exact", "gateway said: bad token " + secret},
		{"upper-cased", "BAD TOKEN " + strings.ToUpper(secret)},
		{"lower-cased", "bad token " + strings.ToLower(secret)},
		{"truncated echo", "Authorization: Bearer " + secret[:14] + "…"},
		{"tail only", "token ending in " + secret[len(secret)-10:]},
		{"twice", secret + " and again " + strings.ToUpper(secret[5:20])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := redact(tc.in, secret)
			low := strings.ToLower(got)
			for i := 0; i+minEcho <= len(secret); i++ {
				if strings.Contains(low, strings.ToLower(secret[i:i+minEcho])) {
					t.Fatalf("redact(%q) = %q still holds %q", tc.in, got, secret[i:i+minEcho])
				}
			}
			if !strings.Contains(got, "[redacted]") {
				t.Errorf("redact(%q) = %q marks nothing", tc.in, got)
			}
		})
	}
	// Text that merely shares a few characters is left alone.
	if got := redact("model flux-1-schnell: 5006 bad input", secret); got != "model flux-1-schnell: 5006 bad input" {
		t.Errorf("unrelated text changed: %q", got)
	}
	if got := redact("anything", ""); got != "anything" {
		t.Errorf("empty secret changed text: %q", got)
	}
}

func TestPlainHTTPBaseURLsOnlyForLoopback(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://api.example.com/v1":     true,
		"http://127.0.0.1:8080/v1":       true,
		"http://localhost:9999":          true,
		"http://[::1]:9999":              true,
		"http://api.example.com/v1":      false,
		"http://10.0.0.5:8080":           false,
		"HTTP://gateway.example.com/x":   false,
		"http://127.0.0.1.nip.io:8080/v": false,
	} {
		_, _, err := ParseAPIBase(raw, "")
		if (err == nil) != ok {
			t.Errorf("ParseAPIBase(%q): err = %v, want ok=%v", raw, err, ok)
		}
		if err != nil && !ok && !strings.Contains(err.Error(), "cleartext") {
			t.Errorf("ParseAPIBase(%q): %v, want it to say why (cleartext)", raw, err)
		}
	}
}
