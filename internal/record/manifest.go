package record

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"
)

// Manifest describes one recording: manifest.json in its folder. Every
// time is in milliseconds from Started, the one clock of the recording.
type Manifest struct {
	ID      string    `json:"id"`
	Room    string    `json:"room"`
	State   string    `json:"state"`            // StateRecording, StateStopped, StateFailed
	Reason  string    `json:"reason,omitempty"` // why it ended: "stopped", "disk full", "room ended", ...
	By      string    `json:"by,omitempty"`     // who started it: "admin API", or an occupant's nick
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// Participants are the room's occupants while it was recorded.
	Participants []Participant `json:"participants"`
	Tracks       []TrackInfo   `json:"tracks"`
	// Composite is the file made from the tracks, "" until made.
	Composite string `json:"composite,omitempty"`
}

// Recording states.
const (
	StateRecording = "recording"
	StateStopped   = "stopped"
	StateFailed    = "failed"
)

// Participant is one occupant of the recorded room.
type Participant struct {
	Nick     string `json:"nick"`
	JoinedMS int64  `json:"joined_ms"`          // 0 if there when the recording started
	LeftMS   int64  `json:"left_ms,omitempty"`  // 0 if still there at the end
	Recorder bool   `json:"recorder,omitempty"` // the recorder itself
}

// TrackInfo is one recorded track: a file of the recording's folder.
type TrackInfo struct {
	File    string `json:"file"`
	Nick    string `json:"nick"`   // the publisher
	Source  string `json:"source"` // "audio", "video" (camera) or "screen"
	Kind    string `json:"kind"`   // "audio" or "video"
	Codec   string `json:"codec"`  // "audio/opus", "video/VP8", ...
	StartMS int64  `json:"start_ms"`
	// DurationMS is the file's media time; EndMS is StartMS plus it.
	DurationMS int64 `json:"duration_ms"`
	EndMS      int64 `json:"end_ms"`
	Frames     int64 `json:"frames"` // Opus packets or video frames written
	// Silence is the 20 ms silent frames written for lost audio and gaps;
	// Dropped the video frames left out (incomplete after loss, or before
	// a keyframe).
	Silence int64 `json:"silence,omitempty"`
	Dropped int64 `json:"dropped,omitempty"`
	Bytes   int64 `json:"bytes"`
	Width   int   `json:"width,omitempty"` // the first keyframe's picture size
	Height  int   `json:"height,omitempty"`
	// Resizes are later changes of size (a simulcast layer switch, a
	// camera change); the file holds them, players follow.
	Resizes []Resize `json:"resizes,omitempty"`
	// Gaps are the stretches when nothing arrived (a mute, a camera off,
	// the publisher's network), in the recording's time.
	Gaps  []Gap  `json:"gaps,omitempty"`
	Ended bool   `json:"ended"`           // the track is finished (its publisher left or the recording ended)
	Error string `json:"error,omitempty"` // why the track ended early
}

// Gap is a stretch of a track with no media.
type Gap struct {
	FromMS int64 `json:"from_ms"`
	ToMS   int64 `json:"to_ms"`
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, err
	}
	return m, nil
}

// ManifestFile is the manifest's name in a recording's folder.
const ManifestFile = "manifest.json"

// write replaces dir/manifest.json atomically.
func (m *Manifest) write(dir string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".manifest.json.tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o640); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, ManifestFile))
}
