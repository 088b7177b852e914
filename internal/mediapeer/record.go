package mediapeer

import (
	"context"
	"errors"

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

func (p *Peer) recordRequest(ctx context.Context, q *xmlstream.Element) (*xmlstream.Element, error) {
	select {
	case <-p.ended:
		return nil, ErrClosed
	default:
	}
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", p.room.String()).Add(q)
	res, err := p.conn.request(ctx, iq)
	var se *stanza.Error
	if errors.As(err, &se) {
		return nil, &ModerationError{Action: "record " + q.Attr("action"), Condition: string(se.Condition), Text: se.Text}
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
