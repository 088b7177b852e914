package muc

import (
	"sort"
	"strconv"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// discoInfo answers disco#info on the service (XEP-0045 §6.1).
func (s *Service) discoInfo(st, q *xmlstream.Element) {
	if q.Attr("node") != "" {
		s.reply(st, stanza.NewError(stanza.ItemNotFound, "unknown node"))
		return
	}
	res := xmlstream.New(NSDiscoInfo, "query")
	res.Add(xmlstream.New(NSDiscoInfo, "identity", "category", "conference", "type", "text", "name", "Chatrooms"))
	for _, f := range []string{NSDiscoInfo, NSDiscoItems, NSMUC} {
		res.Add(xmlstream.New(NSDiscoInfo, "feature", "var", f))
	}
	s.router.Route(stanza.IQResult(st, res))
}

// discoItems lists the public rooms (XEP-0045 §6.3). Hidden and locked rooms
// are left out.
func (s *Service) discoItems(st, q *xmlstream.Element) {
	if q.Attr("node") != "" {
		s.reply(st, stanza.NewError(stanza.ItemNotFound, "unknown node"))
		return
	}
	res := xmlstream.New(NSDiscoItems, "query")
	for _, ri := range s.Rooms() {
		if !ri.Config.Public || ri.Locked {
			continue
		}
		res.Add(xmlstream.New(NSDiscoItems, "item", "jid", ri.JID.String(), "name", roomName(ri.JID.Local, ri.Config)))
	}
	s.router.Route(stanza.IQResult(st, res))
}

func roomName(local string, c RoomConfig) string {
	if c.Name != "" {
		return c.Name
	}
	return local
}

// discoInfo answers disco#info on a room (XEP-0045 §6.4).
func (r *room) discoInfo(st, q *xmlstream.Element) {
	if q.Attr("node") != "" {
		r.reply(st, stanza.NewError(stanza.ItemNotFound, "unknown node"))
		return
	}
	c := r.config
	res := xmlstream.New(NSDiscoInfo, "query")
	res.Add(xmlstream.New(NSDiscoInfo, "identity", "category", "conference", "type", "text",
		"name", roomName(r.jid.Local, c)))
	features := []string{NSMUC, NSDiscoInfo, NSDiscoItems,
		"http://jabber.org/protocol/muc#self-ping-optimization",
		pick(c.needsPassword(), "muc_passwordprotected", "muc_unsecured"),
		pick(c.Persistent, "muc_persistent", "muc_temporary"),
		pick(c.MembersOnly, "muc_membersonly", "muc_open"),
		pick(c.Moderated, "muc_moderated", "muc_unmoderated"),
		pick(c.nonAnonymous(), "muc_nonanonymous", "muc_semianonymous"),
		pick(c.Public, "muc_public", "muc_hidden"),
	}
	if r.svc.archive != nil {
		features = append(features, nsMAM)
	}
	for _, f := range features {
		res.Add(xmlstream.New(NSDiscoInfo, "feature", "var", f))
	}
	form := xmlstream.New(NSDataForms, "x", "type", "result")
	form.Add(formField(fieldFormType, "hidden", "", NSRoomInfo))
	form.Add(formField("muc#roominfo_description", "text-single", "Description", c.Description))
	form.Add(formField("muc#roominfo_subject", "text-single", "Subject", r.subject))
	form.Add(formField("muc#roominfo_occupants", "text-single", "Occupants", strconv.Itoa(len(r.occupants))))
	form.Add(formField(fieldName, "text-single", "Room name", roomName(r.jid.Local, c)))
	form.Add(formField(fieldChangeSubject, "boolean", "Participants may change the subject", formBool(c.ChangeSubject)))
	r.route(stanza.IQResult(st, res.Add(form)))
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

// discoItems lists a room's occupants in a non-anonymous room; a
// semi-anonymous room answers with an empty list (XEP-0045 §6.5 lets the
// service keep its occupants private).
func (r *room) discoItems(st, q *xmlstream.Element) {
	if q.Attr("node") != "" {
		r.reply(st, stanza.NewError(stanza.ItemNotFound, "unknown node"))
		return
	}
	res := xmlstream.New(NSDiscoItems, "query")
	if r.config.nonAnonymous() {
		nicks := make([]string, 0, len(r.occupants))
		for n := range r.occupants {
			nicks = append(nicks, n)
		}
		sort.Strings(nicks)
		for _, n := range nicks {
			res.Add(xmlstream.New(NSDiscoItems, "item", "jid", r.occupantJID(n).String(), "name", n))
		}
	}
	r.route(stanza.IQResult(st, res))
}
