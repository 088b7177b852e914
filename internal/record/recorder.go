package record

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

// NS is the namespace of recording in presence and requests
// (docs/SIGNALLING.md §14): a recorder's presence carries
// <recording xmlns=NS id=ID/>, and <record xmlns=NS action="start|stop"/>
// asks the room to start or stop one.
const NS = "urn:parley:record:0"

// Config configures a Recorder.
type Config struct {
	// Client is the recorder's logged-in XMPP connection; the Recorder
	// closes it when it ends. Required.
	Client *xmppclient.Client
	// Room is the bare room JID. Required.
	Room jid.JID
	// Password is the room's password. Default none.
	Password string
	// Nick is the recorder's nick in the room. Default "recorder-" + ID.
	Nick string
	// ID names the recording. Required.
	ID string
	// Dir is the recording's folder, made if missing. Required.
	Dir string
	// By says who asked for the recording, for the manifest. Default "".
	By string
	// MinFree is the free space, in bytes, below which a recording does not
	// start and a running one ends cleanly. Default 256 MiB.
	MinFree int64
	// BindIP is the address of the media socket. Default 127.0.0.1.
	BindIP net.IP
	// Logger receives the logs. Default slog.Default().
	Logger *slog.Logger
}

// Recorder records one room until Stop, or until it is removed from the
// room, or the disk fills.
type Recorder struct {
	cfg   Config       // defaults applied; read-only
	log   *slog.Logger // read-only
	start time.Time    // the recording's clock origin; read-only
	done  chan struct{}

	mu       sync.Mutex
	man      Manifest                       // guarded by mu
	tracks   map[*mediapeer.Track]*trackRec // guarded by mu
	stopping bool                           // guarded by mu
	peer     *mediapeer.Peer                // set by Start; guarded by mu

	stopOnce sync.Once
}

// trackRec is one track being written. Its writer is used by the track's
// goroutine and, at the end, by Stop: mu orders them.
type trackRec struct {
	mu     sync.Mutex
	path   string      // read-only
	info   TrackInfo   // guarded by mu
	audio  *opusTrack  // guarded by mu; nil for video
	video  *videoTrack // guarded by mu; nil for audio
	closed bool        // guarded by mu
	// The track's clock: a packet with RTP timestamp ts is at
	// offset + (ts - firstTS)/rate on the recording's clock, offset being
	// the least arrival time minus media time over the packets: packets
	// that waited in a buffer (before the track was read, or behind a
	// stalled read) arrive late, never early.
	rate    int64         // RTP clock rate; read-only
	firstTS uint32        // guarded by mu
	lastTS  uint32        // guarded by mu
	extTS   int64         // lastTS extended, from firstTS; guarded by mu
	offset  time.Duration // guarded by mu
	lastAt  time.Duration // arrival of the latest packet; guarded by mu
}

// Start checks the disk, makes the folder, joins the room and records
// what arrives. It returns once the recorder is in the room.
func Start(ctx context.Context, cfg Config) (*Recorder, error) {
	if cfg.Client == nil || cfg.Room.IsZero() || cfg.ID == "" || cfg.Dir == "" {
		return nil, errors.New("record: Config needs Client, Room, ID and Dir")
	}
	if cfg.Nick == "" {
		cfg.Nick = "recorder-" + cfg.ID
	}
	if cfg.MinFree == 0 {
		cfg.MinFree = 256 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, err
	}
	if free, err := FreeSpace(cfg.Dir); err == nil && free < cfg.MinFree {
		return nil, fmt.Errorf("%w: %d MiB free in %s, %d MiB needed", ErrDiskFull, free>>20, cfg.Dir, cfg.MinFree>>20)
	}
	r := &Recorder{cfg: cfg, log: cfg.Logger.With("part", "record", "room", cfg.Room.String(), "recording", cfg.ID),
		start: time.Now(), done: make(chan struct{}), tracks: make(map[*mediapeer.Track]*trackRec)}
	r.man = Manifest{ID: cfg.ID, Room: cfg.Room.Local, State: StateRecording, By: cfg.By, Started: r.start,
		Participants: []Participant{}, Tracks: []TrackInfo{}}
	if err := r.man.write(cfg.Dir); err != nil {
		return nil, err
	}
	if err := writeReserve(cfg.Dir); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDiskFull, err)
	}
	conn, err := mediapeer.NewConn(mediapeer.ConnConfig{Client: cfg.Client, BindIP: cfg.BindIP, OnEvent: r.onEvent, Logger: r.log})
	if err != nil {
		return nil, err
	}
	stamp := xmlstream.New(NS, "recording", "id", cfg.ID)
	peer, err := conn.Join(ctx, mediapeer.RoomConfig{Room: cfg.Room, Nick: cfg.Nick, Password: cfg.Password,
		Media: true, OnRTP: r.onRTP, Presence: []*xmlstream.Element{stamp}})
	if err != nil {
		cfg.Client.Close()
		r.finish(StateFailed, err.Error(), time.Now())
		return nil, err
	}
	r.mu.Lock()
	r.peer = peer
	r.mu.Unlock()
	go r.watch(peer)
	r.log.Info("recording started", "dir", cfg.Dir, "by", cfg.By)
	return r, nil
}

// ID returns the recording's id.
func (r *Recorder) ID() string { return r.cfg.ID }

// Done is closed once the recording has ended and its files are complete.
func (r *Recorder) Done() <-chan struct{} { return r.done }

// Manifest returns the manifest as it stands.
func (r *Recorder) Manifest() Manifest {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.man
	m.Tracks = make([]TrackInfo, 0, len(r.tracks))
	for _, tr := range r.sortedTracks() {
		tr.mu.Lock()
		m.Tracks = append(m.Tracks, tr.snapshot())
		tr.mu.Unlock()
	}
	m.Participants = append([]Participant(nil), r.man.Participants...)
	return m
}

// Stop ends the recording: every file is finished (Cues, duration, Ogg
// end of stream), the manifest written, the room left.
func (r *Recorder) Stop(reason string) {
	r.stopOnce.Do(func() {
		// The recording ends now; leaving the room and closing the
		// connection after it (a second or two) is not part of it.
		at := time.Now()
		r.mu.Lock()
		r.stopping = true
		peer := r.peer
		r.mu.Unlock()
		if peer != nil {
			if reason != StateStopped && !strings.HasPrefix(reason, "left the room") {
				// Say why in the room, as the web client and the SDK show a
				// groupchat message: the recording did not just stop.
				if err := peer.Say("Recording stopped: " + reason); err != nil {
					r.log.Debug("recording: the reason was not said", "err", err)
				}
			}
			peer.Close()
		}
		r.cfg.Client.Close()
		state := StateStopped
		if reason == ErrDiskFull.Error() {
			state = StateFailed
		}
		r.finish(state, reason, at)
	})
}

// finish closes every track and writes the final manifest, ended at at.
func (r *Recorder) finish(state, reason string, at time.Time) {
	r.mu.Lock()
	r.stopping = true
	tracks := r.sortedTracks()
	r.mu.Unlock()
	// The room kept free for the end: the files' last pages and the
	// manifest are written even on a full disk.
	os.Remove(filepath.Join(r.cfg.Dir, reserveFile))
	for _, tr := range tracks {
		tr.close("")
	}
	r.mu.Lock()
	r.man.State, r.man.Reason, r.man.Ended = state, reason, at
	end := r.since(r.man.Ended)
	for i := range r.man.Participants {
		if r.man.Participants[i].LeftMS == 0 {
			r.man.Participants[i].LeftMS = end
		}
	}
	r.mu.Unlock()
	m := r.Manifest()
	if err := m.write(r.cfg.Dir); err != nil {
		r.log.Error("recording: manifest not written", "err", err)
	}
	r.log.Info("recording ended", "reason", reason, "tracks", len(m.Tracks))
	close(r.done)
}

// watch ends the recording when the recorder leaves the room or the disk
// runs low.
func (r *Recorder) watch(peer *mediapeer.Peer) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-peer.Ended():
			r.Stop("left the room: " + peer.EndReason())
			return
		case <-r.done:
			return
		case <-tick.C:
			if free, err := FreeSpace(r.cfg.Dir); err == nil && free < r.cfg.MinFree {
				r.log.Warn("recording: disk almost full, stopping", "free", free)
				go r.Stop(ErrDiskFull.Error())
				return
			}
		}
	}
}

func (r *Recorder) since(t time.Time) int64 { return t.Sub(r.start).Milliseconds() }

func (r *Recorder) onEvent(ev mediapeer.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.Kind {
	case mediapeer.EventJoined:
		p := Participant{Nick: ev.Occupant.Nick, Recorder: ev.Occupant.Self}
		if !ev.Existing && !ev.Occupant.Self {
			p.JoinedMS = r.since(time.Now())
		}
		r.man.Participants = append(r.man.Participants, p)
	case mediapeer.EventLeft:
		for i := range r.man.Participants {
			if p := &r.man.Participants[i]; p.Nick == ev.Occupant.Nick && p.LeftMS == 0 {
				p.LeftMS = max(r.since(time.Now()), 1)
			}
		}
	case mediapeer.EventTrackEnded:
		if tr := r.tracks[ev.Track]; tr != nil {
			go tr.close("")
		}
	}
}

// onRTP runs on each track's goroutine.
func (r *Recorder) onRTP(t *mediapeer.Track, pkt *rtp.Packet) {
	at := time.Since(r.start)
	r.mu.Lock()
	tr := r.tracks[t]
	if tr == nil && !r.stopping {
		tr = r.newTrack(t, at, pkt.Timestamp)
	}
	r.mu.Unlock()
	if tr == nil {
		return
	}
	tr.mu.Lock()
	err := tr.write(pkt, at)
	tr.mu.Unlock()
	if err != nil {
		r.log.Warn("recording: track ended on a write error", "file", tr.path, "err", err)
		tr.close(err.Error())
		if errors.Is(err, syscall.ENOSPC) {
			go r.Stop(ErrDiskFull.Error())
		}
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// newTrack opens the file of a track's first packet; r.mu is held.
func (r *Recorder) newTrack(t *mediapeer.Track, at time.Duration, ts uint32) *trackRec {
	nick := t.OwnerNick()
	name := unsafeName.ReplaceAllString(nick, "_")
	if len(name) > 32 {
		name = name[:32]
	}
	ext := ".webm"
	switch {
	case t.Kind == "audio":
		ext = ".ogg"
	case strings.EqualFold(t.MimeType, webrtc.MimeTypeH264):
		ext = ".mkv"
	}
	file := fmt.Sprintf("%02d-%s-%s%s", len(r.tracks)+1, name, t.Source, ext)
	rate := int64(videoRate)
	if t.Kind == "audio" {
		rate = opusRate
	}
	tr := &trackRec{path: filepath.Join(r.cfg.Dir, file), rate: rate, offset: at, firstTS: ts, lastTS: ts, lastAt: at,
		info: TrackInfo{File: file, Nick: nick, Source: t.Source, Kind: t.Kind, Codec: t.MimeType}}
	var err error
	if t.Kind == "audio" {
		tr.audio, err = newOpusTrack(tr.path)
	} else {
		tr.video, err = newVideoTrack(tr.path, t.MimeType, func() {
			if err := t.RequestKeyframe(); err != nil {
				r.log.Debug("recording: keyframe request failed", "err", err)
			}
		})
		if err == nil {
			t.RequestKeyframe()
		}
	}
	if err != nil {
		r.log.Warn("recording: track not recorded", "nick", nick, "source", t.Source, "codec", t.MimeType, "err", err)
		tr.info.Error, tr.closed, tr.info.Ended = err.Error(), true, true
	}
	r.tracks[t] = tr
	return tr
}

// sortedTracks returns the tracks in the order they started; r.mu is held.
func (r *Recorder) sortedTracks() []*trackRec {
	out := make([]*trackRec, 0, len(r.tracks))
	for _, tr := range r.tracks {
		out = append(out, tr)
	}
	for i := 1; i < len(out); i++ { // a few tracks: insertion sort by file name
		for j := i; j > 0 && out[j].info.File < out[j-1].info.File; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// write takes one packet that arrived at the given time; tr.mu is held.
func (tr *trackRec) write(pkt *rtp.Packet, at time.Duration) error {
	if tr.closed {
		return nil
	}
	if gap := at - tr.lastAt; gap >= audioGapMinimum {
		tr.info.Gaps = append(tr.info.Gaps, Gap{FromMS: tr.lastAt.Milliseconds(), ToMS: at.Milliseconds()})
	}
	tr.lastAt = at
	tr.extTS += int64(int32(pkt.Timestamp - tr.lastTS))
	tr.lastTS = pkt.Timestamp
	if off := at - time.Duration(tr.extTS)*time.Second/time.Duration(tr.rate); off < tr.offset {
		tr.offset = off
	}
	if tr.audio != nil {
		return tr.audio.push(pkt)
	}
	return tr.video.push(pkt)
}

// close finishes the file; reason, if any, says why it ended early.
func (tr *trackRec) close(reason string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed {
		return
	}
	tr.closed, tr.info.Ended = true, true
	if reason != "" {
		tr.info.Error = reason
	}
	var err error
	if tr.audio != nil {
		err = tr.audio.close()
	} else if tr.video != nil {
		err = tr.video.close()
	}
	if err != nil && tr.info.Error == "" {
		tr.info.Error = err.Error()
	}
	if tr.info.Error != "" && (tr.audio != nil || tr.video != nil) {
		if _, err := trimFile(tr.path, tr.audio != nil); err != nil && !errors.Is(err, os.ErrNotExist) {
			tr.info.Error += "; " + err.Error()
		}
	}
	tr.info.Bytes = fileSize(tr.path)
}

// snapshot returns the track's manifest entry; tr.mu is held.
func (tr *trackRec) snapshot() TrackInfo {
	in := tr.info
	in.Gaps = append([]Gap(nil), tr.info.Gaps...)
	switch {
	case tr.audio != nil:
		in.StartMS = tr.offset.Milliseconds()
		in.DurationMS = tr.audio.duration().Milliseconds()
		in.Frames, in.Silence = tr.audio.frames, tr.audio.silences
	case tr.video != nil:
		v := tr.video
		// The file starts at its first keyframe, which came after the
		// track's first packet by its RTP time.
		in.StartMS = (tr.offset + time.Duration(int32(v.ts0-tr.firstTS))*time.Second/videoRate).Milliseconds()
		in.DurationMS = v.duration().Milliseconds()
		in.Frames, in.Dropped = v.frames, v.dropped
		if len(v.resizes) > 0 || v.w != nil {
			in.Width, in.Height = v.firstWidth, v.firstHeight
		}
		in.Resizes = append([]Resize(nil), v.resizes...)
	}
	in.EndMS = in.StartMS + in.DurationMS
	if !tr.closed {
		in.Bytes = fileSize(tr.path)
	}
	return in
}

// reserveFile holds reserveBytes of the disk from a recording's start to
// its end, when it is removed to make room for the end of the files and
// the final manifest, so that a full disk still leaves a recording that
// plays and says why it ended.
const (
	reserveFile  = ".reserve"
	reserveBytes = 256 << 10
)

func writeReserve(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, reserveFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// Written, not a sparse file nor fallocate: tmpfs and every file
	// system hold written blocks.
	_, err = f.Write(make([]byte, reserveBytes))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(filepath.Join(dir, reserveFile))
	}
	return err
}

// FreeSpace returns the bytes free for an unprivileged user where dir is.
func FreeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
