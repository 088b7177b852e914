package muc

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

const testDomain = "conference.example.test"

// fakeRouter records what the service routes.
type fakeRouter struct {
	mu  sync.Mutex
	out []*xmlstream.Element // guarded by mu
}

func (f *fakeRouter) Route(st *xmlstream.Element) {
	f.mu.Lock()
	f.out = append(f.out, st)
	f.mu.Unlock()
}

// take returns and forgets what was routed so far.
func (f *fakeRouter) take() []*xmlstream.Element {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.out
	f.out = nil
	return out
}

// harness runs one Service with a fake router, a settable clock and an
// event log.
type harness struct {
	t      *testing.T
	svc    *Service
	router *fakeRouter
	mu     sync.Mutex
	now    time.Time // guarded by mu
	events []Event   // guarded by mu
}

func newHarness(t *testing.T, mods ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, router: &fakeRouter{}, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg := Config{
		Domain: testDomain,
		Router: h.router,
		Clock: func() time.Time {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.now
		},
		OnEvent: func(ev Event) {
			h.mu.Lock()
			h.events = append(h.events, ev)
			h.mu.Unlock()
		},
	}
	for _, m := range mods {
		m(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { svc.Close() })
	h.svc = svc
	return h
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

func (h *harness) takeEvents() []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	ev := h.events
	h.events = nil
	return ev
}

// parse turns XML text into an Element in jabber:client.
func parse(t testing.TB, s string) *xmlstream.Element {
	t.Helper()
	el, err := xmlstream.ParseElementIn([]byte(s), xmlstream.Limits{}, xmlstream.NSClient)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return el
}

// send hands the service a stanza and returns what it routed in answer.
func (h *harness) send(format string, args ...any) []*xmlstream.Element {
	h.t.Helper()
	h.router.take()
	h.svc.HandleStanza(parse(h.t, fmt.Sprintf(format, args...)))
	return h.router.take()
}

// join sends a join presence (with the MUC element when withX).
func (h *harness) join(from, roomNick string, withX bool) []*xmlstream.Element {
	h.t.Helper()
	x := ""
	if withX {
		x = "<x xmlns='" + NSMUC + "'/>"
	}
	return h.send("<presence from='%s' to='%s'>%s</presence>", from, roomNick, x)
}

// mustJoin joins and fails the test unless the joiner got its self-presence.
func (h *harness) mustJoin(from, roomNick string) []*xmlstream.Element {
	h.t.Helper()
	out := h.join(from, roomNick, false)
	self := findSelfPresence(out, from)
	if self == nil {
		h.t.Fatalf("%s did not join %s; got:\n%s", from, roomNick, dump(out))
	}
	return out
}

// room makes an instant room owned by owner@example.test/o with nick "owner".
func (h *harness) room(name string) string {
	h.t.Helper()
	h.mustJoin("owner@example.test/o", name+"@"+testDomain+"/owner")
	return name + "@" + testDomain
}

// submit sends the owner's config form with the given fields.
func (h *harness) submit(owner, room string, fields map[string]string) []*xmlstream.Element {
	h.t.Helper()
	form := "<field var='FORM_TYPE'><value>" + NSRoomConfig + "</value></field>"
	for k, v := range fields {
		form += "<field var='" + k + "'><value>" + v + "</value></field>"
	}
	return h.send("<iq type='set' id='cfg' from='%s' to='%s'><query xmlns='%s'><x xmlns='jabber:x:data' type='submit'>%s</x></query></iq>",
		owner, room, NSMUCOwner, form)
}

// configure submits the form and fails unless it succeeded.
func (h *harness) configure(owner, room string, fields map[string]string) {
	h.t.Helper()
	out := h.submit(owner, room, fields)
	if res := findTo(out, owner, "iq"); res == nil || res.Attr("type") != "result" {
		h.t.Fatalf("configure failed:\n%s", dump(out))
	}
}

// admin sends a muc#admin set with one item.
func (h *harness) admin(from, room, item string) []*xmlstream.Element {
	h.t.Helper()
	return h.send("<iq type='set' id='adm' from='%s' to='%s'><query xmlns='%s'>%s</query></iq>",
		from, room, NSMUCAdmin, item)
}

func dump(out []*xmlstream.Element) string {
	s := ""
	for _, st := range out {
		s += "  " + st.String() + "\n"
	}
	return s
}

// findTo returns the first stanza of that kind addressed to to.
func findTo(out []*xmlstream.Element, to, kind string) *xmlstream.Element {
	for _, st := range out {
		if st.Attr("to") == to && (kind == "" || st.Name == kind) {
			return st
		}
	}
	return nil
}

// allTo returns every stanza addressed to to.
func allTo(out []*xmlstream.Element, to string) []*xmlstream.Element {
	var res []*xmlstream.Element
	for _, st := range out {
		if st.Attr("to") == to {
			res = append(res, st)
		}
	}
	return res
}

// findSelfPresence returns the presence to real that carries status 110.
func findSelfPresence(out []*xmlstream.Element, real string) *xmlstream.Element {
	for _, st := range out {
		if st.Name == "presence" && st.Attr("to") == real && hasStatus(st, 110) {
			return st
		}
	}
	return nil
}

func statuses(st *xmlstream.Element) []int {
	var codes []int
	x := st.Child(NSMUCUser, "x")
	if x == nil {
		return nil
	}
	for _, s := range x.ChildrenNamed(NSMUCUser, "status") {
		n, _ := strconv.Atoi(s.Attr("code"))
		codes = append(codes, n)
	}
	return codes
}

func hasStatus(st *xmlstream.Element, code int) bool {
	for _, c := range statuses(st) {
		if c == code {
			return true
		}
	}
	return false
}

func item(st *xmlstream.Element) *xmlstream.Element {
	return st.Child(NSMUCUser, "x").Child(NSMUCUser, "item")
}

// errCond returns the stanza's error condition, or "" if it is no error.
func errCond(st *xmlstream.Element) string {
	if st == nil || st.Attr("type") != "error" {
		return ""
	}
	if e := stanza.ParseError(st); e != nil {
		return string(e.Condition)
	}
	return ""
}

// expectError fails unless out holds exactly one stanza: an error with cond to to.
func expectError(t *testing.T, out []*xmlstream.Element, to string, cond stanza.Condition) *xmlstream.Element {
	t.Helper()
	if len(out) != 1 || out[0].Attr("to") != to || errCond(out[0]) != string(cond) {
		t.Fatalf("want only a %s error to %s, got:\n%s", cond, to, dump(out))
	}
	return out[0]
}

func mustJID(s string) jid.JID { return jid.MustParse(s) }
