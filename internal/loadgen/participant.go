package loadgen

import (
	"context"
	"fmt"
	"time"

	"parley.dev/parley/sdk"
)

// participant is one simulated person in one room.
type participant struct {
	room string // room name
	nick string
	idx  int // its index within the room

	// Set by the goroutine that joins it, read after the join phase; before
	// and frames are set by measure, at the window's start.
	client    *sdk.Client              // its connection, maybe shared with other rooms
	seat      *sdk.Room                // nil if the join failed
	connectMS float64                  // -1 when the connection is shared and was made elsewhere
	joinMS    float64                  // presence sent to room entered
	joinedAt  time.Time                // when the join returned
	mediaMS   float64                  // its room's last join to receiving every other participant; -1 until then
	err       error                    // why it is not in the room
	before    map[sdk.Track]count      // track counters at the start of the window
	video     *videoClocks             // frames of the videos it receives; nil without media
	frames    map[sdk.Track]frameCount // video frame counts at the start of the window
}

// count is a track's counters at one moment.
type count struct {
	expected, packets, bytes int64
	ended                    bool
}

// snapshot reads the counters of every track the participant receives.
func (p *participant) snapshot() map[sdk.Track]count {
	out := map[sdk.Track]count{}
	if p.seat == nil {
		return out
	}
	for _, t := range p.seat.Tracks() {
		st := t.Stats()
		out[t] = count{expected: st.Expected, packets: st.Packets, bytes: st.Bytes, ended: t.Ended()}
	}
	return out
}

// missing says which of the others' tracks the participant does not
// receive, or "" when it receives them all: their audio, and the video of
// all of them, or of at least lastN of them when lastN is above 0.
func (p *participant) missing(others []*participant, lastN int) string {
	live := map[string]bool{}
	for _, t := range p.seat.Tracks() {
		if !t.Ended() && t.Stats().Packets > 0 {
			live[t.Owner()+"/"+t.Kind()] = true
		}
	}
	videos, want, noVideo := 0, 0, ""
	for _, o := range others {
		if o == p || o.seat == nil {
			continue
		}
		if !live[o.nick+"/audio"] {
			return fmt.Sprintf("%s in %s receives no audio from %s", p.nick, p.room, o.nick)
		}
		want++
		if live[o.nick+"/video"] {
			videos++
		} else if noVideo == "" {
			noVideo = o.nick
		}
	}
	if lastN > 0 {
		want = min(want, lastN)
	}
	if videos < want {
		return fmt.Sprintf("%s in %s receives video from %d of the %d others it should (none from %s)",
			p.nick, p.room, videos, want, noVideo)
	}
	return ""
}

// join connects (unless the connection is shared) and enters the room.
func (p *participant) join(ctx context.Context, cfg sdk.Config, media *sdk.Media, share *sdk.Client) {
	if share != nil {
		p.client, p.connectMS = share, -1
	} else {
		start := time.Now()
		c, err := sdk.Connect(ctx, cfg)
		if err != nil {
			p.err = fmt.Errorf("%s connecting: %w", p.nick, err)
			return
		}
		p.client, p.connectMS = c, ms(time.Since(start))
	}
	rc := sdk.RoomConfig{Room: p.room, Nick: p.nick}
	if media != nil {
		p.video = newVideoClocks()
		media.OnRTP = p.video.onRTP
		rc.Media = media
	}
	start := time.Now()
	seat, err := p.client.Join(ctx, rc)
	if err != nil {
		p.err = fmt.Errorf("%s joining %s: %w", p.nick, p.room, err)
		return
	}
	p.seat, p.joinMS, p.joinedAt, p.mediaMS = seat, ms(time.Since(start)), time.Now(), -1
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// awaitMedia waits until the participant's media is connected, or for
// at most limit, or until ctx ends or it is not in its room.
func (p *participant) awaitMedia(ctx context.Context, limit time.Duration) {
	if p.seat == nil {
		return
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-p.seat.MediaConnected():
	case <-p.seat.Done():
	case <-t.C:
	case <-ctx.Done():
	}
}
