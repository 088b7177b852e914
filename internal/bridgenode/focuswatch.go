package bridgenode

import (
	"fmt"
	"strings"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/xmlstream"
)

const nsMUCUser = "http://jabber.org/protocol/muc#user"

// The focus is a piece the bridge cannot work without: it joins the
// brewery (as the bridges do) and gives the orders. The bridge watches
// the brewery's presences for occupants whose real JIDs are configured
// focus JIDs, so that /health and the logs can say by name that the focus
// is missing (start order does not matter, but a missing piece is told).

// brewPresence takes a presence from the brewery: an occupant whose real
// JID (muc#user item, the room being non-anonymous) is a focus arrives or
// leaves. Called by the session's loop.
func (n *Node) brewPresence(st *xmlstream.Element) {
	from, err := jid.Parse(st.Attr("from"))
	if err != nil || from.Bare() != n.cfg.Brewery || from.Resource == "" {
		return
	}
	gone := st.Attr("type") == "unavailable"
	var real jid.JID
	if item := st.Child(nsMUCUser, "x").Child(nsMUCUser, "item"); item != nil {
		real, _ = jid.Parse(item.Attr("jid"))
	}
	n.mu.Lock()
	before := len(n.focusIn)
	if was, ok := n.focusIn[from.Resource]; ok && (gone || !n.trusted(real)) {
		// Left (its leaving presence may not repeat the real JID), or
		// the nick is someone else's now.
		delete(n.focusIn, from.Resource)
		real = was
	} else if !gone && !real.IsZero() && n.trusted(real) {
		n.focusIn[from.Resource] = real
	}
	after := len(n.focusIn)
	n.mu.Unlock()
	switch {
	case before == 0 && after > 0:
		n.log.Info("the focus is in the brewery", "focus", real.String(), "room", n.cfg.Brewery.String())
	case before > 0 && after == 0:
		n.log.Warn("the focus left the brewery; waiting for it", "focus", real.String(), "room", n.cfg.Brewery.String())
	}
}

// forgetFocus clears what a connection saw of the brewery.
func (n *Node) forgetFocus() {
	n.mu.Lock()
	clear(n.focusIn)
	n.mu.Unlock()
}

// focusNames lists the configured focus JIDs, for messages.
func (n *Node) focusNames() string {
	names := make([]string, len(n.cfg.Focus))
	for i, f := range n.cfg.Focus {
		names[i] = f.String()
	}
	return strings.Join(names, ", ")
}

// missingLocked names what the bridge lacks: the XMPP server while it is
// not connected, else a focus in the brewery. Must hold mu.
func (n *Node) missingLocked() []string {
	switch {
	case n.state != "connected":
		return []string{fmt.Sprintf("the XMPP server %s (%s)", n.cfg.XMPP.Address, n.state)}
	case len(n.focusIn) == 0:
		return []string{fmt.Sprintf("the focus %s: not in the brewery %s", n.focusNames(), n.cfg.Brewery)}
	}
	return nil
}
