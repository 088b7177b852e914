// Package logging builds parley's slog logger from its settings: text or
// JSON, and a level per component. A component is the "part" attribute that
// internal/app gives each part's logger (xmpp, muc, focus, sfu, turn,
// udpmux, tcpmux, acme...); Pion's libraries log with a "pion" attribute
// (ice, dtls, turn...) and are set with "pion" as the component.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Levels is a default level and levels per component.
type Levels struct {
	Default slog.Level
	Parts   map[string]slog.Level // by component; Pion's scopes all under "pion"
}

// ParseLevels reads "info" or "info,sfu=debug,pion=warn": a default level,
// then component=level pairs, in any order.
func ParseLevels(s string) (Levels, error) {
	lv := Levels{Default: slog.LevelInfo, Parts: map[string]slog.Level{}}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		part, level, found := strings.Cut(item, "=")
		if !found {
			level, part = part, ""
		}
		var l slog.Level
		if err := l.UnmarshalText([]byte(level)); err != nil {
			return lv, fmt.Errorf("%q: want debug, info, warn or error", level)
		}
		if part == "" {
			lv.Default = l
		} else {
			lv.Parts[part] = l
		}
	}
	return lv, nil
}

// New returns a logger writing to w in format "text" or "json".
func New(w io.Writer, format string, lv Levels) (*slog.Logger, error) {
	min := lv.Default
	for _, l := range lv.Parts {
		min = Min(min, l)
	}
	opts := &slog.HandlerOptions{Level: min}
	var h slog.Handler
	switch format {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
	return slog.New(&partHandler{next: h, levels: lv, level: lv.Default}), nil
}

// Min is the lower of two levels.
func Min(a, b slog.Level) slog.Level {
	if a < b {
		return a
	}
	return b
}

// partHandler filters by the level of the component its attributes name.
// Immutable: WithAttrs returns a new one.
type partHandler struct {
	next   slog.Handler
	levels Levels
	level  slog.Level // the level of the component named so far, else the default
}

func (h *partHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.next.Enabled(ctx, l)
}

func (h *partHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

func (h *partHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	level := h.level
	for _, a := range attrs {
		name := a.Key
		if name == "part" {
			name = a.Value.String()
		} else if name != "pion" {
			continue
		}
		if l, ok := h.levels.Parts[name]; ok {
			level = l
		}
	}
	return &partHandler{next: h.next.WithAttrs(attrs), levels: h.levels, level: level}
}

func (h *partHandler) WithGroup(name string) slog.Handler {
	return &partHandler{next: h.next.WithGroup(name), levels: h.levels, level: h.level}
}
