package devserver

import (
	"context"
	"log/slog"
	"strings"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"

	"github.com/imagegen/imagegen/internal/logging"
)

// serverLogger adapts Temporal's tag-based logger to slog. The server logs
// hundreds of info lines at start and on every shard movement, so everything
// below the level held in min is dropped: `imagegen dev` stays readable and
// the warnings that matter still show.
type serverLogger struct {
	log *slog.Logger // already filtered by min
	min *slog.LevelVar
}

var (
	_ log.Logger      = serverLogger{}
	_ log.SLogWrapper = serverLogger{}
)

// newServerLogger returns a Temporal logger writing to l at min level and
// above; a nil l discards everything.
func newServerLogger(l *slog.Logger, min *slog.LevelVar) log.Logger {
	if l == nil {
		return log.NewNoopLogger()
	}
	return serverLogger{log: logging.AtLeast(l, min), min: min}
}

func (s serverLogger) Debug(msg string, tags ...tag.Tag) { s.emit(slog.LevelDebug, msg, tags) }
func (s serverLogger) Info(msg string, tags ...tag.Tag)  { s.emit(slog.LevelInfo, msg, tags) }
func (s serverLogger) Warn(msg string, tags ...tag.Tag)  { s.emit(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }

// DPanic, Panic and Fatal are logged as errors: an embedded server must never
// take the host process down through its logger.
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }
func (s serverLogger) Panic(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }
func (s serverLogger) Fatal(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }

// SLog lets server components that log through slog directly (log.NewSlogLogger)
// reach the same filtered destination instead of bypassing the level.
func (s serverLogger) SLog() *slog.Logger { return s.log }

// noise lists server warnings that say nothing an operator of the embedded
// server can act on, by prefix:
//   - the HTTP API is deliberately off, and every start says so;
//   - the Web UI asks for history pages larger than the server's fixed
//     threshold whenever someone opens a job page; the server just serves a
//     smaller page (the threshold is a constant, not dynamic config).
var noise = []string{
	"HTTP API port has not been set.",
	"GetHistory page size is larger than threshold",
}

func isNoise(msg string) bool {
	for _, prefix := range noise {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

func (s serverLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if !s.log.Enabled(ctx, level) || isNoise(msg) {
		return
	}
	attrs := make([]slog.Attr, 0, len(tags)+1)
	attrs = append(attrs, slog.String("component", "temporal"))
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	s.log.LogAttrs(ctx, level, msg, attrs...)
}
