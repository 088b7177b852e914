package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLevelsPerComponent(t *testing.T) {
	lv, err := ParseLevels("warn, sfu=debug ,pion=error")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log, ctl, err := New(&buf, "text", lv)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("default info: dropped")
	log.Warn("default warn: kept")
	sfu := log.With("part", "sfu")
	sfu.Debug("sfu debug: kept")
	pion := sfu.With("pion", "ice")
	pion.Warn("pion warn: dropped")
	pion.Error("pion error: kept")
	log.With("part", "muc").Info("muc info: dropped")
	out := buf.String()
	for _, s := range []string{"default warn: kept", "sfu debug: kept", "pion error: kept"} {
		if !strings.Contains(out, s) {
			t.Errorf("missing %q in\n%s", s, out)
		}
	}
	if strings.Contains(out, "dropped") {
		t.Errorf("a line that should be filtered was logged:\n%s", out)
	}
	// A reload changes the levels of loggers derived before it.
	buf.Reset()
	ctl.SetLevels(Levels{Default: slog.LevelError, Parts: map[string]slog.Level{"muc": slog.LevelDebug}})
	sfu.Warn("sfu warn after reload: dropped")
	log.With("part", "muc").Debug("muc debug after reload: kept")
	if out := buf.String(); strings.Contains(out, "dropped") || !strings.Contains(out, "muc debug after reload: kept") {
		t.Errorf("after SetLevels:\n%s", out)
	}
}

func TestJSONAndErrors(t *testing.T) {
	var buf bytes.Buffer
	log, _, err := New(&buf, "json", Levels{Default: slog.LevelInfo})
	if err != nil {
		t.Fatal(err)
	}
	log.With("part", "focus").Info("conference started", "room", "r1")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["part"] != "focus" || m["room"] != "r1" {
		t.Fatalf("json line %q: %v", buf.String(), err)
	}
	if _, err := ParseLevels("info,sfu=loud"); err == nil {
		t.Error("a bad level was accepted")
	}
	if _, _, err := New(&buf, "xml", Levels{}); err == nil {
		t.Error("a bad format was accepted")
	}
}
