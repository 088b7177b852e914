package main

import (
	"fmt"
	"testing"

	"parley.dev/parley/internal/mediapeer"
)

// TestVoiceSpeaksOnCommand: a quiet voice sends 3-byte Opus silence frames
// (mediapeer marks them silence), a speaking one the tone, at the tone's
// pace either way; speak and quiet reach only the named peer with audio.
func TestVoiceSpeaksOnCommand(t *testing.T) {
	quiet := &voice{tone: mediapeer.SyntheticAudio()}
	loud := &voice{tone: mediapeer.SyntheticAudio()}
	loud.speaking.Store(true)
	peers := []*peer{{nick: "p1", voice: quiet}, {nick: "p2", voice: loud}, {nick: "p3"}}
	frames := func(v *voice) (sizes []int) {
		for range 5 {
			f, err := v.Next()
			if err != nil {
				t.Fatal(err)
			}
			if f.Duration <= 0 {
				t.Fatalf("frame of %v", f.Duration)
			}
			sizes = append(sizes, len(f.Data))
		}
		return sizes
	}
	for _, n := range frames(quiet) {
		if n != 3 {
			t.Fatalf("a quiet voice sent a frame of %d bytes", n)
		}
	}
	for _, n := range frames(loud) {
		if n <= 3 {
			t.Fatalf("a speaking voice sent a frame of %d bytes", n)
		}
	}

	for _, c := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"speak", "p1"}, "map[ok:true]"},
		{[]string{"quiet", "p2"}, "map[ok:true]"},
		{[]string{"speak", "p3"}, "map[error:no peer with audio named p3]"},
		{[]string{"speak", "p9"}, "map[error:no peer with audio named p9]"},
		{[]string{"shout", "p1"}, `map[error:unknown command "shout p1"]`},
	} {
		if got := fmt.Sprint(answer(peers, c.cmd)); got != c.want {
			t.Errorf("%v: got %s, want %s", c.cmd, got, c.want)
		}
	}
	if !quiet.speaking.Load() || loud.speaking.Load() {
		t.Fatal("speak p1 / quiet p2 did not take")
	}
	for _, n := range frames(quiet) {
		if n <= 3 {
			t.Fatalf("p1, told to speak, sent a frame of %d bytes", n)
		}
	}
}
