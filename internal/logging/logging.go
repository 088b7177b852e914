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
	"sync/atomic"
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

// Control changes the levels of a logger made by New, for a reload.
type Control struct {
	levels *atomic.Pointer[Levels] // shared with every handler of the logger
	floor  *slog.LevelVar          // the lowest level of levels, for the inner handler
}

// SetLevels replaces the levels of the logger and of every logger derived
// from it.
func (c *Control) SetLevels(lv Levels) {
	c.levels.Store(&lv)
	c.floor.Set(lv.floor())
}

// floor is the lowest of the default and the components' levels.
func (lv Levels) floor() slog.Level {
	min := lv.Default
	for _, l := range lv.Parts {
		min = Min(min, l)
	}
	return min
}

// New returns a logger writing to w in format "text" or "json", and the
// control of its levels.
func New(w io.Writer, format string, lv Levels) (*slog.Logger, *Control, error) {
	c := &Control{levels: &atomic.Pointer[Levels]{}, floor: &slog.LevelVar{}}
	c.SetLevels(lv)
	opts := &slog.HandlerOptions{Level: c.floor}
	var h slog.Handler
	switch format {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, nil, fmt.Errorf("log format %q: want text or json", format)
	}
	return slog.New(&partHandler{next: h, levels: c.levels}), c, nil
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
	levels *atomic.Pointer[Levels] // shared; swapped by Control.SetLevels
	names  []string                // components named by its attributes, outermost first
}

func (h *partHandler) Enabled(ctx context.Context, l slog.Level) bool {
	lv := h.levels.Load()
	level := lv.Default
	for _, name := range h.names {
		if pl, ok := lv.Parts[name]; ok {
			level = pl
		}
	}
	return l >= level && h.next.Enabled(ctx, l)
}

func (h *partHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

func (h *partHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	names := h.names
	for _, a := range attrs {
		switch a.Key {
		case "part":
			names = append(names[:len(names):len(names)], a.Value.String())
		case "pion":
			names = append(names[:len(names):len(names)], "pion")
		}
	}
	return &partHandler{next: h.next.WithAttrs(attrs), levels: h.levels, names: names}
}

func (h *partHandler) WithGroup(name string) slog.Handler {
	return &partHandler{next: h.next.WithGroup(name), levels: h.levels, names: h.names}
}
