package mediapeer

import (
	"context"
	"errors"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// parley's room-wide requests (docs/SIGNALLING.md §9, §10).
const (
	nsLobby = "urn:parley:lobby:0"
	nsRoom  = "urn:parley:room:0"
)

// EndMeeting removes everyone from the room, each told reason; it needs
// the end_meeting permission.
func (p *Peer) EndMeeting(ctx context.Context, reason string) error {
	end := xmlstream.New(nsRoom, "end")
	if reason != "" {
		end.Add(xmlstream.New(nsRoom, "reason").SetText(reason))
	}
	return p.roomRequest(ctx, "end", "", end)
}

// Admit lets someone waiting in the lobby in (admit_lobby); id is the
// knock's id.
func (p *Peer) Admit(ctx context.Context, id string) error {
	return p.roomRequest(ctx, "admit", id, xmlstream.New(nsLobby, "admit", "id", id))
}

// Deny turns someone waiting in the lobby away, with a reason.
func (p *Peer) Deny(ctx context.Context, id, reason string) error {
	deny := xmlstream.New(nsLobby, "deny", "id", id)
	if reason != "" {
		deny.Add(xmlstream.New(nsLobby, "reason").SetText(reason))
	}
	return p.roomRequest(ctx, "deny", id, deny)
}

func (p *Peer) roomRequest(ctx context.Context, action, target string, payload *xmlstream.Element) error {
	select {
	case <-p.ended:
		return ErrClosed
	default:
	}
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", p.room.String()).Add(payload)
	_, err := p.conn.request(ctx, iq)
	var se *stanza.Error
	if errors.As(err, &se) {
		return &ModerationError{Action: action, Target: target, Condition: string(se.Condition), Text: se.Text}
	}
	return err
}
