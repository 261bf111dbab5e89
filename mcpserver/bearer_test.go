package mcpserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	h := requireBearer(token, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for header, want := range map[string]int{
		"Bearer " + token:       http.StatusNoContent,
		"bearer " + token:       http.StatusNoContent,
		"BEARER " + token:       http.StatusNoContent,
		"  Bearer  " + token:    http.StatusNoContent,
		"Basic " + token:        http.StatusUnauthorized,
		"Bearer" + token:        http.StatusUnauthorized,
		token:                   http.StatusUnauthorized,
		"Bearer " + token + "x": http.StatusUnauthorized,
		"":                      http.StatusUnauthorized,
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/mcp", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Authorization %q: %d, want %d", header, rec.Code, want)
		}
	}
}
