package muc

import (
	"strconv"
	"time"

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

// RecordingFiles lists and removes the recordings of rooms (app's view of
// the record package's Manager). Its methods read or change the disk:
// the room calls them on a goroutine of their own, without its lock.
// Their errors become stanza errors.
type RecordingFiles interface {
	// ListRecordings returns room's recordings, oldest first.
	ListRecordings(room string) ([]RecordingEntry, error)
	// RemoveRecording deletes a finished recording of room.
	RemoveRecording(room, id string) error
}

// RecordingEntry is one recording of a room, as occupants allowed to
// record see it.
type RecordingEntry struct {
	ID, State, Reason, By string
	Started, Ended        time.Time // Ended is zero while it runs
	Files                 []RecordingFile
}

// RecordingFile is one file of a recording, with a URL to download it
// (a path on the server's web port, signed and short-lived).
type RecordingFile struct {
	Name, Nick, Kind string // Kind: "audio", "video", "composite" or "manifest"
	Bytes            int64
	URL              string
}

// handleRecordIQ serves <record xmlns='urn:parley:record:0' action=.../>
// and <recordings/> (the list).
func (r *room) handleRecordIQ(st, q *xmlstream.Element, from jid.JID) {
	o := r.byJID[from]
	list := st.Attr("type") == "get" && q.Is(NSRecord, "recordings")
	if !list && (st.Attr("type") != "set" || !q.Is(NSRecord, "record")) {
		r.reply(st, stanza.NewError(stanza.BadRequest, "record is a set request, recordings a get"))
		return
	}
	if !r.permsOfJID(from, o).Has(perm.Record) {
		r.reply(st, r.deny(perm.Record, "you may not record this meeting"))
		return
	}
	if list || q.Attr("action") == "remove" {
		r.handleRecordingFiles(st, q, list)
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
		r.reply(st, stanza.NewError(stanza.BadRequest, `action is "start", "stop" or "remove"`))
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

// handleRecordingFiles lists the room's recordings or removes one, for an
// occupant the caller found holding the record permission. The disk is
// read on a goroutine of its own: the room's lock is not held meanwhile.
func (r *room) handleRecordingFiles(st, q *xmlstream.Element, list bool) {
	files, svc, room := r.svc.recordingFiles, r.svc, r.jid.Local
	if files == nil {
		r.reply(st, stanza.NewError(stanza.FeatureNotImplemented, "this server does not keep recordings"))
		return
	}
	if !list && q.Attr("id") == "" {
		r.reply(st, stanza.NewError(stanza.BadRequest, "remove needs the recording's id"))
		return
	}
	go func() {
		if !list {
			if err := files.RemoveRecording(room, q.Attr("id")); err != nil {
				svc.reply(st, err)
				return
			}
			svc.router.Route(stanza.IQResult(st))
			return
		}
		entries, err := files.ListRecordings(room)
		if err != nil {
			svc.reply(st, err)
			return
		}
		svc.router.Route(stanza.IQResult(st).Add(recordingsElement(entries)))
	}()
}

// recordingsElement is the answer to a list (docs/SIGNALLING.md §14).
func recordingsElement(entries []RecordingEntry) *xmlstream.Element {
	out := xmlstream.New(NSRecord, "recordings")
	for _, e := range entries {
		el := xmlstream.New(NSRecord, "recording", "id", e.ID, "state", e.State)
		for _, a := range [][2]string{{"reason", e.Reason}, {"by", e.By}} {
			if a[1] != "" {
				el.SetAttr(a[0], a[1])
			}
		}
		if !e.Started.IsZero() {
			el.SetAttr("started", e.Started.UTC().Format(time.RFC3339))
		}
		if !e.Ended.IsZero() {
			el.SetAttr("ended", e.Ended.UTC().Format(time.RFC3339))
		}
		for _, f := range e.Files {
			fe := xmlstream.New(NSRecord, "file", "name", f.Name, "kind", f.Kind, "bytes", strconv.FormatInt(f.Bytes, 10), "url", f.URL)
			if f.Nick != "" {
				fe.SetAttr("nick", f.Nick)
			}
			el.Add(fe)
		}
		out.Add(el)
	}
	return out
}
