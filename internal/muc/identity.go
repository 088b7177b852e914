package muc

import (
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/token"
	"parley.dev/parley/internal/xmlstream"
)

// NSIdentity is parley's server-stamped identity element in occupant
// presence: who the server knows the occupant to be (an account, a guest,
// or a token's user with its verified name and avatar). Clients cannot
// forge it: the room drops copies they send.
const NSIdentity = "urn:parley:identity:0"

// IdentityKind says how an occupant's session authenticated.
type IdentityKind int

// Identity kinds. IdentityUnknown is what rooms see without
// Config.Identify (and what the server says of other servers' users).
const (
	IdentityUnknown IdentityKind = iota
	IdentityAccount
	IdentityGuest
	IdentityToken
)

func (k IdentityKind) String() string {
	switch k {
	case IdentityAccount:
		return "account"
	case IdentityGuest:
		return "guest"
	case IdentityToken:
		return "token"
	}
	return "unknown"
}

// Identity is who an occupant's session is, as the server authenticated
// it, and what that means for its permissions. The zero value is a
// logged-in user with no overrides.
type Identity struct {
	Kind  IdentityKind
	Token *token.Identity // for IdentityToken; read-only
	// Anonymous: a guest (SASL ANONYMOUS, no token); it gets the guest
	// role where a logged-in user gets participant.
	Anonymous bool
	// Overrides change the session's set one permission at a time (from a
	// token's claims); they apply after the room's role defaults.
	Overrides perm.Overrides
	// Moderator (a token's moderator claim) makes the occupant enter with
	// the XEP-0045 moderator role, whatever its affiliation: the parley
	// role moderator. (The token also makes it an owner for the visit,
	// identityAffiliation.)
	Moderator bool
}

// checkIdentity refuses a join the identity does not allow: a token for
// another room, or a guest in a room that takes none.
func (r *room) checkIdentity(id Identity) error {
	if id.Kind == IdentityToken && id.Token != nil {
		if err := id.Token.AllowsRoom(r.jid.Local); err != nil {
			r.svc.counters.tokenRoomRefused.Add(1)
			if r.svc.onTokenRefused != nil {
				r.svc.onTokenRefused(err)
			}
			return stanza.NewError(stanza.NotAuthorized, err.Error())
		}
	}
	if id.Kind == IdentityGuest && r.config.NoGuests {
		r.svc.counters.guestsRefused.Add(1)
		return stanza.NewError(stanza.RegistrationRequired, "this room takes no guests: log in with an account or a token")
	}
	return nil
}

// identityAffiliation is the affiliation a token grants for this visit:
// Jitsi's moderator claim, or parley's role, makes its user an owner (or
// admin, or member) while present, without storing anything.
func identityAffiliation(id Identity) Affiliation {
	if id.Kind != IdentityToken || id.Token == nil {
		return AffNone
	}
	switch {
	case id.Token.Role == "owner", id.Token.Moderator && id.Token.Role == "":
		return AffOwner
	case id.Token.Role == "moderator":
		return AffAdmin
	case id.Token.Role == "participant":
		return AffMember
	}
	return AffNone
}

// identityElement is o's server-stamped identity, for its presence.
func (o *occupant) identityElement() *xmlstream.Element {
	el := xmlstream.New(NSIdentity, "identity", "kind", o.ident.Kind.String())
	if t := o.ident.Token; t != nil {
		el.SetAttr("id", t.UserID)
		if t.Name != "" {
			el.SetAttr("name", t.Name)
		}
		if t.Avatar != "" {
			el.SetAttr("avatar", t.Avatar)
		}
		if t.Moderator {
			el.SetAttr("moderator", "true")
		}
	}
	return el
}

// displayName is how o is shown to moderators in the lobby: the token's
// name, else the nick.
func displayName(id Identity, nick string) string {
	if id.Token != nil && id.Token.Name != "" {
		return id.Token.Name
	}
	return nick
}

// forgetTokenAffiliation drops the affiliation a token granted once no
// session of that user is left in the room.
func (r *room) forgetTokenAffiliation(real jid.JID) {
	bare := real.Bare()
	if _, ok := r.tokenAff[bare]; !ok {
		return
	}
	for j := range r.byJID {
		if j.Bare() == bare {
			return
		}
	}
	delete(r.tokenAff, bare)
}
