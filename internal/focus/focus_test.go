package focus

import (
	"fmt"
	"strings"
	"testing"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/jingle"
	"parley.dev/parley/internal/xmlstream"
)

// TestSessionFlow: disco, session-initiate naming the room, an answer in
// the offer's m-line order whatever order the client sends its contents
// in, trickled candidates, gates from the occupant's rights.
func TestSessionFlow(t *testing.T) {
	b := &fakeBridge{name: "A"}
	h := newHarness(t, b)
	init := h.join("alice")
	if len(init.Contents) != 2 || init.Initiator != "focus.example.test" {
		t.Fatalf("session-initiate %+v", init)
	}
	var p *fakeParticipant
	eventually(t, "alice on the bridge", func() bool { p = firstParticipant(b); return p != nil })
	// The client answers with its contents in reverse order.
	ans := answer("session-accept", init.SID, init.Contents)
	ans.Contents[0], ans.Contents[1] = ans.Contents[1], ans.Contents[0]
	if res := h.send("alice", ans); res.Attr("type") != "result" {
		t.Fatalf("session-accept refused: %s", res)
	}
	answers, _, _ := p.snapshot()
	if len(answers) != 1 || strings.Index(answers[0], "m=audio") > strings.Index(answers[0], "m=video") || !strings.Contains(answers[0], "a=setup:active") {
		t.Fatalf("answers %q", answers)
	}
	cand := &jingle.Jingle{Action: "transport-info", SID: init.SID, Contents: []jingle.Content{{Name: "a0",
		Transport: &jingle.ICETransport{Candidates: []jingle.Candidate{{Component: 1, Foundation: "1", Generation: 0, ID: "c1", IP: "198.51.100.7", Port: 5000, Priority: 100, Protocol: "udp", Type: "host"}}}}}}
	if res := h.send("alice", cand); res.Attr("type") != "result" {
		t.Fatalf("transport-info refused: %s", res)
	}
	if _, cands, _ := p.snapshot(); len(cands) != 1 || !strings.Contains(cands[0], "198.51.100.7 5000") {
		t.Fatalf("candidates %q", cands)
	}
	p.mu.Lock()
	gates := map[bridge.Source]bool{}
	for k, v := range p.forwarding {
		gates[k] = v
	}
	p.mu.Unlock()
	if !gates[bridge.SourceAudio] || !gates[bridge.SourceCamera] || !gates[bridge.SourceScreen] {
		t.Errorf("gates %v for a participant who may publish everything", gates)
	}
	// Somebody else may not act on alice's session.
	if res := h.send("mallory", cand); res.Attr("type") != "error" {
		t.Fatalf("a stranger's transport-info was taken: %s", res)
	}
}

func firstParticipant(b *fakeBridge) *fakeParticipant {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.confs {
		c.mu.Lock()
		for _, p := range c.parts {
			c.mu.Unlock()
			return p
		}
		c.mu.Unlock()
	}
	return nil
}

// TestOutOfOrderAccepts: an accept with no offer out is refused without
// ending the session; a renegotiation the bridge asks for while an offer
// is out waits for its answer.
func TestOutOfOrderAccepts(t *testing.T) {
	b := &fakeBridge{name: "A"}
	h := newHarness(t, b)
	init := h.join("alice")
	var p *fakeParticipant
	eventually(t, "alice on the bridge", func() bool { p = firstParticipant(b); return p != nil })

	// A content-accept before any content-add: out of order.
	res := h.send("alice", answer("content-accept", init.SID, init.Contents))
	if cond, jc := errorCondition(res); cond != "unexpected-request" || jc != "out-of-order" {
		t.Fatalf("early content-accept: %s", res)
	}
	// The bridge wants a new offer while the first is out: nothing yet.
	p.needsOffer()
	h.none("a content-add before the session-accept", jingleTo(client("alice"), "content-add"))
	if res := h.send("alice", answer("session-accept", init.SID, init.Contents)); res.Attr("type") != "result" {
		t.Fatalf("session-accept refused: %s", res)
	}
	// Now the waiting renegotiation goes out.
	add := h.ack(h.next("content-add", jingleTo(client("alice"), "content-add")))
	if add.SID != init.SID {
		t.Fatalf("content-add for sid %s", add.SID)
	}
	// A second session-accept is out of order; the session lives on.
	res = h.send("alice", answer("session-accept", init.SID, init.Contents))
	if cond, jc := errorCondition(res); cond != "unexpected-request" || jc != "out-of-order" {
		t.Fatalf("repeated session-accept: %s", res)
	}
	if _, _, closed := p.snapshot(); closed {
		t.Fatal("an out-of-order accept ended the session")
	}
	// The content-accept for the content-add is taken (the offer's contents
	// changed only in transport; the full set is what the focus orders).
	if res := h.send("alice", answer("content-accept", init.SID, add.Contents)); res.Attr("type") != "result" {
		t.Fatalf("content-accept refused: %s", res)
	}
	if answers, _, _ := p.snapshot(); len(answers) != 2 {
		t.Fatalf("%d answers set, want 2", len(answers))
	}
}

// TestMissingContentEndsTheSession: an answer lacking an offered content
// is refused with bad-request, and the session is terminated.
func TestMissingContentEndsTheSession(t *testing.T) {
	b := &fakeBridge{name: "A"}
	h := newHarness(t, b)
	init := h.join("alice")
	var p *fakeParticipant
	eventually(t, "alice on the bridge", func() bool { p = firstParticipant(b); return p != nil })
	ans := answer("session-accept", init.SID, init.Contents[:1])
	res := h.send("alice", ans)
	if cond, _ := errorCondition(res); cond != "bad-request" || !strings.Contains(res.String(), "lacks content v0") {
		t.Fatalf("an answer without v0: %s", res)
	}
	term := h.ack(h.next("session-terminate", jingleTo(client("alice"), "session-terminate")))
	if term.Reason == nil || term.Reason.Condition != "failed-application" {
		t.Fatalf("terminate reason %+v", term.Reason)
	}
	eventually(t, "the bridge session closed", func() bool { _, _, c := p.snapshot(); return c })
	// The sid is gone.
	if res := h.send("alice", answer("session-accept", init.SID, init.Contents)); res.Attr("type") != "error" {
		t.Fatalf("a dead session took an answer: %s", res)
	}
}

// TestTransportRejectEndsTheSession: an ICE restart asked for by the
// participant, whose transport-replace it then rejects.
func TestTransportRejectEndsTheSession(t *testing.T) {
	b := &fakeBridge{name: "A"}
	h := newHarness(t, b)
	init := h.join("alice")
	var p *fakeParticipant
	eventually(t, "alice on the bridge", func() bool { p = firstParticipant(b); return p != nil })
	if res := h.send("alice", answer("session-accept", init.SID, init.Contents)); res.Attr("type") != "result" {
		t.Fatal(res)
	}
	info := &jingle.Jingle{Action: "session-info", SID: init.SID}
	el := info.Element().Add(xmlstream.New(nsParleyRoom, "ice-restart"))
	iq := xmlstreamIQ(h, "alice", el)
	if res := h.next("answer to session-info", answerTo(iq)); res.Attr("type") != "result" {
		t.Fatal(res)
	}
	repl := h.ack(h.next("transport-replace", jingleTo(client("alice"), "transport-replace")))
	if len(repl.Contents) != 2 || repl.Contents[0].Description != nil || repl.Contents[0].Transport.Ufrag != "u"+p.id+"2" {
		t.Fatalf("transport-replace %+v", repl.Contents)
	}
	res := h.send("alice", &jingle.Jingle{Action: "transport-reject", SID: init.SID, Contents: jingle.TransportsOnly(repl.Contents)})
	if res.Attr("type") != "result" {
		t.Fatal(res)
	}
	term := h.ack(h.next("session-terminate", jingleTo(client("alice"), "session-terminate")))
	if term.Reason == nil || term.Reason.Condition != "failed-transport" {
		t.Fatalf("terminate reason %+v", term.Reason)
	}
	eventually(t, "the bridge session closed", func() bool { _, _, c := p.snapshot(); return c })
}

// xmlstreamIQ sends a raw Jingle element from nick and returns the IQ id.
func xmlstreamIQ(h *harness, nick string, el *xmlstream.Element) string {
	h.nextID++
	id := fmt.Sprintf("raw%d", h.nextID)
	h.f.HandleStanza(stanzaIQ(id, nick, el))
	return id
}

// TestBridgeVanishes: the conference's bridge fails mid-call; every media
// participant gets a new session on the other bridge, and the old session
// is forgotten.
func TestBridgeVanishes(t *testing.T) {
	a, b := &fakeBridge{name: "A"}, &fakeBridge{name: "B"}
	h := newHarness(t, a, b)
	initA := h.join("alice")
	initB := h.join("bob")
	for _, who := range []struct {
		nick string
		j    *jingle.Jingle
	}{{"alice", initA}, {"bob", initB}} {
		if res := h.send(who.nick, answer("session-accept", who.j.SID, who.j.Contents)); res.Attr("type") != "result" {
			t.Fatal(res)
		}
	}
	if firstParticipant(b) != nil {
		t.Fatal("B got a participant while A was healthy")
	}
	a.fail()
	newA, newB := h.initiated("alice"), h.initiated("bob")
	if newA.SID == initA.SID || newB.SID == initB.SID {
		t.Fatal("the move kept the old session ids")
	}
	eventually(t, "both on B", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.confs) == 1 && len(b.confs[0].parts) == 2
	})
	if res := h.send("alice", answer("session-accept", newA.SID, newA.Contents)); res.Attr("type") != "result" {
		t.Fatalf("the new session refused its answer: %s", res)
	}
	if res := h.send("bob", answer("session-accept", initB.SID, initB.Contents)); res.Attr("type") != "error" {
		t.Fatalf("the dead session took an answer: %s", res)
	}
	infos := h.f.Conferences(t.Context())
	if len(infos) != 1 || infos[0].Bridge != "B" {
		t.Fatalf("conferences %+v", infos)
	}
}

// TestNoBridgeThenOne: a participant arriving while no bridge can take
// it gets its session once a bridge registers.
func TestNoBridgeThenOne(t *testing.T) {
	h := newHarness(t)
	who := client("alice")
	h.f.Joined(h.room, "alice", who, everything(), Caps{})
	disco := h.next("disco#info", func(st *xmlstream.Element) bool { return st.FirstChild().Is(nsDiscoInfo, "query") })
	q := xmlstream.New(nsDiscoInfo, "query")
	for _, v := range requiredFeatures {
		q.Add(xmlstream.New(nsDiscoInfo, "feature", "var", v))
	}
	h.f.HandleStanza(stanzaResult(disco, who, q))
	eventually(t, "alice waits for a bridge", func() bool {
		infos := h.f.Conferences(t.Context())
		return len(infos) == 1 && len(infos[0].Participants) == 1 && infos[0].Participants[0].State == "no-bridge"
	})
	h.none("a session-initiate without a bridge", jingleTo(who, "session-initiate"))
	b := &fakeBridge{name: "late"}
	h.pool.add(b)
	init := h.initiated("alice")
	if res := h.send("alice", answer("session-accept", init.SID, init.Contents)); res.Attr("type") != "result" {
		t.Fatal(res)
	}
}

// TestOfferToAVanishingBridge: an offer that fails because the bridge is
// gone ends no session; the move that follows gives a new one.
func TestOfferToAVanishingBridge(t *testing.T) {
	a, b := &fakeBridge{name: "A"}, &fakeBridge{name: "B"}
	h := newHarness(t, a, b)
	init := h.join("alice")
	if res := h.send("alice", answer("session-accept", init.SID, init.Contents)); res.Attr("type") != "result" {
		t.Fatal(res)
	}
	p := firstParticipant(a)
	p.mu.Lock()
	p.gone = true
	p.mu.Unlock()
	p.needsOffer()
	h.none("a session-terminate for a bridge's failure", jingleTo(client("alice"), "session-terminate"))
	a.fail()
	if moved := h.initiated("alice"); moved.SID == init.SID {
		t.Fatal("the move kept the old sid")
	}
}
