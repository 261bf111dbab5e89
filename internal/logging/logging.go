// Package logging builds the service's slog loggers and holds the one
// level filter every noisy dependency (Temporal server, Temporal SDK) is
// passed through.
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

// New builds the service logger: text for people, JSON for machines. level
// is debug, info, warn or error; anything else means info.
func New(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// AtLeast returns l filtered to min and above, whatever level l's own handler
// accepts. min may be a *slog.LevelVar, so the floor can change later.
func AtLeast(l *slog.Logger, min slog.Leveler) *slog.Logger {
	return slog.New(MinLevel(l.Handler(), min))
}

// MinLevel drops records below min before they reach h.
func MinLevel(h slog.Handler, min slog.Leveler) slog.Handler {
	return minLevel{inner: h, min: min}
}

type minLevel struct {
	inner slog.Handler
	min   slog.Leveler
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min.Level() && h.inner.Enabled(ctx, l)
}

func (h minLevel) Handle(ctx context.Context, r slog.Record) error { return h.inner.Handle(ctx, r) }

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{inner: h.inner.WithAttrs(attrs), min: h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{inner: h.inner.WithGroup(name), min: h.min}
}
