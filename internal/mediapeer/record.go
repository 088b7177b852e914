package mediapeer

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// nsRecord is recording's namespace (docs/SIGNALLING.md §14).
const nsRecord = "urn:parley:record:0"

// StartRecording asks the room to record the meeting (it needs the record
// permission, checked by the server) and returns the recording's id. A
// recorder then joins; its occupant carries the id in Recording.
func (p *Peer) StartRecording(ctx context.Context) (string, error) {
	res, err := p.recordRequest(ctx, xmlstream.New(nsRecord, "record", "action", "start"))
	if err != nil {
		return "", err
	}
	return attr(res.Child(nsRecord, "record"), "id"), nil
}

// StopRecording stops a recording of the room, or all of them with id "".
func (p *Peer) StopRecording(ctx context.Context, id string) error {
	q := xmlstream.New(nsRecord, "record", "action", "stop")
	if id != "" {
		q.SetAttr("id", id)
	}
	_, err := p.recordRequest(ctx, q)
	return err
}

// Recording is one recording of the room, as ListRecordings gives it.
type Recording struct {
	ID, State, Reason, By string    // State: "recording", "stopped", "failed"
	Started, Ended        time.Time // Ended is zero while it runs
	Files                 []RecordingFile
}

// RecordingFile is one file of a recording. URL is a path on the server's
// web port, signed and good for an hour: no login is needed to GET it.
type RecordingFile struct {
	Name, Nick, Kind string // Kind: "audio", "video", "composite", "manifest"
	Bytes            int64  // 0 when not known (the composite, the manifest)
	URL              string
}

// ListRecordings lists the room's recordings, oldest first; it needs the
// record permission, checked by the server.
func (p *Peer) ListRecordings(ctx context.Context) ([]Recording, error) {
	res, err := p.recordIQ(ctx, "get", xmlstream.New(nsRecord, "recordings"))
	if err != nil {
		return nil, err
	}
	list := res.Child(nsRecord, "recordings")
	if list == nil {
		return nil, errors.New("mediapeer: the room's answer has no <recordings/>")
	}
	out := []Recording{}
	for _, el := range list.ChildrenNamed(nsRecord, "recording") {
		r := Recording{ID: el.Attr("id"), State: el.Attr("state"), Reason: el.Attr("reason"), By: el.Attr("by"),
			Files: []RecordingFile{}}
		r.Started, _ = time.Parse(time.RFC3339, el.Attr("started"))
		r.Ended, _ = time.Parse(time.RFC3339, el.Attr("ended"))
		for _, f := range el.ChildrenNamed(nsRecord, "file") {
			n, _ := strconv.ParseInt(f.Attr("bytes"), 10, 64)
			r.Files = append(r.Files, RecordingFile{Name: f.Attr("name"), Nick: f.Attr("nick"), Kind: f.Attr("kind"),
				Bytes: n, URL: f.Attr("url")})
		}
		out = append(out, r)
	}
	return out, nil
}

// RemoveRecording deletes a finished recording of the room and its
// files; it needs the record permission.
func (p *Peer) RemoveRecording(ctx context.Context, id string) error {
	_, err := p.recordRequest(ctx, xmlstream.New(nsRecord, "record", "action", "remove", "id", id))
	return err
}

func (p *Peer) recordRequest(ctx context.Context, q *xmlstream.Element) (*xmlstream.Element, error) {
	return p.recordIQ(ctx, "set", q)
}

func (p *Peer) recordIQ(ctx context.Context, typ string, q *xmlstream.Element) (*xmlstream.Element, error) {
	select {
	case <-p.ended:
		return nil, ErrClosed
	default:
	}
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", typ, "to", p.room.String()).Add(q)
	res, err := p.conn.request(ctx, iq)
	var se *stanza.Error
	if errors.As(err, &se) {
		return nil, &ModerationError{Action: strings.TrimSpace("record " + q.Attr("action")), Condition: string(se.Condition), Text: se.Text}
	}
	return res, err
}

// nsPhone is the namespace of phones in rooms (docs/SIGNALLING.md §16).
const nsPhone = "urn:parley:phone:0"

// readRecording fills occ.Recording from a recorder's presence stamp.
func readRecording(st *xmlstream.Element, occ *Occupant) {
	if el := st.Child(nsRecord, "recording"); el != nil {
		occ.Recording = el.Attr("id")
		if occ.Recording == "" {
			occ.Recording = "-"
		}
	}
}
