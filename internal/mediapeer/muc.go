package mediapeer

import (
	"strconv"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/xmlstream"
)

// presence follows the room's occupants (XEP-0045 §7). It runs on the
// connection's read loop.
func (p *Peer) presence(st *xmlstream.Element, from jid.JID) {
	if st.Attr("type") == "error" {
		p.mu.Lock()
		joined := p.isJoined
		p.mu.Unlock()
		if !joined {
			p.markJoined(refusal(p.room.String(), st))
		}
		return
	}
	if from.Resource == "" {
		return
	}
	x := st.Child(nsMUCUser, "x")
	codes := statusCodes(x)
	item := x.Child(nsMUCUser, "item")
	occ := Occupant{Nick: from.Resource, JID: attr(item, "jid"), Role: attr(item, "role"),
		Affiliation: attr(item, "affiliation")}
	readPerm(st, &occ)
	readRecording(st, &occ)
	occ.Phone = st.Child(nsPhone, "phone") != nil
	p.mu.Lock()
	occ.Self = codes[110] || (p.isJoined && from.Resource == p.cfg.Nick)
	p.mu.Unlock()
	if st.Attr("type") == "unavailable" {
		p.unavailable(st, occ, codes, item)
		return
	}
	p.available(occ, codes, item)
}

func (p *Peer) available(occ Occupant, codes map[int]bool, item *xmlstream.Element) {
	p.mu.Lock()
	prev, known := p.occupants[occ.Nick]
	p.occupants[occ.Nick] = occ
	existing := !p.isJoined
	if occ.Self {
		p.isJoined = true
	}
	p.mu.Unlock()
	switch {
	case !known:
		p.emit(Event{Kind: EventJoined, Occupant: occ, Existing: existing && !occ.Self})
	case prev.Role != occ.Role || prev.Affiliation != occ.Affiliation || prev.PermRole != occ.PermRole ||
		prev.Permissions != occ.Permissions || prev.Muted != occ.Muted || prev.Recording != occ.Recording || prev.Phone != occ.Phone:
		p.emit(Event{Kind: EventChanged, Occupant: occ, Text: item.ChildText(nsMUCUser, "reason"),
			Actor: attr(item.Child(nsMUCUser, "actor"), "nick")})
	}
	if !occ.Self || known {
		return
	}
	if codes[201] && (p.cfg.InstantRoom == nil || *p.cfg.InstantRoom) {
		// We created the room: unlock it before anyone else can enter. The
		// IQ's answer comes through the read loop, so wait elsewhere.
		go p.unlockRoom()
		return
	}
	p.markJoined(nil)
}

func (p *Peer) unavailable(st *xmlstream.Element, occ Occupant, codes map[int]bool, item *xmlstream.Element) {
	reason := ReasonLeft
	switch {
	case codes[307]:
		reason = ReasonKicked
	case codes[301]:
		reason = ReasonBanned
	case codes[303]:
		reason = ReasonNickChanged
	case codes[321], codes[322]:
		reason = ReasonAffiliation
	case codes[332]:
		reason = ReasonShutdown
	case st.Child(nsMUCUser, "x").Child(nsMUCUser, "destroy") != nil:
		reason = ReasonRoomDestroyed
	}
	ev := Event{Kind: EventLeft, Occupant: occ, Reason: reason, Text: item.ChildText(nsMUCUser, "reason"),
		Actor: attr(item.Child(nsMUCUser, "actor"), "nick")}
	if reason == ReasonNickChanged {
		ev.NewNick = attr(item, "nick")
	}
	if reason == ReasonRoomDestroyed && ev.Text == "" {
		// The room's reason, or why the meeting was ended for all (parley's
		// <ended/>, docs/SIGNALLING.md §10).
		ev.Text = st.Child(nsMUCUser, "x").Child(nsMUCUser, "destroy").ChildText(nsMUCUser, "reason")
		if ended := st.Child(nsRoom, "ended"); ended != nil {
			ev.Text, ev.Actor = ended.ChildText(nsRoom, "reason"), attr(ended, "by")
		}
	}
	if occ.Self && reason != ReasonNickChanged {
		p.end(reason, &ev)
		return
	}
	p.mu.Lock()
	_, known := p.occupants[occ.Nick]
	delete(p.occupants, occ.Nick)
	p.mu.Unlock()
	if known {
		p.emit(ev)
	}
}

// message raises chat, private messages and subject changes.
func (p *Peer) message(st *xmlstream.Element, from jid.JID) {
	typ := st.Attr("type")
	if typ == "error" || (from.Resource == "" && p.unmuteAsked(st)) {
		return
	}
	p.mu.Lock()
	occ, ok := p.occupants[from.Resource]
	p.mu.Unlock()
	if !ok {
		occ = Occupant{Nick: from.Resource}
	}
	delayed := st.Child(nsDelay, "delay") != nil
	body := st.Child("", "body")
	subject := st.Child("", "subject")
	switch {
	case typ == "groupchat" && subject != nil && body == nil:
		p.mu.Lock()
		p.subject = subject.Text
		p.mu.Unlock()
		p.emit(Event{Kind: EventSubject, Occupant: occ, Text: subject.Text, Delayed: delayed})
	case body == nil:
	case typ == "groupchat":
		p.emit(Event{Kind: EventMessage, Occupant: occ, Text: body.Text, Delayed: delayed})
	case from.Resource != "":
		p.emit(Event{Kind: EventMessage, Occupant: occ, Text: body.Text, Private: true, Delayed: delayed})
	}
}

func statusCodes(x *xmlstream.Element) map[int]bool {
	codes := map[int]bool{}
	if x == nil {
		return codes
	}
	for _, s := range x.ChildrenNamed(nsMUCUser, "status") {
		if n, err := strconv.Atoi(s.Attr("code")); err == nil {
			codes[n] = true
		}
	}
	return codes
}

// Say sends a message to everyone in the room.
func (p *Peer) Say(text string) error {
	return p.send(xmlstream.New(xmlstream.NSClient, "message", "type", "groupchat", "to", p.room.String()).Add(
		xmlstream.New(xmlstream.NSClient, "body").SetText(text)))
}

// SayTo sends a private message to one occupant.
func (p *Peer) SayTo(nick, text string) error {
	if _, err := jid.New(p.room.Local, p.room.Domain, nick); err != nil {
		return err
	}
	return p.send(xmlstream.New(xmlstream.NSClient, "message", "type", "chat", "to", p.occupantJID(nick)).Add(
		xmlstream.New(xmlstream.NSClient, "body").SetText(text),
		xmlstream.New("http://jabber.org/protocol/muc#user", "x")))
}

// SetSubject changes the room's subject (where our role allows it).
func (p *Peer) SetSubject(text string) error {
	return p.send(xmlstream.New(xmlstream.NSClient, "message", "type", "groupchat", "to", p.room.String()).Add(
		xmlstream.New(xmlstream.NSClient, "subject").SetText(text)))
}

func (p *Peer) send(st *xmlstream.Element) error {
	select {
	case <-p.ended:
		return ErrClosed
	default:
	}
	return p.conn.cfg.Client.Send(st)
}
