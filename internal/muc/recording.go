package muc

import (
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// NSRecord is the namespace of recording (docs/SIGNALLING.md §14): an
// occupant holding the record permission asks the room with
// <record action="start|stop" [id]/>, and a recorder's presence carries
// <recording id/>, which the room passes on only from occupants that hold
// the record permission: the indicator every client shows cannot be
// faked by someone who may not record.
const NSRecord = "urn:parley:record:0"

// Recordings starts and stops the recordings of rooms (the record
// package's Manager, through app). Both are called under the room's lock
// and must return at once: the recorder joins the room later. Their
// errors become stanza errors (a StanzaError method, or
// internal-server-error).
type Recordings interface {
	// StartRecording starts recording room (its local part) and returns
	// the recording's id; by names who asked.
	StartRecording(room, by string) (id string, err error)
	// StopRecording stops one recording of room, or all of them if id is "".
	StopRecording(room, id string) error
}

// handleRecordIQ serves <record xmlns='urn:parley:record:0' action=.../>.
func (r *room) handleRecordIQ(st, q *xmlstream.Element, from jid.JID) {
	o := r.byJID[from]
	if st.Attr("type") != "set" || !q.Is(NSRecord, "record") {
		r.reply(st, stanza.NewError(stanza.BadRequest, "record is a set request"))
		return
	}
	if !r.permsOfJID(from, o).Has(perm.Record) {
		r.reply(st, r.deny(perm.Record, "you may not record this meeting"))
		return
	}
	if r.svc.recordings == nil {
		r.reply(st, stanza.NewError(stanza.FeatureNotImplemented, "this server does not record"))
		return
	}
	by := from.Bare().String()
	if o != nil {
		by = o.nick
	}
	switch q.Attr("action") {
	case "start":
		id, err := r.svc.recordings.StartRecording(r.jid.Local, by)
		if err != nil {
			r.reply(st, err)
			return
		}
		r.route(stanza.IQResult(st).Add(xmlstream.New(NSRecord, "record", "id", id)))
	case "stop":
		if err := r.svc.recordings.StopRecording(r.jid.Local, q.Attr("id")); err != nil {
			r.reply(st, err)
			return
		}
		r.route(stanza.IQResult(st))
	default:
		r.reply(st, stanza.NewError(stanza.BadRequest, `action is "start" or "stop"`))
	}
}

// withoutRecordingClaim drops a <recording/> stamp from the presence
// payload of an occupant that may not record.
func (r *room) withoutRecordingClaim(o *occupant, payload []*xmlstream.Element) []*xmlstream.Element {
	if r.permsOf(o).Has(perm.Record) {
		return payload
	}
	var out []*xmlstream.Element
	for _, c := range payload {
		if c.Space != NSRecord {
			out = append(out, c)
		}
	}
	return out
}
