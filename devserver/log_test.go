package devserver

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"go.temporal.io/server/common/log/tag"
)

func TestServerLoggerDropsNoiseAndKeepsRealWarnings(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		kept bool
	}{
		{"GetHistory page size is larger than threshold", false},
		{"HTTP API port has not been set. The HTTP API will be disabled.", false},
		{"Persistence failure: database is locked", true},
		{"history page size note", true},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			var buf bytes.Buffer
			level := &slog.LevelVar{}
			level.Set(slog.LevelWarn)
			l := newServerLogger(slog.New(slog.NewTextHandler(&buf, nil)), level)
			l.Warn(tc.msg, tag.WorkflowID("job-1"))
			if got := strings.Contains(buf.String(), tc.msg); got != tc.kept {
				t.Fatalf("logged %v, want %v; output %q", got, tc.kept, buf.String())
			}
		})
	}
}
