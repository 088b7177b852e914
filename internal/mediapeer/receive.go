package mediapeer

import (
	"context"
	"errors"
	"strconv"

	"parley.dev/parley/internal/xmlstream"
)

// ReceiveVideo is what we ask the focus to send us: the receive-video
// request of docs/SIGNALLING.md, as the web library sends it.
type ReceiveVideo struct {
	// Quality caps every video: "high", "medium" (the half layer) or
	// "low" (the quarter). Default "": high.
	Quality string
	// LastN, above 0, receives the camera of only the LastN most recent
	// speakers (below the room's own lastN, if it has one). Default 0: the
	// room's setting.
	LastN int
}

// SetReceiveVideo sends the request; each one replaces the previous. It
// fails when the room has no media session yet, and when the focus
// refuses the request.
func (p *Peer) SetReceiveVideo(ctx context.Context, rv ReceiveVideo) error {
	if p.media == nil {
		return errors.New("mediapeer: this room has no media")
	}
	if rv.LastN < 0 {
		return errors.New("mediapeer: a negative lastN")
	}
	s := p.media
	s.mu.Lock()
	sid, focus := s.sid, s.focus
	s.mu.Unlock()
	if sid == "" {
		return errors.New("mediapeer: no media session yet")
	}
	req := xmlstream.New(nsParleyRoom, "receive-video")
	if rv.Quality != "" {
		req.SetAttr("quality", rv.Quality)
	}
	if rv.LastN > 0 {
		req.SetAttr("last-n", strconv.Itoa(rv.LastN))
	}
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", focus).Add(
		xmlstream.New(nsJingle, "jingle", "action", "session-info", "sid", sid).Add(req))
	_, err := p.conn.request(ctx, iq)
	return err
}
