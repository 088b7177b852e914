package record

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The helpers the tests of this package and of record_test share.
var (
	NeedFFmpeg = needFFmpeg
	Probe      = probe
	Decodes    = decodes
)

func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, p := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is needed (apt-get install ffmpeg): %v", p, err)
		}
	}
}

// probe returns the duration ffprobe reads in a file, and its streams' codecs.
func probe(t *testing.T, path string) (time.Duration, []string) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name,width,height",
		"-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var res struct {
		Format  struct{ Duration string }
		Streams []struct {
			CodecName string `json:"codec_name"`
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe %s: %v: %s", path, err, out)
	}
	sec, err := strconv.ParseFloat(res.Format.Duration, 64)
	if err != nil {
		t.Fatalf("ffprobe %s: no duration: %s", path, out)
	}
	var codecs []string
	for _, s := range res.Streams {
		codecs = append(codecs, s.CodecName)
	}
	return time.Duration(sec * float64(time.Second)), codecs
}

// decodes checks that ffmpeg decodes a file end to end without an error.
func decodes(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("ffmpeg decoding %s: %v: %s", path, err, out)
	}
}

// H264Frames is x264 split into frames, for the tests outside the package.
func H264Frames(t *testing.T, size string, seconds int) [][]byte {
	return accessUnits(x264(t, size, "baseline", seconds))
}
