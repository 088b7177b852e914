package muc

import (
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// NSPhone is the namespace of phones in rooms (docs/SIGNALLING.md §16):
// an occupant reads the room's dial-in number and PIN with
// <dial-in/>, one holding dial_out calls a phone into the room with
// <dial to/>, and a phone's presence carries <phone/>.
const NSPhone = "urn:parley:phone:0"

// Phones is the SIP gateway as rooms see it (internal/sip's Gateway,
// through app). Both are called from a goroutine of their own, never
// under a room's lock, so they may take their time.
type Phones interface {
	// PhoneDialIn returns the number phones call (the operator's, "" if
	// none was configured) and room's PIN, which the IVR asks for.
	PhoneDialIn(room string) (number, pin string, err error)
	// PhoneDial calls to (a number or a SIP URI) into room on behalf of
	// by, and returns once the callee is in the room (the phone's nick)
	// or the call failed: busy, no answer, rejected. Its errors become
	// stanza errors (a StanzaError method, or internal-server-error).
	PhoneDial(room, to, by string) (nick string, err error)
}

// handlePhoneIQ serves <dial-in/> (get: any occupant) and <dial to/> (set:
// dial_out) in urn:parley:phone:0.
func (r *room) handlePhoneIQ(st, q *xmlstream.Element, from jid.JID, typ string) {
	o := r.byJID[from]
	phones := r.svc.phones
	room := r.jid.Local
	switch {
	case q.Is(NSPhone, "dial-in") && typ == "get":
		if o == nil {
			r.reply(st, stanza.NewError(stanza.Forbidden, "only occupants may read the room's dial-in PIN"))
			return
		}
		if phones == nil {
			r.reply(st, stanza.NewError(stanza.FeatureNotImplemented, "this server has no SIP gateway"))
			return
		}
		go func() {
			number, pin, err := phones.PhoneDialIn(room)
			if err != nil {
				r.reply(st, err)
				return
			}
			r.route(stanza.IQResult(st).Add(xmlstream.New(NSPhone, "dial-in", "number", number, "pin", pin)))
		}()
	case q.Is(NSPhone, "dial") && typ == "set":
		if !r.permsOfJID(from, o).Has(perm.DialOut) {
			r.reply(st, r.deny(perm.DialOut, "you may not call phones into this meeting"))
			return
		}
		to := q.Attr("to")
		if to == "" || len(to) > 256 {
			r.reply(st, stanza.NewError(stanza.BadRequest, "dial needs a number or SIP URI in 'to'"))
			return
		}
		if phones == nil {
			r.reply(st, stanza.NewError(stanza.FeatureNotImplemented, "this server has no SIP gateway"))
			return
		}
		by := from.Bare().String()
		if o != nil {
			by = o.nick
		}
		go func() {
			nick, err := phones.PhoneDial(room, to, by)
			if err != nil {
				r.reply(st, err)
				return
			}
			r.route(stanza.IQResult(st).Add(xmlstream.New(NSPhone, "dial", "nick", nick)))
		}()
	default:
		r.reply(st, stanza.NewError(stanza.BadRequest, "dial-in is a get request, dial a set request"))
	}
}
