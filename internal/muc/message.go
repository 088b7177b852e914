package muc

import (
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// ghostConditions are the error conditions that show an occupant's session
// is unreachable, rather than that it refused one stanza (XEP-0045 §18.1).
var ghostConditions = map[stanza.Condition]bool{
	stanza.Gone:                 true,
	stanza.ItemNotFound:         true,
	stanza.RecipientUnavailable: true,
	"redirect":                  true,
	stanza.RemoteServerNotFound: true,
	"remote-server-timeout":     true,
	stanza.ServiceUnavailable:   true,
}

// handleMessage handles a message to the room or to an occupant.
func (r *room) handleMessage(st *xmlstream.Element, from, to jid.JID) {
	o := r.byJID[from]
	typ := st.Attr("type")
	if typ == "error" {
		// A bounce of something the room sent: never answered, never
		// forwarded (the original sender cannot act on it).
		if o != nil {
			if e := stanza.ParseError(st); e != nil && ghostConditions[e.Condition] {
				r.removeGhost(o)
			}
		}
		return
	}
	if o == nil {
		r.reply(st, stanza.NewError(stanza.NotAcceptable, "only occupants may send messages in this room"))
		return
	}
	if to.Resource != "" {
		r.privateMessage(st, o, to.Resource)
		return
	}
	if typ != "groupchat" {
		if x := st.Child(NSMUCUser, "x"); x != nil && x.Child(NSMUCUser, "invite") != nil {
			r.invite(st, o, x)
			return
		}
		r.reply(st, stanza.NewError(stanza.BadRequest, "messages to the room must be of type groupchat"))
		return
	}
	if err := r.require(r.permsOf(o), perm.Chat, "you may not send messages in this room"); err != nil {
		r.reply(st, err)
		return
	}
	if clientChild(st, "subject") != nil && clientChild(st, "body") == nil {
		r.changeSubject(st, o)
		return
	}
	out := st.ShallowCopy()
	out.SetAttr("from", r.occupantJID(o.nick).String())
	out.SetAttr("to", "")
	if clientChild(st, "body") != nil {
		if r.svc.archive != nil {
			out = r.svc.archive.Append(r.jid, out)
		}
		r.addHistory(out)
	}
	r.reflect(out)
}

// reflect sends a groupchat message to every occupant, the sender too.
func (r *room) reflect(msg *xmlstream.Element) {
	for _, p := range r.sortedOccupants() {
		m := msg.ShallowCopy()
		m.SetAttr("to", p.real.String())
		r.route(m)
	}
}

// changeSubject applies a subject change (XEP-0045 §8.1).
func (r *room) changeSubject(st *xmlstream.Element, o *occupant) {
	if o.role != RoleModerator && !(o.role == RoleParticipant && r.config.ChangeSubject) {
		r.reply(st, stanza.NewError(stanza.Forbidden, "you may not change the subject"))
		return
	}
	r.subject = clientChild(st, "subject").Text
	r.subjectNick = o.nick
	out := st.ShallowCopy()
	out.SetAttr("from", r.occupantJID(o.nick).String())
	out.SetAttr("to", "")
	r.reflect(out)
	r.persist()
}

// privateMessage relays a message to one occupant, from the sender's room
// address (XEP-0045 §7.5).
func (r *room) privateMessage(st *xmlstream.Element, o *occupant, nick string) {
	if st.Attr("type") == "groupchat" {
		r.reply(st, stanza.NewError(stanza.BadRequest, "private messages may not be of type groupchat"))
		return
	}
	target := r.occupants[nick]
	if target == nil {
		r.reply(st, stanza.NewError(stanza.ItemNotFound, "no such occupant"))
		return
	}
	if err := r.require(r.permsOf(o), perm.PrivateChat, "you may not send private messages"); err != nil {
		r.reply(st, err)
		return
	}
	out := st.ShallowCopy()
	out.SetAttr("from", r.occupantJID(o.nick).String())
	out.SetAttr("to", target.real.String())
	// The muc#user marker tells the receiver this came through a room.
	out.Children = append(append([]*xmlstream.Element(nil), st.Children...), xmlstream.New(NSMUCUser, "x"))
	r.route(out)
}

// invite relays a mediated invitation (XEP-0045 §7.8.2). In a members-only
// room only admins and owners may invite, and the invitee becomes a member.
func (r *room) invite(st *xmlstream.Element, o *occupant, x *xmlstream.Element) {
	aff := r.affiliationOf(o.real)
	if r.config.MembersOnly && aff.rank() < AffAdmin.rank() {
		r.reply(st, stanza.NewError(stanza.Forbidden, "only admins may invite to a members-only room"))
		return
	}
	var invitees []jid.JID
	for _, inv := range x.ChildrenNamed(NSMUCUser, "invite") {
		to, err := jid.Parse(inv.Attr("to"))
		if err != nil {
			r.reply(st, stanza.NewError(stanza.JIDMalformed, "bad invitee address"))
			return
		}
		invitees = append(invitees, to)
	}
	for i, inv := range x.ChildrenNamed(NSMUCUser, "invite") {
		to := invitees[i]
		if r.config.MembersOnly && r.affiliationOf(to).rank() < AffMember.rank() {
			r.affiliations[to.Bare()] = AffMember
			r.persist()
		}
		fwdInvite := xmlstream.New(NSMUCUser, "invite", "from", o.real.String())
		if reason := inv.Child(NSMUCUser, "reason"); reason != nil {
			fwdInvite.Add(reason)
		}
		fx := xmlstream.New(NSMUCUser, "x").Add(fwdInvite)
		// The room keeps only a hash of its secret: an invitation to a
		// password-protected room cannot carry it (XEP-0045 makes it optional).
		m := xmlstream.New(xmlstream.NSClient, "message", "from", r.jid.String(), "to", to.String())
		if id := st.Attr("id"); id != "" {
			m.SetAttr("id", id)
		}
		r.route(m.Add(fx))
	}
}

// clientChild returns the first child with that name in the stanza's own
// namespace (jabber:client or jabber:server).
func clientChild(st *xmlstream.Element, name string) *xmlstream.Element {
	for _, c := range st.Children {
		if c.Name == name && (c.Space == st.Space || c.Space == xmlstream.NSClient || c.Space == "") {
			return c
		}
	}
	return nil
}
