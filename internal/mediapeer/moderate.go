package mediapeer

import (
	"context"
	"errors"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Roles and affiliations a moderator or admin may give (XEP-0045 §5).
const (
	RoleModerator   = "moderator"
	RoleParticipant = "participant"
	RoleVisitor     = "visitor"
	RoleNone        = "none" // kicks

	AffiliationOwner   = "owner"
	AffiliationAdmin   = "admin"
	AffiliationMember  = "member"
	AffiliationNone    = "none"
	AffiliationOutcast = "outcast" // bans
)

// ModerationError is returned when the room refuses a moderator action:
// forbidden (we are not a moderator), not-allowed (our affiliation is too
// low for this target), item-not-found, conflict, and so on.
type ModerationError struct {
	Action    string // "role" or "affiliation"
	Target    string // the nick or JID acted on
	Condition string // the stanza error condition
	Text      string
}

func (e *ModerationError) Error() string {
	s := "mediapeer: the room refused the " + e.Action + " change for " + e.Target + ": " + e.Condition
	if e.Text != "" {
		s += " (" + e.Text + ")"
	}
	return s
}

// SetRole gives an occupant a role: moderator, participant, visitor, or
// none, which kicks it. reason may be empty.
func (p *Peer) SetRole(ctx context.Context, nick, role, reason string) error {
	switch role {
	case RoleModerator, RoleParticipant, RoleVisitor, RoleNone:
	default:
		return errors.New("mediapeer: unknown role " + role)
	}
	if nick == "" {
		return ErrNotInRoom
	}
	return p.admin(ctx, "role", nick, xmlstream.New(nsMUCAdmin, "item", "nick", nick, "role", role), reason)
}

// Kick removes an occupant from the room.
func (p *Peer) Kick(ctx context.Context, nick, reason string) error {
	return p.SetRole(ctx, nick, RoleNone, reason)
}

// SetAffiliation gives the occupant with that nick (its bare JID, in fact)
// an affiliation: owner, admin, member, none, or outcast, which bans it.
func (p *Peer) SetAffiliation(ctx context.Context, nick, affiliation, reason string) error {
	if err := checkAffiliation(affiliation); err != nil {
		return err
	}
	if nick == "" {
		return ErrNotInRoom
	}
	return p.admin(ctx, "affiliation", nick,
		xmlstream.New(nsMUCAdmin, "item", "nick", nick, "affiliation", affiliation), reason)
}

// SetAffiliationJID gives a bare JID an affiliation, whether or not it is
// in the room.
func (p *Peer) SetAffiliationJID(ctx context.Context, bare jid.JID, affiliation, reason string) error {
	if err := checkAffiliation(affiliation); err != nil {
		return err
	}
	if bare.IsZero() {
		return errors.New("mediapeer: an affiliation needs a JID")
	}
	target := bare.Bare().String()
	return p.admin(ctx, "affiliation", target,
		xmlstream.New(nsMUCAdmin, "item", "jid", target, "affiliation", affiliation), reason)
}

func checkAffiliation(a string) error {
	switch a {
	case AffiliationOwner, AffiliationAdmin, AffiliationMember, AffiliationNone, AffiliationOutcast:
		return nil
	}
	return errors.New("mediapeer: unknown affiliation " + a)
}

// admin sends one muc#admin item and waits for the room's answer.
func (p *Peer) admin(ctx context.Context, action, target string, item *xmlstream.Element, reason string) error {
	select {
	case <-p.ended:
		return ErrClosed
	default:
	}
	if reason != "" {
		item.Add(xmlstream.New(nsMUCAdmin, "reason").SetText(reason))
	}
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", p.room.String()).Add(
		xmlstream.New(nsMUCAdmin, "query").Add(item))
	_, err := p.conn.request(ctx, iq)
	var se *stanza.Error
	if errors.As(err, &se) {
		return &ModerationError{Action: action, Target: target, Condition: string(se.Condition), Text: se.Text}
	}
	return err
}
