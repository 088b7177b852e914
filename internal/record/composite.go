package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/stanza"
)

// CompositeConfig configures Composite and Stream.
type CompositeConfig struct {
	// FFmpeg is the ffmpeg program. Default "ffmpeg" (Debian's).
	FFmpeg string
	// Width and Height are the picture's size. Default 1280x720.
	Width, Height int
	// FPS is the frame rate. Default 25.
	FPS int
	// Font is the fontconfig name of the names' font. Default "DejaVu Sans".
	Font string
	// Logger receives the logs. Default slog.Default().
	Logger *slog.Logger
}

func (c *CompositeConfig) defaults() {
	if c.FFmpeg == "" {
		c.FFmpeg = "ffmpeg"
	}
	if c.Width == 0 || c.Height == 0 {
		c.Width, c.Height = 1280, 720
	}
	if c.FPS == 0 {
		c.FPS = 25
	}
	if c.Font == "" {
		c.Font = "DejaVu Sans"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// CompositeFile is the composite's name in a recording's folder.
const CompositeFile = "composite.mp4"

// Composite makes one file of a finished recording in dir: a grid of the
// participants' cameras and screens, each with its publisher's name, on
// the recording's clock (the manifest's start offsets), and every audio
// track mixed: MP4, H.264 and AAC, dir/composite.mp4. The manifest then
// names it.
func Composite(ctx context.Context, dir string, cfg CompositeConfig) (string, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return "", err
	}
	if m.State == StateRecording {
		return "", ErrRunning
	}
	out := filepath.Join(dir, CompositeFile)
	tmp := filepath.Join(dir, ".composite.tmp.mp4")
	if err := runComposite(ctx, m, dir, cfg, []string{"-c:v", "libx264", "-preset", "veryfast", "-crf", "26",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", "-f", "mp4", tmp}, nil); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	m.Composite = CompositeFile
	return out, m.write(dir)
}

// ErrStreamURL is returned for a stream URL that is not rtmp://,
// rtmps:// or srt://.
var ErrStreamURL = &Error{"the stream URL must be rtmp://, rtmps:// or srt://", stanza.BadRequest, 400}

// CheckStreamURL accepts the live streaming URLs ffmpeg pushes to.
func CheckStreamURL(url string) error {
	for _, p := range []string{"rtmp://", "rtmps://", "srt://"} {
		if strings.HasPrefix(url, p) && len(url) > len(p) {
			return nil
		}
	}
	return ErrStreamURL
}

// Stream pushes the composite of a running recording live to url
// (rtmp://, rtmps://; srt:// if ffmpeg has it): ffmpeg follows the track
// files as the recorder writes them, at their pace, and ends a few seconds
// after the recording. The grid holds the tracks that have started when
// the stream starts (it waits up to wait for each to have media); the
// recording itself, and its composite, hold everyone.
func Stream(ctx context.Context, rec *Recorder, url string, wait time.Duration, cfg CompositeConfig) error {
	if err := CheckStreamURL(url); err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	var m Manifest
	for {
		m = rec.Manifest()
		ready := len(m.Tracks) > 0
		for _, t := range m.Tracks {
			ready = ready && (t.Frames > 0 || t.Ended)
		}
		if ready || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-rec.Done():
			return errors.New("record: the recording ended before the stream started")
		case <-time.After(200 * time.Millisecond):
		}
	}
	live := m.Tracks[:0]
	for _, t := range m.Tracks {
		if t.Frames > 0 && !t.Ended {
			live = append(live, t)
		}
	}
	m.Tracks = live
	format := "flv"
	if strings.HasPrefix(url, "srt://") {
		format = "mpegts"
	}
	// ffmpeg reads each file from its start at its pace: the stream runs
	// this far behind the call, and is stopped this long after it.
	lag := time.Since(rec.start)
	return runComposite(ctx, &m, rec.cfg.Dir, cfg, []string{"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
		"-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-f", format, url},
		&liveEnd{ended: rec.Done(), lag: lag + 4*time.Second})
}

// liveEnd says when a live composite ends: lag after ended is closed,
// ffmpeg is asked to stop (SIGINT: it finishes its output cleanly).
type liveEnd struct {
	ended <-chan struct{}
	lag   time.Duration
}

// runComposite runs ffmpeg with the composite's filter graph and the
// given output arguments; live follows files being written.
func runComposite(ctx context.Context, m *Manifest, dir string, cfg CompositeConfig, output []string, end *liveEnd) error {
	live := end != nil
	cfg.defaults()
	work, err := os.MkdirTemp("", "parley-composite-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	inputs, graph, err := compositeGraph(m, dir, work, cfg, live)
	if err != nil {
		return err
	}
	script := filepath.Join(work, "graph.txt")
	if err := os.WriteFile(script, []byte(graph), 0o600); err != nil {
		return err
	}
	args := []string{"-nostdin", "-hide_banner", "-v", "error", "-y"}
	for _, in := range inputs {
		if live {
			// Files the recorder is writing: read at their pace, never
			// seek (demuxers look for the end), wait at their end, and
			// take 3 s without growth for the end of that track (so a
			// camera turned off leaves the live grid).
			args = append(args, "-re", "-thread_queue_size", "512", "-follow", "1", "-seekable", "0", "-rw_timeout", "3000000", "-i", "file:"+in)
			continue
		}
		args = append(args, "-i", in)
	}
	args = append(args, "-filter_complex_script", script, "-map", "[vout]", "-map", "[aout]", "-r", fmt.Sprint(cfg.FPS))
	args = append(args, output...)
	cmd := exec.CommandContext(ctx, cfg.FFmpeg, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cfg.Logger.Info("composite: running ffmpeg", "room", m.Room, "recording", m.ID, "inputs", len(inputs), "live", live)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("record: ffmpeg: %w", err)
	}
	done := make(chan struct{})
	var interrupted atomic.Bool
	if live {
		go func() {
			select {
			case <-end.ended:
			case <-done:
				return
			}
			select {
			case <-time.After(end.lag):
				interrupted.Store(true)
				cmd.Process.Signal(os.Interrupt)
			case <-done:
			}
		}()
	}
	err = cmd.Wait()
	close(done)
	cfg.Logger.Debug("composite: ffmpeg ended", "err", err, "interrupted", interrupted.Load(), "stderr", lastLines(stderr.String(), 8))
	if err != nil && !(interrupted.Load() && ctx.Err() == nil) {
		return fmt.Errorf("record: ffmpeg: %w: %s", err, strings.TrimSpace(lastLines(stderr.String(), 5)))
	}
	return nil
}

// tile is one place of the grid: a participant's camera, or screen.
type tile struct {
	label  string
	tracks []TrackInfo // its video tracks, one after another in time
}

// compositeGraph returns ffmpeg's inputs and the filter graph: a black
// canvas as long as the recording, each video track scaled into its tile
// from its start offset, the names drawn on top; the audio tracks delayed
// to their offsets and mixed.
func compositeGraph(m *Manifest, dir, work string, cfg CompositeConfig, live bool) ([]string, string, error) {
	var tiles []*tile
	byKey := map[string]*tile{}
	var audio []TrackInfo
	var end int64
	// Tiles in the order people joined, then cameras before screens.
	joined := map[string]int{}
	for i, p := range m.Participants {
		if _, ok := joined[p.Nick]; !ok {
			joined[p.Nick] = i
		}
	}
	order := func(t TrackInfo) int {
		i, ok := joined[t.Nick]
		if !ok {
			i = len(m.Participants)
		}
		if t.Source == "screen" {
			i += len(m.Participants) + 1
		}
		return i
	}
	tracks := append([]TrackInfo(nil), m.Tracks...)
	sort.SliceStable(tracks, func(i, j int) bool {
		if oi, oj := order(tracks[i]), order(tracks[j]); oi != oj {
			return oi < oj
		}
		return tracks[i].StartMS < tracks[j].StartMS
	})
	for _, t := range tracks {
		if t.Error != "" && t.Frames == 0 || t.DurationMS <= 0 {
			continue
		}
		end = max(end, t.EndMS)
		if t.Kind == "audio" {
			audio = append(audio, t)
			continue
		}
		key, label := t.Nick+"/"+t.Source, t.Nick
		if t.Source == "screen" {
			label += " (screen)"
		}
		tl := byKey[key]
		if tl == nil {
			tl = &tile{label: label}
			byKey[key] = tl
			tiles = append(tiles, tl)
		}
		tl.tracks = append(tl.tracks, t)
	}
	if len(tiles) == 0 && len(audio) == 0 {
		return nil, "", errors.New("record: nothing to composite: no track has media")
	}
	cols := max(1, int(math.Ceil(math.Sqrt(float64(len(tiles))))))
	rows := max(1, (len(tiles)+cols-1)/cols)
	tw, th := cfg.Width/cols&^1, cfg.Height/rows&^1
	var inputs []string
	var g strings.Builder
	canvas := fmt.Sprintf(":d=%.3f", float64(end)/1000)
	if live {
		canvas = "" // until the audio ends (-shortest)
	}
	fmt.Fprintf(&g, "color=c=black:s=%dx%d:r=%d%s[base0];\n", cfg.Width, cfg.Height, cfg.FPS, canvas)
	layer := 0
	for i, tl := range tiles {
		x, y := (i%cols)*tw, (i/cols)*th
		for _, t := range tl.tracks {
			n := len(inputs)
			inputs = append(inputs, filepath.Join(dir, t.File))
			fmt.Fprintf(&g, "[%d:v]setpts=PTS-STARTPTS+%.3f/TB,scale=%d:%d:force_original_aspect_ratio=decrease,"+
				"pad=%d:%d:(ow-iw)/2:(oh-ih)/2[v%d];\n", n, float64(t.StartMS)/1000, tw, th, tw, th, n)
			fmt.Fprintf(&g, "[base%d][v%d]overlay=x=%d:y=%d:eof_action=pass[base%d];\n", layer, n, x, y, layer+1)
			layer++
		}
	}
	last := fmt.Sprintf("base%d", layer)
	for i, tl := range tiles {
		name := filepath.Join(work, fmt.Sprintf("name%d.txt", i))
		if err := os.WriteFile(name, []byte(tl.label), 0o600); err != nil {
			return nil, "", err
		}
		x, y := (i%cols)*tw, (i/cols)*th
		fmt.Fprintf(&g, "[%s]drawtext=font='%s':textfile='%s':fontsize=%d:fontcolor=white:box=1:boxcolor=black@0.6:"+
			"boxborderw=6:x=%d+12:y=%d+%d-text_h-12[n%d];\n", last, cfg.Font, filterEscape(name), max(14, th/18), x, y, th, i)
		last = fmt.Sprintf("n%d", i)
	}
	fmt.Fprintf(&g, "[%s]null[vout];\n", last)
	if len(audio) == 0 {
		fmt.Fprintf(&g, "anullsrc=r=48000:cl=stereo:d=%.3f[aout]\n", float64(end)/1000)
		return inputs, g.String(), nil
	}
	var mix strings.Builder
	for _, t := range audio {
		n := len(inputs)
		inputs = append(inputs, filepath.Join(dir, t.File))
		fmt.Fprintf(&g, "[%d:a]aresample=48000,asetpts=PTS-STARTPTS,adelay=%d:all=1[a%d];\n", n, t.StartMS, n)
		fmt.Fprintf(&mix, "[a%d]", n)
	}
	pad := fmt.Sprintf(",apad=whole_dur=%.3f", float64(end)/1000)
	if live {
		pad = ""
	}
	fmt.Fprintf(&g, "%samix=inputs=%d:duration=longest:normalize=0%s[aout]\n", mix.String(), len(audio), pad)
	return inputs, g.String(), nil
}

// filterEscape quotes a path for a filter graph option in '...'.
func filterEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `'\''`, `:`, `\:`).Replace(s)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
