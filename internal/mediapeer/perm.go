package mediapeer

import (
	"context"
	"errors"
	"strings"

	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// nsPerm is parley's permissions namespace (docs/SIGNALLING.md): the
// <perm/> element of occupants' presence, the mute, unmute and override
// requests, and the room's <unmute/> request in a message.
const nsPerm = "urn:parley:perm:0"

// Media names for Mute, Unmute and AskUnmute.
const (
	MediaAudio  = "audio"
	MediaVideo  = "video"
	MediaScreen = "screen"
)

// readPerm fills occ's parley role, permissions and mutes from a presence.
func readPerm(st *xmlstream.Element, occ *Occupant) {
	el := st.Child(nsPerm, "perm")
	if el == nil {
		return
	}
	occ.PermRole = el.Attr("role")
	occ.Permissions, _ = perm.Parse(el.Attr("allow")) // names we do not know are dropped with the rest
	occ.Muted = el.Attr("muted")
}

// unmuteAsked raises EventUnmuteAsked for the room's <unmute/> request.
func (p *Peer) unmuteAsked(st *xmlstream.Element) bool {
	el := st.Child(nsPerm, "unmute")
	if el == nil || st.Attr("type") == "error" {
		return false
	}
	p.emit(Event{Kind: EventUnmuteAsked, Text: el.Attr("media"), Actor: el.Attr("by")})
	return true
}

// Mute stops the forwarding of an occupant's media at the server until it
// unmutes: media is "audio", "video", "screen", several separated by
// spaces, or "" for all. nick "" (or ours) mutes ourselves; muting others
// needs the mute_others permission.
func (p *Peer) Mute(ctx context.Context, nick, media string) error {
	return p.permRequest(ctx, "mute", nick, xmlstream.New(nsPerm, "mute", "nick", nick, "media", media))
}

// Unmute lifts a mute on our own media (we need the publish permission).
func (p *Peer) Unmute(ctx context.Context, media string) error {
	return p.permRequest(ctx, "unmute", "", xmlstream.New(nsPerm, "unmute", "media", media))
}

// AskUnmute asks another occupant to unmute (ask_unmute); it gets
// EventUnmuteAsked and decides.
func (p *Peer) AskUnmute(ctx context.Context, nick, media string) error {
	if nick == "" {
		return ErrNotInRoom
	}
	return p.permRequest(ctx, "unmute", nick, xmlstream.New(nsPerm, "unmute", "nick", nick, "media", media))
}

// Override grants or revokes an occupant's permissions one at a time, for
// the rest of its visit (grant_roles).
func (p *Peer) Override(ctx context.Context, nick string, o perm.Overrides) error {
	if nick == "" || o.IsZero() {
		return errors.New("mediapeer: an override needs a nick and a permission")
	}
	q := xmlstream.New(nsPerm, "override", "nick", nick)
	for _, pm := range o.Grant.Permissions() {
		q.Add(xmlstream.New(nsPerm, "permission", "name", pm.String(), "allow", "true"))
	}
	for _, pm := range o.Revoke.Permissions() {
		q.Add(xmlstream.New(nsPerm, "permission", "name", pm.String(), "allow", "false"))
	}
	return p.permRequest(ctx, "override", nick, q)
}

func (p *Peer) permRequest(ctx context.Context, action, target string, q *xmlstream.Element) error {
	select {
	case <-p.ended:
		return ErrClosed
	default:
	}
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", p.room.String()).Add(q)
	_, err := p.conn.request(ctx, iq)
	var se *stanza.Error
	if errors.As(err, &se) {
		return &ModerationError{Action: action, Target: target, Condition: string(se.Condition), Text: se.Text}
	}
	return err
}

// markScreen marks the video sources of a Jingle answer as a screen share
// (Jitsi's videoType="desktop"), for RoomConfig.VideoType.
func markScreen(el *xmlstream.Element, videoType string) {
	if videoType == "" {
		return
	}
	for _, ct := range el.ChildrenNamed("urn:xmpp:jingle:1", "content") {
		for _, desc := range ct.Children {
			if desc.Name != "description" || !strings.EqualFold(desc.Attr("media"), "video") {
				continue
			}
			for _, src := range desc.ChildrenNamed("", "source") {
				src.SetAttr("videoType", videoType)
			}
		}
	}
}

// JingleSID returns the id of our current Jingle session with the focus,
// "" without one (no Media, or not called yet).
func (p *Peer) JingleSID() string {
	if p.media == nil {
		return ""
	}
	p.media.mu.Lock()
	defer p.media.mu.Unlock()
	return p.media.sid
}
