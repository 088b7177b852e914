package focus

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Limits of a signalling trace.
const (
	maxTraceDuration = 30 * time.Minute
	maxTraceEntries  = 10000 // then the oldest go
)

// TraceEntry is one stanza to or from the focus, redacted.
type TraceEntry struct {
	At     time.Time `json:"at"`
	Dir    string    `json:"dir"` // "in" (to the focus) or "out"
	Stanza string    `json:"stanza"`
}

// Trace is a conference's recorded signalling.
type Trace struct {
	Room    string       `json:"room"`
	Started time.Time    `json:"started"`
	Until   time.Time    `json:"until"`
	Dropped int          `json:"dropped"` // oldest entries dropped beyond the limit
	Entries []TraceEntry `json:"entries"`
}

// tracer records the signalling of the conferences being traced. Stanzas
// are attributed to a room by their Jingle sid, or by the IQ id of the
// traced request they answer.
type tracer struct {
	mu     sync.Mutex
	traces map[jid.JID]*Trace // by room; guarded by mu
	ids    map[string]jid.JID // id of a traced IQ request -> its room, until answered; guarded by mu
}

// ErrNoTrace is asked-for trace that was never started.
var ErrNoTrace = errors.New("focus: no trace of this room")

// StartTrace records the room's signalling for d (at most 30 minutes),
// replacing an earlier trace of the room.
func (f *Focus) StartTrace(room jid.JID, d time.Duration) {
	d = min(max(d, time.Second), maxTraceDuration)
	now := time.Now()
	f.trace.mu.Lock()
	defer f.trace.mu.Unlock()
	f.trace.traces[room.Bare()] = &Trace{Room: room.Bare().String(), Started: now, Until: now.Add(d), Entries: []TraceEntry{}}
}

// TraceOf returns a copy of the room's trace, recording or finished.
func (f *Focus) TraceOf(room jid.JID) (Trace, error) {
	f.trace.mu.Lock()
	defer f.trace.mu.Unlock()
	t := f.trace.traces[room.Bare()]
	if t == nil {
		return Trace{}, ErrNoTrace
	}
	out := *t
	out.Entries = append([]TraceEntry(nil), t.Entries...)
	return out, nil
}

// record adds st to the trace of its room, if that room is being traced.
func (f *Focus) record(dir string, st *xmlstream.Element) {
	f.trace.mu.Lock()
	empty := len(f.trace.traces) == 0
	f.trace.mu.Unlock()
	if empty || st == nil {
		return
	}
	room, ok := f.roomOf(st)
	if !ok {
		return
	}
	now := time.Now()
	f.trace.mu.Lock()
	defer f.trace.mu.Unlock()
	t := f.trace.traces[room]
	if t == nil || now.After(t.Until) {
		return
	}
	id := st.Attr("id")
	switch st.Attr("type") {
	case "get", "set":
		f.trace.ids[id] = room
	default:
		delete(f.trace.ids, id)
	}
	if len(t.Entries) >= maxTraceEntries {
		t.Entries = t.Entries[1:]
		t.Dropped++
	}
	t.Entries = append(t.Entries, TraceEntry{At: now, Dir: dir, Stanza: redact(st).String()})
}

// roomOf finds the room a stanza of the focus belongs to.
func (f *Focus) roomOf(st *xmlstream.Element) (jid.JID, bool) {
	if j := st.Child(NSJingle, "jingle"); j != nil {
		f.mu.Lock()
		c := f.sessions[j.Attr("sid")]
		f.mu.Unlock()
		if c != nil {
			return c.room, true
		}
	}
	f.trace.mu.Lock()
	defer f.trace.mu.Unlock()
	room, ok := f.trace.ids[st.Attr("id")]
	return room, ok
}

// redact copies st without ICE passwords, and without any password, token
// or SASL payload an extension might carry.
func redact(st *xmlstream.Element) *xmlstream.Element {
	c := st.Copy()
	var walk func(e *xmlstream.Element)
	walk = func(e *xmlstream.Element) {
		for _, a := range []string{"pwd", "password", "token"} {
			if e.Attr(a) != "" {
				e.SetAttr(a, "[redacted]")
			}
		}
		switch strings.ToLower(e.Name) {
		case "password", "token", "auth", "response", "challenge", "success":
			e.SetText("[redacted]")
		}
		for _, k := range e.Children {
			walk(k)
		}
	}
	walk(c)
	return c
}

// handleTraceIQ is a moderator's request to the focus: <trace
// xmlns='urn:parley:focus:0' room='ROOM' seconds='N'/> (set) starts
// recording the room's signalling; a get returns the trace as JSON in the
// element's text. It needs the permission to record (docs/SIGNALLING.md §7).
func (f *Focus) handleTraceIQ(iq, payload *xmlstream.Element) {
	room, err := jid.Parse(payload.Attr("room"))
	f.mu.Lock()
	c := f.conferences[room.Bare()]
	f.mu.Unlock()
	if err != nil || c == nil {
		f.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.ItemNotFound, "no conference in that room")))
		return
	}
	from, _ := jid.Parse(iq.Attr("from"))
	c.post(func() { c.traceRequest(iq, payload, from) })
}

// traceRequest checks the requester's rights in the conference and answers.
func (c *conference) traceRequest(iq, payload *xmlstream.Element, from jid.JID) {
	var who *participant
	for _, p := range c.byNick {
		if p.real == from {
			who = p
		}
	}
	if who == nil || !who.rights.may(perm.Record) {
		c.f.refused.Add(perm.Record)
		c.f.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.Forbidden, "tracing the signalling needs the record permission")))
		return
	}
	if iq.Attr("type") == "set" {
		secs := 60
		if n, err := parseSeconds(payload.Attr("seconds")); err == nil {
			secs = n
		}
		c.f.StartTrace(c.room, time.Duration(secs)*time.Second)
		c.f.reply(stanza.IQResult(iq))
		return
	}
	t, err := c.f.TraceOf(c.room)
	if err != nil {
		c.f.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.ItemNotFound, err.Error())))
		return
	}
	c.f.reply(stanza.IQResult(iq, xmlstream.New(nsParleyRoom, "trace").SetText(t.JSON())))
}

// JSON is the trace as JSON.
func (t Trace) JSON() string {
	b, _ := json.Marshal(t) // plain data: cannot fail
	return string(b)
}

// parseSeconds reads a positive whole number of seconds.
func parseSeconds(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err == nil && n <= 0 {
		err = errors.New("not positive")
	}
	return n, err
}
