package focus

import (
	"testing"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// XEP-0115's own example (§5.2) hashes to its published string.
func TestCapsVerOfTheXEPExample(t *testing.T) {
	q := xmlstream.New(nsDiscoInfo, "query").Add(
		xmlstream.New(nsDiscoInfo, "identity", "category", "client", "type", "pc", "name", "Exodus 0.9.1"),
		xmlstream.New(nsDiscoInfo, "feature", "var", "http://jabber.org/protocol/disco#info"),
		xmlstream.New(nsDiscoInfo, "feature", "var", "http://jabber.org/protocol/caps"),
		xmlstream.New(nsDiscoInfo, "feature", "var", "http://jabber.org/protocol/muc"),
		xmlstream.New(nsDiscoInfo, "feature", "var", "http://jabber.org/protocol/disco#items"),
	)
	if ver, ok := capsVer(q); !ok || ver != "QgayPKawpkPSDYmwT/WM94uAlu0=" {
		t.Errorf("capsVer = %q, %v; want QgayPKawpkPSDYmwT/WM94uAlu0=", ver, ok)
	}
}

// jingleQuery is a Jingle client's disco#info answer.
func jingleQuery(name string, features []string) *xmlstream.Element {
	q := xmlstream.New(nsDiscoInfo, "query").Add(
		xmlstream.New(nsDiscoInfo, "identity", "category", "client", "type", "web", "name", name))
	for _, v := range features {
		q.Add(xmlstream.New(nsDiscoInfo, "feature", "var", v))
	}
	return q
}

// An occupant announcing capabilities whose meaning the focus verified
// once (an earlier occupant's disco#info hashed to them) is called at
// once, without a disco#info; a hash that an answer does not match is not
// believed, and whoever announces it is asked.
func TestKnownCapabilitiesSkipTheDiscoProbe(t *testing.T) {
	h := newHarness(t, &fakeBridge{name: "A"})
	good := jingleQuery("parley Test 1", requiredFeatures)
	ver, _ := capsVer(good)
	caps := Caps{Hash: "sha-1", Ver: ver}
	probe := func(nick string, answer *xmlstream.Element) {
		t.Helper()
		who := client(nick)
		disco := h.next("disco#info to "+nick, func(st *xmlstream.Element) bool {
			return st.Attr("to") == who.String() && st.FirstChild().Is(nsDiscoInfo, "query")
		})
		h.f.HandleStanza(stanza.IQResult(disco, answer).SetAttr("from", who.String()))
	}
	isProbe := func(st *xmlstream.Element) bool { return st.FirstChild().Is(nsDiscoInfo, "query") }

	// A liar: it announces the hash but answers without the features.
	h.f.Joined(h.room, "mallory", client("mallory"), everything(), caps)
	probe("mallory", jingleQuery("parley Test 1", nil))
	eventually(t, "mallory is chat only", func() bool {
		infos := h.f.Conferences(t.Context())
		return len(infos) == 1 && len(infos[0].Participants) == 1 && infos[0].Participants[0].State == "chat-only"
	})
	// So the next one is still asked; its answer matches and is learned.
	h.f.Joined(h.room, "alice", client("alice"), everything(), caps)
	probe("alice", good)
	h.initiated("alice")
	// Now the hash is known: bob gets his session-initiate unasked.
	h.f.Joined(h.room, "bob", client("bob"), everything(), caps)
	h.initiated("bob")
	h.none("a disco#info to bob", func(st *xmlstream.Element) bool { return isProbe(st) && st.Attr("to") == client("bob").String() })
	// Without capabilities, or with others, the focus asks as before.
	h.f.Joined(h.room, "carol", client("carol"), everything(), Caps{})
	probe("carol", good)
	h.initiated("carol")
}
