package xmpp

import (
	"sync"

	"parley.dev/parley/internal/xmlstream"
)

// Client State Indication (XEP-0352): while a client says it is inactive,
// presence updates and chat-state-only messages wait (only the latest
// presence of each sender is kept); everything else goes through at once,
// and becoming active flushes what waited, in order.

const nsCSI = "urn:xmpp:csi:0"

// maxCSIHeld bounds what one inactive session holds; beyond, it flushes.
const maxCSIHeld = 500

type csiBuffer struct {
	mu   sync.Mutex
	held []*xmlstream.Element // guarded by mu
}

func (ss *session) handleCSI(el *xmlstream.Element) {
	switch el.Name {
	case "inactive":
		ss.csiActive.Store(false)
	case "active":
		ss.csiActive.Store(true)
		ss.csiFlush()
	}
}

// csiHold keeps st back if it can wait; it reports whether it did.
func (ss *session) csiHold(st *xmlstream.Element) bool {
	if !csiCanWait(st) {
		// Something urgent: what waited goes first, so order is kept.
		ss.csiFlush()
		return false
	}
	b := &ss.csi
	b.mu.Lock()
	if st.Name == "presence" {
		from := st.Attr("from")
		for i, h := range b.held {
			if h.Name == "presence" && h.Attr("from") == from {
				b.held = append(b.held[:i], b.held[i+1:]...)
				break
			}
		}
	}
	b.held = append(b.held, st)
	full := len(b.held) >= maxCSIHeld
	b.mu.Unlock()
	if full {
		ss.csiFlush()
	}
	return true
}

func csiCanWait(st *xmlstream.Element) bool {
	switch st.Name {
	case "presence":
		t := st.Attr("type")
		return t == "" || t == "unavailable"
	case "message":
		if st.Attr("type") == "groupchat" || st.Attr("type") == "error" {
			return false
		}
		for _, c := range st.Children {
			if c.Space != nsChatStates {
				return false
			}
		}
		return len(st.Children) > 0
	}
	return false
}

func (ss *session) csiFlush() {
	b := &ss.csi
	b.mu.Lock()
	held := b.held
	b.held = nil
	b.mu.Unlock()
	for _, st := range held {
		ss.sendNow(st)
	}
}
