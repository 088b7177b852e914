package remotebridge

import (
	"context"
	"errors"
	"time"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/bridgeproto"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// remote is one bridge in the brewery. Guarded by the pool's mu.
type remote struct {
	nick    string
	real    jid.JID // its full JID: orders go there, events come from there
	stats   bridgeproto.Stats
	misses  int                      // pings unanswered in a row
	failed  bool                     // gone: no more placements, its conferences moved
	drained bool                     // by this focus's operator
	confs   map[*conference]struct{} // placed by this pool and not closed
	gone    chan struct{}            // closed when it is failed: its requests give up
}

// presence follows the brewery: bridges arriving, publishing stats, and
// leaving.
func (p *Pool) presence(st *xmlstream.Element) {
	from, _ := jid.Parse(st.Attr("from"))
	nick := from.Resource
	if st.Attr("type") == "error" {
		if nick == p.cfg.Nick {
			p.log.Error("the brewery refused the focus; retrying", "room", p.cfg.Brewery.String(), "err", stanza.ParseError(st))
		}
		return
	}
	if nick == p.cfg.Nick {
		p.mu.Lock()
		p.joined = st.Attr("type") != "unavailable"
		p.mu.Unlock()
		if bridgeproto.Created(st) {
			p.send(p.cfg.Brewery, bridgeproto.InstantRoom())
		}
		return
	}
	if st.Attr("type") == "unavailable" {
		p.fail(nick, nil, "it left the brewery")
		return
	}
	real := realJID(st)
	stats, err := bridgeproto.ParseStats(st.Child(bridgeproto.NS, "stats"))
	if real.IsZero() || err != nil {
		return // not a bridge (or a semi-anonymous brewery: see docs)
	}
	if !p.cfg.Trusted(real) {
		p.mu.Lock()
		logged := p.refused[real.String()]
		p.refused[real.String()] = true
		p.mu.Unlock()
		if !logged {
			p.log.Warn("an untrusted occupant of the brewery claims to be a bridge; ignored", "nick", nick, "jid", real.String())
		}
		return
	}
	p.mu.Lock()
	b := p.bridges[nick]
	replaced := b != nil && b.real != real
	if b == nil || replaced {
		b = &remote{nick: nick, real: real, confs: make(map[*conference]struct{}), gone: make(chan struct{})}
	}
	p.mu.Unlock()
	if replaced {
		p.fail(nick, nil, "it came back as another session")
	}
	p.mu.Lock()
	fresh := p.bridges[nick] == nil
	if fresh {
		p.bridges[nick] = b
	}
	b.stats = stats
	p.mu.Unlock()
	if fresh {
		p.log.Info("bridge registered", "bridge", nick, "jid", real.String(), "region", stats.Region, "version", stats.Version)
		// Whatever it still runs for this focus is from before (a focus
		// restart, or a bridge failed for silence that came back).
		p.send(real, xmlstream.New(bridgeproto.NS, bridgeproto.OrderExpireAllFrom))
	}
}

// realJID reads the occupant's real JID from a non-anonymous room's
// presence.
func realJID(st *xmlstream.Element) jid.JID {
	x := st.Child(nsMUCUser, "x")
	if x == nil {
		return jid.JID{}
	}
	item := x.Child(nsMUCUser, "item")
	if item == nil {
		return jid.JID{}
	}
	j, err := jid.Parse(item.Attr("jid"))
	if err != nil || j.Resource == "" {
		return jid.JID{}
	}
	return j
}

// fail forgets a bridge and fails its conferences: the focus moves them.
// only, if set, fails the bridge only if it is still that one.
func (p *Pool) fail(nick string, only *remote, why string) {
	p.mu.Lock()
	b := p.bridges[nick]
	if b == nil || (only != nil && b != only) {
		p.mu.Unlock()
		return
	}
	delete(p.bridges, nick)
	b.failed = true
	close(b.gone)
	confs := make([]*conference, 0, len(b.confs))
	for c := range b.confs {
		confs = append(confs, c)
	}
	b.confs = nil
	p.mu.Unlock()
	p.log.Warn("bridge failed", "bridge", nick, "why", why, "conferences", len(confs))
	for _, c := range confs {
		c.failed(why)
	}
}

// event delivers a bridge's event to its conference.
func (p *Pool) event(st *xmlstream.Element) {
	ev := st.Child(bridgeproto.NS, "event")
	from, _ := jid.Parse(st.Attr("from"))
	p.mu.Lock()
	var conf *conference
	for _, b := range p.bridges {
		if b.real != from {
			continue
		}
		for c := range b.confs {
			if c.id == ev.Attr("conference") {
				conf = c
			}
		}
	}
	p.mu.Unlock()
	if conf != nil {
		conf.event(ev)
	}
}

// pinger pings every bridge each PingInterval; FailAfter misses in a row
// fail it. It also asks to join the brewery again while it has no answer
// (the room may not have existed, or the server restarted).
func (p *Pool) pinger() {
	t := time.NewTicker(p.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		rejoin := !p.joined && time.Since(p.lastJoin) > 5*time.Second
		bs := make([]*remote, 0, len(p.bridges))
		for _, b := range p.bridges {
			bs = append(bs, b)
		}
		p.mu.Unlock()
		if rejoin {
			p.join()
		}
		for _, b := range bs {
			go p.ping(b)
		}
	}
}

func (p *Pool) ping(b *remote) {
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.PingInterval)
	_, err := p.request(ctx, b, "get", xmlstream.New(nsPing, "ping"))
	cancel()
	if p.ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	switch {
	case err == nil:
		b.misses = 0
	case errors.Is(err, bridge.ErrGone):
		b.misses = p.cfg.FailAfter // the server says its session is gone
	default:
		b.misses++
	}
	dead := b.misses >= p.cfg.FailAfter
	p.mu.Unlock()
	if dead {
		p.fail(b.nick, b, "it stopped answering pings")
	}
}
