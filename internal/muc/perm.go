package muc

import (
	"strings"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// NSPerm is parley's namespace for permissions in rooms: the <perm/>
// element in occupants' presence, and the mute, unmute and override
// requests (docs/SIGNALLING.md, docs/PERMISSIONS.md).
const NSPerm = "urn:parley:perm:0"

// Media names in mute requests and the <perm/> element, and the permission
// each one needs.
var mediaPermissions = []struct {
	name string
	p    perm.Permission
}{{"audio", perm.PublishAudio}, {"video", perm.PublishVideo}, {"screen", perm.PublishScreen}}

// mediaSet is the set of publish permissions that every publishable
// medium needs.
var mediaSet = perm.Of(perm.PublishAudio, perm.PublishVideo, perm.PublishScreen)

// parseMedia reads a media attribute: one or more of audio, video, screen
// separated by spaces; "" means all three.
func parseMedia(s string) (perm.Set, error) {
	if strings.TrimSpace(s) == "" {
		return mediaSet, nil
	}
	var out perm.Set
	for _, f := range strings.Fields(s) {
		found := false
		for _, m := range mediaPermissions {
			if m.name == f {
				out, found = out.With(m.p), true
			}
		}
		if !found {
			return 0, stanza.NewError(stanza.BadRequest, "unknown media "+f+" (audio, video or screen)")
		}
	}
	return out, nil
}

// mediaNames writes the media of s's publish permissions ("audio video").
func mediaNames(s perm.Set) string {
	var out []string
	for _, m := range mediaPermissions {
		if s.Has(m.p) {
			out = append(out, m.name)
		}
	}
	return strings.Join(out, " ")
}

// DeniedError is a refusal for lack of a permission. It becomes a
// <forbidden/> stanza error (auth).
type DeniedError struct {
	Permission perm.Permission
	Text       string
}

func (e *DeniedError) Error() string {
	return "muc: " + e.Text + " (needs " + e.Permission.String() + ")"
}

// StanzaError makes the refusal a stanza error.
func (e *DeniedError) StanzaError() *stanza.Error {
	return stanza.NewError(stanza.Forbidden, e.Text+" (needs "+e.Permission.String()+")")
}

// permRole is o's parley role, from its affiliation and XEP-0045 role.
func (r *room) permRole(o *occupant) perm.Role {
	role, _ := perm.FromMUC(string(r.affiliationOf(o.real)), string(o.role), o.ident.Anonymous)
	return role
}

// roleSet is what role r grants in this room: the room's defaults, and in a
// moderated room viewers lose chat (XEP-0045: visitors have no voice)
// unless the room's defaults give it back.
func (r *room) roleSet(role perm.Role) perm.Set {
	s := perm.ForRole(role)
	if role == perm.Viewer && r.config.Moderated {
		s = s.Without(perm.Chat)
	}
	return r.config.RoleDefaults[role].Apply(s)
}

// permsOf returns what o may do now, mutes aside: its role's set, then its
// identity's overrides, then what moderators changed during the visit.
// A nil o (someone not in the room) holds what its affiliation gives.
func (r *room) permsOf(o *occupant) perm.Set {
	if o == nil {
		return 0
	}
	return o.granted.Apply(o.ident.Overrides.Apply(r.roleSet(r.permRole(o))))
}

// permsOfJID returns the permissions of the sender from: its occupant's,
// or for a non-occupant those of its affiliation (owners and admins
// manage a room from outside it, XEP-0045 §9).
func (r *room) permsOfJID(from jid.JID, o *occupant) perm.Set {
	if o != nil {
		return r.permsOf(o)
	}
	switch r.affiliationOf(from) {
	case AffOwner:
		return r.roleSet(perm.Owner)
	case AffAdmin:
		return r.roleSet(perm.Moderator)
	}
	return 0
}

// forwarding returns the publish permissions o's media may use now: its
// permissions minus what a moderator muted.
func (r *room) forwarding(o *occupant) perm.Set {
	return r.permsOf(o) & mediaSet &^ o.muted
}

// deny counts a refusal for lack of p and returns its error.
func (r *room) deny(p perm.Permission, text string) error {
	r.svc.refused.Add(p)
	return &DeniedError{Permission: p, Text: text}
}

// require returns nil if have holds p, and a counted refusal otherwise.
func (r *room) require(have perm.Set, p perm.Permission, text string) error {
	if have.Has(p) {
		return nil
	}
	return r.deny(p, text)
}

// permElement is the <perm/> element the room adds to o's presence:
// its parley role, what it may do, and what a moderator muted.
func (r *room) permElement(o *occupant) *xmlstream.Element {
	el := xmlstream.New(NSPerm, "perm", "role", string(r.permRole(o)), "allow", r.permsOf(o).String())
	if o.muted != 0 {
		el.SetAttr("muted", mediaNames(o.muted))
	}
	return el
}

// changed tells everyone that o's permissions or mutes may have changed,
// if they did: a presence with the new <perm/>, and the event that the
// focus turns into SFU gates.
func (r *room) changed(o *occupant, actorNick string) {
	now, muted := r.permsOf(o), o.muted
	if now == o.announced && muted == o.announcedMuted {
		return
	}
	r.broadcastPresence(o, "", mucUser{actor: actorNick})
	r.event(OccupantChanged, o, "")
}

// refreshAll re-announces every occupant whose permissions changed (after
// a configuration change, which may change the role defaults).
func (r *room) refreshAll() {
	for _, o := range r.sortedOccupants() {
		r.changed(o, "")
	}
}

// handlePermIQ serves parley's moderation requests (set only): mute,
// unmute (one's own, or asking another) and override.
func (r *room) handlePermIQ(st, q *xmlstream.Element, from jid.JID, typ string) {
	if typ != "set" {
		r.reply(st, stanza.NewError(stanza.BadRequest, "moderation requests are set requests"))
		return
	}
	actor := r.byJID[from]
	if actor == nil {
		r.reply(st, stanza.NewError(stanza.NotAcceptable, "only occupants moderate"))
		return
	}
	var err error
	switch q.Name {
	case "mute":
		err = r.mute(actor, q)
	case "unmute":
		err = r.unmute(actor, q)
	case "override":
		err = r.override(actor, q)
	default:
		err = stanza.NewError(stanza.FeatureNotImplemented, "unknown request "+q.Name)
	}
	if err != nil {
		r.reply(st, err)
		return
	}
	r.route(stanza.IQResult(st))
}

// target finds the occupant a request names (nick ""= the actor), and
// refuses acting on someone with a higher affiliation.
func (r *room) target(actor *occupant, nick string) (*occupant, error) {
	if nick == "" || nick == actor.nick {
		return actor, nil
	}
	t := r.occupants[nick]
	if t == nil {
		return nil, stanza.NewError(stanza.ItemNotFound, "no such occupant")
	}
	if r.affiliationOf(t.real).rank() > r.affiliationOf(actor.real).rank() {
		return nil, stanza.NewError(stanza.NotAllowed, "the occupant's affiliation is higher than yours")
	}
	return t, nil
}

// mute stops the forwarding of an occupant's media until it unmutes (or,
// for one's own media, until one unmutes). Muting others needs mute_others.
func (r *room) mute(actor *occupant, q *xmlstream.Element) error {
	media, err := parseMedia(q.Attr("media"))
	if err != nil {
		return err
	}
	t, err := r.target(actor, q.Attr("nick"))
	if err != nil {
		return err
	}
	if t != actor {
		if err := r.require(r.permsOf(actor), perm.MuteOthers, "you may not mute others"); err != nil {
			return err
		}
	}
	t.muted |= media
	r.changed(t, actor.nick)
	return nil
}

// unmute lifts one's own mute (needing the publish permission of each
// medium), or asks another occupant to unmute (needing ask_unmute): the
// room sends it a message it may act on.
func (r *room) unmute(actor *occupant, q *xmlstream.Element) error {
	media, err := parseMedia(q.Attr("media"))
	if err != nil {
		return err
	}
	t, err := r.target(actor, q.Attr("nick"))
	if err != nil {
		return err
	}
	if t != actor {
		if err := r.require(r.permsOf(actor), perm.AskUnmute, "you may not ask others to unmute"); err != nil {
			return err
		}
		ask := xmlstream.New(NSPerm, "unmute", "media", mediaNames(media), "by", actor.nick)
		m := xmlstream.New(xmlstream.NSClient, "message", "type", "normal", "from", r.jid.String(), "to", t.real.String())
		r.route(m.Add(ask))
		return nil
	}
	have := r.permsOf(actor)
	for _, m := range mediaPermissions {
		if media.Has(m.p) && actor.muted.Has(m.p) {
			if err := r.require(have, m.p, "you may not publish "+m.name); err != nil {
				return err
			}
		}
	}
	actor.muted &^= media
	r.changed(actor, "")
	return nil
}

// override changes an occupant's permissions one at a time for the rest
// of its visit (grant_roles). Nobody grants what they do not hold, and a
// grant of a publish permission lifts the matching mute.
func (r *room) override(actor *occupant, q *xmlstream.Element) error {
	have := r.permsOf(actor)
	if err := r.require(have, perm.GrantRoles, "you may not change permissions"); err != nil {
		return err
	}
	t, err := r.target(actor, q.Attr("nick"))
	if err != nil {
		return err
	}
	var o perm.Overrides
	for _, it := range q.ChildrenNamed(NSPerm, "permission") {
		p, err := perm.ParsePermission(it.Attr("name"))
		if err != nil {
			return stanza.NewError(stanza.BadRequest, err.Error())
		}
		allow := it.Attr("allow")
		if allow != "true" && allow != "false" {
			return stanza.NewError(stanza.BadRequest, "allow is true or false")
		}
		if allow == "true" && !have.Has(p) {
			return r.deny(p, "you may not grant what you do not hold")
		}
		o.Set(p, allow == "true")
	}
	if o.IsZero() {
		return stanza.NewError(stanza.BadRequest, "no permission to change")
	}
	t.granted = t.granted.Then(o)
	t.muted &^= o.Grant
	r.changed(t, actor.nick)
	return nil
}

// configLocks reports whether going from old to cfg changes how the room
// is locked: its password, members-only, moderation, lobby or guests.
func configLocks(old, cfg RoomConfig) bool {
	return old.PasswordProtected != cfg.PasswordProtected || old.PasswordHash != cfg.PasswordHash ||
		old.MembersOnly != cfg.MembersOnly || old.Moderated != cfg.Moderated ||
		old.Lobby != cfg.Lobby || old.NoGuests != cfg.NoGuests
}

// onlyLocks reports whether cfg differs from old in lock settings only,
// or in lastN: what whoever holds lock_room may change without being an
// owner (a moderator's room settings).
func onlyLocks(old, cfg RoomConfig) bool {
	cfg.LastN = old.LastN
	cfg.PasswordProtected, cfg.PasswordHash = old.PasswordProtected, old.PasswordHash
	cfg.MembersOnly, cfg.Moderated = old.MembersOnly, old.Moderated
	cfg.Lobby, cfg.NoGuests = old.Lobby, old.NoGuests
	return configEqual(old, cfg)
}
