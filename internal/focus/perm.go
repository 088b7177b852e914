package focus

import (
	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/jingle"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Rights is what the room says an occupant may publish: the media
// permissions of Permissions that Muted does not hold are forwarded.
type Rights struct {
	Permissions perm.Set // the occupant's permissions, mutes aside
	Muted       perm.Set // publish permissions a moderator (or the occupant) muted
}

// may reports whether the occupant holds p, mutes aside.
func (r Rights) may(p perm.Permission) bool { return r.Permissions.Has(p) }

// forwards reports whether media needing p is forwarded now.
func (r Rights) forwards(p perm.Permission) bool { return r.Permissions.Has(p) && !r.Muted.Has(p) }

// Stats are the focus's counters.
type Stats struct {
	// Refused counts Jingle requests refused for lack of a permission, by
	// permission name (only those with refusals).
	Refused map[string]uint64
}

// Stats returns the focus's counters.
func (f *Focus) Stats() Stats { return Stats{Refused: f.refused.Snapshot()} }

// SetRights tells the focus that an occupant's permissions or mutes
// changed: its media is gated at once. It never blocks.
func (f *Focus) SetRights(room jid.JID, nick string, r Rights) {
	f.postTo(room, false, func(c *conference) {
		if p := c.byNick[nick]; p != nil {
			p.setRights(r)
		}
	})
}

// videoPermission is what the participant's video needs: publish_screen
// when it declared its video a screen share, publish_video otherwise.
func (p *participant) videoPermission() perm.Permission {
	if p.screen {
		return perm.PublishScreen
	}
	return perm.PublishVideo
}

// joinOptions leaves out of the first offer the m-lines the participant
// may not publish on, so that a client never starts sending them.
func (p *participant) joinOptions() bridge.JoinOptions {
	return bridge.JoinOptions{
		NoAudio:     !p.rights.may(perm.PublishAudio),
		NoVideo:     !p.rights.may(perm.PublishVideo) && !p.rights.may(perm.PublishScreen),
		NoSimulcast: !p.c.f.cfg.Simulcast,
	}
}

// applyGates sets the SFU's forwarding gates from the participant's rights.
func (p *participant) applyGates() {
	if p.sp == nil {
		return
	}
	p.sp.SetForwarding(bridge.SourceAudio, p.rights.forwards(perm.PublishAudio))
	p.sp.SetForwarding(bridge.SourceCamera, p.rights.forwards(p.videoPermission()))
	p.sp.SetForwarding(bridge.SourceScreen, p.rights.forwards(perm.PublishScreen))
}

// setRights applies new rights: gates at once, and an m-line to publish on
// for a kind newly allowed (the SFU renegotiates).
func (p *participant) setRights(r Rights) {
	prev := p.rights
	p.rights = r
	if p.sp == nil {
		return
	}
	p.applyGates()
	if !prev.may(perm.PublishAudio) && r.may(perm.PublishAudio) {
		p.sp.OfferPublishing(bridge.Audio)
	}
	videoBefore := prev.may(perm.PublishVideo) || prev.may(perm.PublishScreen)
	if !videoBefore && (r.may(perm.PublishVideo) || r.may(perm.PublishScreen)) {
		p.sp.OfferPublishing(bridge.Video)
	}
}

// sends reports whether a content of the participant's answer (or
// source-add) has it send media: sources, and a direction that sends.
func sends(ct jingle.Content) bool {
	if ct.Description == nil || len(ct.Description.Sources) == 0 {
		return false
	}
	switch ct.Senders {
	case "", jingle.SendersBoth, jingle.SendersResponder:
		return true
	}
	return false
}

// screenDeclared reports whether the participant marks a video source as a
// screen share: Jitsi's videoType="desktop" on a <source/>.
func screenDeclared(payload *xmlstream.Element) bool {
	for _, ct := range payload.ChildrenNamed(NSJingle, "content") {
		desc := ct.Child(nsRTP, "description")
		if desc == nil || desc.Attr("media") != "video" {
			continue
		}
		for _, src := range desc.ChildrenNamed("", "source") {
			if src.Attr("videoType") == "desktop" {
				return true
			}
		}
	}
	return false
}

// refusePublishing answers iq with <forbidden/> and counts it if the
// request starts sending media the participant may not publish: a content
// that sends now and did not in the participant's previous answer (media
// already flowing when a permission is withdrawn is cut by the SFU's gate,
// not by refusing the renegotiation). screen says how the request
// declares its video.
func (p *participant) refusePublishing(iq *xmlstream.Element, j *jingle.Jingle, screen bool) bool {
	for _, ct := range j.Contents {
		if !sends(ct) {
			continue
		}
		if prev, ok := p.answer[ct.Name]; ok && sends(prev) {
			continue
		}
		need := perm.PublishAudio
		if ct.Description.Media == "video" {
			need = perm.PublishVideo
			if screen {
				need = perm.PublishScreen
			}
		} else if ct.Description.Media != "audio" {
			continue
		}
		if !p.rights.may(need) {
			p.c.f.refused.Add(need)
			p.c.log.Info("refused publishing", "nick", p.nick, "needs", need.String(), "action", j.Action)
			p.c.f.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.Forbidden, "you may not publish "+need.String()[len("publish_"):]+" (needs "+need.String()+")")))
			return true
		}
	}
	return false
}
