package muc

import (
	"strconv"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// The lobby (Jitsi's "knocking"). In a room with the lobby on, a newcomer
// below member knocks instead of entering: its ordinary join presence is
// parked, the room tells it that it waits, and the room's moderators see
// the knock with the name. A moderator admits or denies it with an IQ; on
// admission the parked join completes as any join, on denial the newcomer
// gets the join's error. Everything is in the room itself, under
// NSLobby, so a plain XEP-0045 client still joins, waits and learns the
// outcome; docs/SIGNALLING.md has the stanzas.

// NSLobby is the namespace of the lobby's elements.
const NSLobby = "urn:parley:lobby:0"

// maxKnocks bounds one room's lobby: beyond it newcomers are refused with
// resource-constraint (a flood of knocks must not fill memory).
const maxKnocks = 200

// knock is one newcomer waiting in the lobby. Owned by the room (its mu).
type knock struct {
	id    string
	nick  string
	real  jid.JID            // the newcomer's full JID
	join  *xmlstream.Element // the parked join presence
	ident Identity
	at    time.Time
}

// lobby is a room's waiting list. Owned by the room (guarded by its mu).
type lobby struct {
	next     uint64
	byID     map[string]*knock
	byJID    map[jid.JID]*knock   // real full JID → knock
	admitted map[jid.JID]struct{} // bare JIDs admitted while the room lives
}

// mustKnock says whether a newcomer with aff waits in the lobby.
func (r *room) mustKnock(from jid.JID, aff Affiliation) bool {
	if !r.config.Lobby || aff.rank() >= AffMember.rank() {
		return false
	}
	_, ok := r.lobby.admitted[from.Bare()]
	return !ok
}

// mayAdmit says whether o decides on knocks.
func (r *room) mayAdmit(o *occupant) bool { return r.permsOf(o).Has(perm.AdmitLobby) }

// knock parks a join and tells the moderators.
func (r *room) knock(st *xmlstream.Element, from jid.JID, nick string, id Identity) {
	if k := r.lobby.byJID[from]; k != nil {
		k.join, k.nick = st, nick // a repeated join: same knock, latest presence
		r.route(r.waitingMessage(k))
		return
	}
	if len(r.lobby.byID) >= maxKnocks {
		r.reply(st, stanza.NewError(stanza.ResourceConstraint, "the lobby is full"))
		return
	}
	if r.lobby.byID == nil {
		r.lobby.byID = make(map[string]*knock)
		r.lobby.byJID = make(map[jid.JID]*knock)
	}
	r.lobby.next++
	k := &knock{id: "k" + strconv.FormatUint(r.lobby.next, 36), nick: nick, real: from, join: st, ident: id, at: r.svc.clock()}
	r.lobby.byID[k.id] = k
	r.lobby.byJID[from] = k
	r.svc.trackOccupant(from, r, true)
	r.svc.counters.knocks.Add(1)
	r.route(r.waitingMessage(k))
	for _, o := range r.sortedOccupants() {
		if r.mayAdmit(o) {
			r.route(r.knockMessage(k, o))
		}
	}
}

func (r *room) lobbyMessage(to jid.JID, payload *xmlstream.Element) *xmlstream.Element {
	return xmlstream.New(xmlstream.NSClient, "message", "type", "normal",
		"from", r.jid.String(), "to", to.String()).Add(payload)
}

// waitingMessage tells a newcomer that it waits in the lobby.
func (r *room) waitingMessage(k *knock) *xmlstream.Element {
	return r.lobbyMessage(k.real, xmlstream.New(NSLobby, "waiting", "id", k.id, "nick", k.nick))
}

// knockMessage shows a knock to a moderator.
func (r *room) knockMessage(k *knock, mod *occupant) *xmlstream.Element {
	el := xmlstream.New(NSLobby, "knock", "id", k.id, "nick", k.nick,
		"name", displayName(k.ident, k.nick), "jid", k.real.String(), "kind", k.ident.Kind.String(),
		"since", k.at.UTC().Format(time.RFC3339))
	return r.lobbyMessage(mod.real, el)
}

// sendKnocks shows a new moderator who is waiting.
func (r *room) sendKnocks(o *occupant) {
	if !r.mayAdmit(o) {
		return
	}
	for _, k := range r.sortedKnocks() {
		r.route(r.knockMessage(k, o))
	}
}

func (r *room) sortedKnocks() []*knock {
	out := make([]*knock, 0, len(r.lobby.byID))
	for _, k := range r.lobby.byID {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ { // few knocks: insertion sort by arrival
		for j := i; j > 0 && out[j].at.Before(out[j-1].at); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// handleLobbyIQ serves <admit/> and <deny/> from a moderator.
func (r *room) handleLobbyIQ(st, q *xmlstream.Element, from jid.JID) {
	o := r.byJID[from]
	if st.Attr("type") != "set" || (q.Name != "admit" && q.Name != "deny") {
		r.reply(st, stanza.NewError(stanza.BadRequest, "expected a set of <admit/> or <deny/>"))
		return
	}
	if o == nil || !r.mayAdmit(o) {
		r.svc.counters.lobbyRefused.Add(1)
		r.reply(st, r.deny(perm.AdmitLobby, "only moderators admit from the lobby"))
		return
	}
	k := r.lobby.byID[q.Attr("id")]
	if k == nil {
		r.reply(st, stanza.NewError(stanza.ItemNotFound, "nobody knocks with that id"))
		return
	}
	r.route(stanza.IQResult(st))
	r.decide(k, q.Name == "admit", o.nick, q.ChildText(NSLobby, "reason"))
}

// Decide admits or denies a knock; by is the deciding moderator's nick
// ("" for the admin API). The other moderators learn the outcome.
func (r *room) decide(k *knock, admit bool, by, reason string) {
	r.dropKnock(k)
	outcome := "denied"
	if admit {
		outcome = "admitted"
	}
	for _, o := range r.sortedOccupants() {
		if r.mayAdmit(o) {
			r.route(r.lobbyMessage(o.real, xmlstream.New(NSLobby, "decided", "id", k.id, "nick", k.nick, "outcome", outcome, "by", by)))
		}
	}
	if !admit {
		e := stanza.NewError(stanza.NotAllowed, "a moderator did not let you in")
		if reason != "" {
			e = stanza.NewError(stanza.NotAllowed, reason)
		}
		p := stanza.ErrorReply(k.join, e)
		p.Add(xmlstream.New(NSLobby, "denied", "id", k.id))
		r.route(p)
		return
	}
	if r.lobby.admitted == nil {
		r.lobby.admitted = make(map[jid.JID]struct{})
	}
	r.lobby.admitted[k.real.Bare()] = struct{}{}
	r.join(k.join, k.real, k.nick)
}

// dropKnock forgets a knock.
func (r *room) dropKnock(k *knock) {
	delete(r.lobby.byID, k.id)
	delete(r.lobby.byJID, k.real)
	if r.byJID[k.real] == nil {
		r.svc.trackOccupant(k.real, r, false)
	}
}

// leaveLobby drops real's knock when it gives up (unavailable presence,
// or its session ended); the moderators learn it left.
func (r *room) leaveLobby(real jid.JID) bool {
	k := r.lobby.byJID[real]
	if k == nil {
		return false
	}
	r.dropKnock(k)
	for _, o := range r.sortedOccupants() {
		if r.mayAdmit(o) {
			r.route(r.lobbyMessage(o.real, xmlstream.New(NSLobby, "decided", "id", k.id, "nick", k.nick, "outcome", "left")))
		}
	}
	return true
}

// denyAll refuses everyone waiting (the meeting ends, the room goes).
func (r *room) denyAll(reason string) {
	for _, k := range r.sortedKnocks() {
		r.decide(k, false, "", reason)
	}
}

// KnockInfo describes one newcomer waiting in a lobby.
type KnockInfo struct {
	ID      string    `json:"id"`
	Nick    string    `json:"nick"`
	Name    string    `json:"name"`
	RealJID string    `json:"jid"`
	Kind    string    `json:"kind"`
	Since   time.Time `json:"since"`
}

func (r *room) knockInfos() []KnockInfo {
	var out []KnockInfo
	for _, k := range r.sortedKnocks() {
		out = append(out, KnockInfo{ID: k.id, Nick: k.nick, Name: displayName(k.ident, k.nick),
			RealJID: k.real.String(), Kind: k.ident.Kind.String(), Since: k.at})
	}
	return out
}
