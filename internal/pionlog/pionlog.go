// Package pionlog routes the logging of Pion's libraries (webrtc, ice,
// dtls, turn) into log/slog, with a mapping of levels chosen by the caller.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Levels maps each Pion level to the slog level it is logged at.
type Levels struct {
	Trace, Debug, Info, Warn, Error slog.Level
}

// Routine demotes Pion's trace, debug and info output to Debug (Pion is
// chatty about routine ICE and DTLS steps) and keeps warnings and errors.
func Routine() Levels {
	return Levels{Trace: slog.LevelDebug, Debug: slog.LevelDebug, Info: slog.LevelDebug,
		Warn: slog.LevelWarn, Error: slog.LevelError}
}

// Untrusted also demotes warnings to Debug and errors to Warn: for a
// library that logs every refused request, which a client can provoke at will.
func Untrusted() Levels {
	return Levels{Trace: slog.LevelDebug, Debug: slog.LevelDebug, Info: slog.LevelDebug,
		Warn: slog.LevelDebug, Error: slog.LevelWarn}
}

// Factory implements logging.LoggerFactory.
type Factory struct {
	Log    *slog.Logger // required
	Levels Levels
}

// NewLogger returns a logger for one Pion scope ("ice", "dtls", ...).
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{log: f.Log.With("pion", scope), lv: f.Levels}
}

// logger implements logging.LeveledLogger over slog.
type logger struct {
	log *slog.Logger // never nil; set at construction
	lv  Levels
}

func (l logger) emit(level slog.Level, msg string) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, msg)
	}
}

func (l logger) emitf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l logger) Trace(msg string)                  { l.emit(l.lv.Trace, msg) }
func (l logger) Tracef(format string, args ...any) { l.emitf(l.lv.Trace, format, args...) }
func (l logger) Debug(msg string)                  { l.emit(l.lv.Debug, msg) }
func (l logger) Debugf(format string, args ...any) { l.emitf(l.lv.Debug, format, args...) }
func (l logger) Info(msg string)                   { l.emit(l.lv.Info, msg) }
func (l logger) Infof(format string, args ...any)  { l.emitf(l.lv.Info, format, args...) }
func (l logger) Warn(msg string)                   { l.emit(l.lv.Warn, msg) }
func (l logger) Warnf(format string, args ...any)  { l.emitf(l.lv.Warn, format, args...) }
func (l logger) Error(msg string)                  { l.emit(l.lv.Error, msg) }
func (l logger) Errorf(format string, args ...any) { l.emitf(l.lv.Error, format, args...) }
