package xmpp

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Personal Eventing Protocol (XEP-0163) over the XEP-0060 essentials that
// OMEMO (XEP-0384), User Avatars (XEP-0084) and Bookmarks (XEP-0402) use:
// publish with publish-options (access model, max items), items, retract,
// node delete; notifications to the owner's and contacts' resources whose
// Entity Capabilities (XEP-0115) carry <node>+notify, and the last item of
// each such node when a contact's caps are learnt.

const (
	nsPubSub      = "http://jabber.org/protocol/pubsub"
	nsPubSubEvent = "http://jabber.org/protocol/pubsub#event"
	nsPubSubOwner = "http://jabber.org/protocol/pubsub#owner"
	nsPubSubOpts  = "http://jabber.org/protocol/pubsub#publish-options"
	nsCaps        = "http://jabber.org/protocol/caps"
	bucketPEPNode = "pep-node" // owner NUL node -> pepNodeConfig (JSON)
	bucketPEPItem = "pep-item" // owner NUL node NUL seq -> id NUL item XML
	// pepMaxItems bounds a node's items ("max" in publish-options).
	pepMaxItems = 1000
	// pepMaxNodes bounds the nodes of one account.
	pepMaxNodes = 200
	// pepMaxBytes bounds what one account keeps in PEP, all nodes together
	// (avatars are the big items).
	pepMaxBytes = 8 << 20
	// capsCacheMax bounds the caps cache.
	capsCacheMax = 4096
)

type pepNodeConfig struct {
	Access   string `json:"access"` // open, presence, whitelist
	MaxItems int    `json:"max_items"`
}

// pepService holds the caps cache; node data lives in the store.
type pepService struct {
	s  *Server
	mu sync.Mutex
	// caps maps node#ver to the features a client advertised; guarded by mu.
	caps map[string]map[string]bool
	// asked maps a disco#info request id to the session and node#ver; guarded by mu.
	asked map[string]capsRequest
}

type capsRequest struct {
	ss  *session
	ver string
}

func newPEP(s *Server) *pepService {
	return &pepService{s: s, caps: make(map[string]map[string]bool), asked: make(map[string]capsRequest)}
}

func nodeKey(owner, node string) []byte {
	return append(append(append([]byte(owner), 0), node...), 0)
}

func (p *pepService) config(owner, node string) (pepNodeConfig, bool) {
	v, _ := p.s.cfg.Store.Get(bucketPEPNode, nodeKey(owner, node))
	var c pepNodeConfig
	if v == nil || json.Unmarshal(v, &c) != nil {
		return pepNodeConfig{Access: "presence", MaxItems: 1}, false
	}
	return c, true
}

// mayRead applies the node's access model to a requester.
func (p *pepService) mayRead(owner string, c pepNodeConfig, who jid.JID) bool {
	if who.Local == owner && who.Domain == p.s.domain.Domain {
		return true
	}
	switch c.Access {
	case "open":
		return true
	case "presence", "":
		item, ok := p.s.rosters.item(owner, who.Bare())
		return ok && (item.Subscription == subFrom || item.Subscription == subBoth)
	}
	return false
}

// handlePubSubIQ serves PEP requests; owner is the account addressed.
func (s *Server) handlePubSubIQ(iq *xmlstream.Element, owner jid.JID) {
	from, _ := jid.Parse(iq.Attr("from"))
	payload := iq.FirstChild()
	p := s.pep
	reply := func(res *xmlstream.Element) { s.replyFromServer(iq, res) }
	isOwner := from.Bare() == owner
	typ := iq.Attr("type")
	if payload.Space == nsPubSubOwner {
		del := payload.Child(nsPubSubOwner, "delete")
		if !isOwner || del == nil || typ != "set" {
			reply(stanza.ErrorReply(iq, stanza.NewError(stanza.FeatureNotImplemented, "")))
			return
		}
		node := del.Attr("node")
		s.cfg.Store.Delete(bucketPEPNode, nodeKey(owner.Local, node))
		s.cfg.Store.DeletePrefix(bucketPEPItem, nodeKey(owner.Local, node))
		reply(stanza.IQResult(iq))
		return
	}
	switch {
	case payload.Child(nsPubSub, "publish") != nil && typ == "set":
		if !isOwner {
			reply(stanza.ErrorReply(iq, stanza.NewError(stanza.Forbidden, "only the owner publishes")))
			return
		}
		reply(p.publish(iq, owner, payload))
	case payload.Child(nsPubSub, "retract") != nil && typ == "set":
		if !isOwner {
			reply(stanza.ErrorReply(iq, stanza.NewError(stanza.Forbidden, "only the owner retracts")))
			return
		}
		reply(p.retract(iq, owner, payload.Child(nsPubSub, "retract")))
	case payload.Child(nsPubSub, "items") != nil && typ == "get":
		reply(p.items(iq, owner, from, payload.Child(nsPubSub, "items")))
	default:
		reply(stanza.ErrorReply(iq, stanza.NewError(stanza.FeatureNotImplemented, "")))
	}
}

// publishOptions reads the XEP-0060 §7.1.5 form.
func publishOptions(ps *xmlstream.Element, c pepNodeConfig) pepNodeConfig {
	opts := ps.Child(nsPubSub, "publish-options")
	if opts == nil {
		return c
	}
	x := opts.Child(nsXData, "x")
	if x == nil {
		return c
	}
	for _, f := range x.ChildrenNamed(nsXData, "field") {
		v := f.ChildText(nsXData, "value")
		switch f.Attr("var") {
		case "pubsub#access_model":
			c.Access = v
		case "pubsub#max_items":
			if v == "max" {
				c.MaxItems = pepMaxItems
			} else if n, err := strconv.Atoi(v); err == nil && n > 0 {
				c.MaxItems = min(n, pepMaxItems)
			}
		}
	}
	return c
}

func (p *pepService) publish(iq *xmlstream.Element, owner jid.JID, ps *xmlstream.Element) *xmlstream.Element {
	pub := ps.Child(nsPubSub, "publish")
	node := pub.Attr("node")
	if node == "" {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "publish names a node"))
	}
	old, exists := p.config(owner.Local, node)
	c := publishOptions(ps, old)
	switch c.Access {
	case "open", "presence", "whitelist":
	default:
		return stanza.ErrorReply(iq, stanza.NewError(stanza.NotAcceptable, "unsupported access model"))
	}
	if !exists && p.countNodes(owner.Local) >= pepMaxNodes {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.ResourceConstraint, "too many nodes"))
	}
	if !exists || c != old {
		b, _ := json.Marshal(c)
		p.s.cfg.Store.Put(bucketPEPNode, nodeKey(owner.Local, node), b)
	}
	item := pub.Child(nsPubSub, "item")
	if item == nil {
		item = xmlstream.New(nsPubSub, "item")
	}
	id := item.Attr("id")
	if id == "" {
		id = strconv.FormatUint(p.s.nextStamp(), 36)
	}
	item = item.ShallowCopy()
	item.SetAttr("id", id)
	if p.accountBytes(owner.Local)+len(item.Append(nil, "")) > pepMaxBytes {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.ResourceConstraint, "the account's PEP storage is full"))
	}
	p.removeItem(owner.Local, node, id)
	p.s.cfg.Store.Put(bucketPEPItem, userKeyIn(nodeKey(owner.Local, node), p.s.nextStamp()),
		append(append([]byte(id), 0), item.Append(nil, "")...))
	p.trim(owner.Local, node, c.MaxItems)
	p.notify(owner, node, c, xmlstream.New(nsPubSubEvent, "item", "id", id).Add(item.Children...))
	return stanza.IQResult(iq, xmlstream.New(nsPubSub, "pubsub").Add(
		xmlstream.New(nsPubSub, "publish", "node", node).Add(xmlstream.New(nsPubSub, "item", "id", id))))
}

func userKeyIn(prefix []byte, id uint64) []byte {
	k := append([]byte(nil), prefix...)
	return append(k, userKey("", id)[1:]...)
}

type pepItem struct {
	key []byte
	id  string
	el  *xmlstream.Element
}

// nodeItems returns a node's items, oldest first.
func (p *pepService) nodeItems(owner, node string) []pepItem {
	var out []pepItem
	p.s.cfg.Store.Scan(bucketPEPItem, nodeKey(owner, node), nil, false, func(k, v []byte) bool {
		i := bytes.IndexByte(v, 0)
		if i < 0 {
			return true
		}
		el, err := xmlstream.ParseElementIn(v[i+1:], xmlstream.Limits{}, nsPubSub)
		if err == nil {
			out = append(out, pepItem{key: k, id: string(v[:i]), el: el})
		}
		return true
	})
	return out
}

func (p *pepService) removeItem(owner, node, id string) bool {
	for _, it := range p.nodeItems(owner, node) {
		if it.id == id {
			p.s.cfg.Store.Delete(bucketPEPItem, it.key)
			return true
		}
	}
	return false
}

func (p *pepService) trim(owner, node string, maxItems int) {
	items := p.nodeItems(owner, node)
	for i := 0; i < len(items)-max(maxItems, 1); i++ {
		p.s.cfg.Store.Delete(bucketPEPItem, items[i].key)
	}
}

// accountBytes is the size of everything owner keeps in PEP.
func (p *pepService) accountBytes(owner string) int {
	n := 0
	p.s.cfg.Store.Scan(bucketPEPItem, userPrefix(owner), nil, false, func(_, v []byte) bool {
		n += len(v)
		return true
	})
	return n
}

func (p *pepService) countNodes(owner string) int {
	n := 0
	p.s.cfg.Store.Scan(bucketPEPNode, userPrefix(owner), nil, false, func(_, _ []byte) bool {
		n++
		return true
	})
	return n
}

func (p *pepService) retract(iq *xmlstream.Element, owner jid.JID, r *xmlstream.Element) *xmlstream.Element {
	node := r.Attr("node")
	item := r.Child(nsPubSub, "item")
	if item == nil || !p.removeItem(owner.Local, node, item.Attr("id")) {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.ItemNotFound, ""))
	}
	if r.Attr("notify") == "true" || r.Attr("notify") == "1" {
		c, _ := p.config(owner.Local, node)
		p.notify(owner, node, c, xmlstream.New(nsPubSubEvent, "retract", "id", item.Attr("id")))
	}
	return stanza.IQResult(iq)
}

func (p *pepService) items(iq *xmlstream.Element, owner, from jid.JID, req *xmlstream.Element) *xmlstream.Element {
	node := req.Attr("node")
	c, exists := p.config(owner.Local, node)
	if !exists {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.ItemNotFound, ""))
	}
	if !p.mayRead(owner.Local, c, from) {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.Forbidden, "the node's access model does not let you read it"))
	}
	want := map[string]bool{}
	for _, it := range req.ChildrenNamed(nsPubSub, "item") {
		want[it.Attr("id")] = true
	}
	all := p.nodeItems(owner.Local, node)
	if n, err := strconv.Atoi(req.Attr("max_items")); err == nil && n >= 0 && n < len(all) {
		all = all[len(all)-n:]
	}
	res := xmlstream.New(nsPubSub, "items", "node", node)
	for i := len(all) - 1; i >= 0; i-- { // newest first
		if len(want) > 0 && !want[all[i].id] {
			continue
		}
		res.Add(all[i].el)
	}
	return stanza.IQResult(iq, xmlstream.New(nsPubSub, "pubsub").Add(res))
}

// notify sends an event to the owner's and contacts' interested resources.
func (p *pepService) notify(owner jid.JID, node string, c pepNodeConfig, payload *xmlstream.Element) {
	send := func(ss *session) {
		if !p.wantsNotify(ss, node) {
			return
		}
		ev := xmlstream.New(xmlstream.NSClient, "message", "from", owner.String(), "to", ss.full.String(), "type", "headline").Add(
			xmlstream.New(nsPubSubEvent, "event").Add(xmlstream.New(nsPubSubEvent, "items", "node", node).Add(payload)))
		ss.send(ev)
	}
	for _, ss := range p.s.sessionsOf(owner) {
		send(ss)
	}
	if c.Access == "whitelist" {
		return
	}
	for _, item := range p.s.rosters.items(owner.Local, false) {
		if item.Subscription != subFrom && item.Subscription != subBoth {
			continue
		}
		for _, ss := range p.s.sessionsOf(item.JID.Bare()) {
			send(ss)
		}
	}
}

// wantsNotify: the session is available and its caps include node+notify.
func (p *pepService) wantsNotify(ss *session, node string) bool {
	ss.pres.mu.Lock()
	ver, avail := ss.pres.caps, ss.pres.available
	ss.pres.mu.Unlock()
	if !avail || ver == "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.caps[ver][node+"+notify"]
}

// presenceCaps reads XEP-0115 caps from an available presence; unknown ones
// are asked for with disco#info.
func (p *pepService) presenceCaps(ss *session, st *xmlstream.Element) {
	c := st.Child(nsCaps, "c")
	if c == nil || c.Attr("node") == "" || c.Attr("ver") == "" {
		return
	}
	ver := c.Attr("node") + "#" + c.Attr("ver")
	ss.pres.mu.Lock()
	changed := ss.pres.caps != ver
	ss.pres.caps = ver
	ss.pres.mu.Unlock()
	p.mu.Lock()
	_, known := p.caps[ver]
	if len(p.asked) >= capsCacheMax {
		clear(p.asked) // clients that never answered
	}
	if !known {
		id := p.s.newID("caps")
		p.asked[id] = capsRequest{ss: ss, ver: ver}
		p.mu.Unlock()
		ss.send(stanza.IQ("get", id, p.s.domain, ss.full, xmlstream.New(nsDiscoInfo, "query", "node", ver)))
		return
	}
	p.mu.Unlock()
	if known && changed {
		p.sendLastItems(ss)
	}
}

// capsReply takes a client's disco#info answer; it reports whether the IQ was one.
func (p *pepService) capsReply(iq *xmlstream.Element) bool {
	p.mu.Lock()
	req, ok := p.asked[iq.Attr("id")]
	delete(p.asked, iq.Attr("id"))
	p.mu.Unlock()
	if !ok {
		return false
	}
	if from, _ := jid.Parse(iq.Attr("from")); from != req.ss.full {
		return true
	}
	q := iq.Child(nsDiscoInfo, "query")
	if iq.Attr("type") != "result" || q == nil {
		return true
	}
	feats := make(map[string]bool)
	for _, f := range q.ChildrenNamed(nsDiscoInfo, "feature") {
		feats[f.Attr("var")] = true
	}
	p.mu.Lock()
	if len(p.caps) >= capsCacheMax {
		clear(p.caps)
	}
	p.caps[req.ver] = feats
	p.mu.Unlock()
	p.sendLastItems(req.ss)
	return true
}

// sendLastItems sends a session the last item of every node it wants
// notifications of, from its own account and from its contacts
// (XEP-0163 §6.2).
func (p *pepService) sendLastItems(ss *session) {
	owners := []jid.JID{ss.full.Bare()}
	for _, item := range p.s.rosters.items(ss.user, ss.anonymous) {
		if item.Subscription == subTo || item.Subscription == subBoth {
			owners = append(owners, item.JID.Bare())
		}
	}
	for _, owner := range owners {
		if owner.Domain != p.s.domain.Domain {
			continue
		}
		var nodes []string
		prefix := userPrefix(owner.Local)
		p.s.cfg.Store.Scan(bucketPEPNode, prefix, nil, false, func(k, _ []byte) bool {
			nodes = append(nodes, string(bytes.TrimSuffix(bytes.TrimPrefix(k, prefix), []byte{0})))
			return true
		})
		for _, node := range nodes {
			c, _ := p.config(owner.Local, node)
			if !p.wantsNotify(ss, node) || !p.mayRead(owner.Local, c, ss.full) {
				continue
			}
			items := p.nodeItems(owner.Local, node)
			if len(items) == 0 {
				continue
			}
			last := items[len(items)-1]
			ev := xmlstream.New(xmlstream.NSClient, "message", "from", owner.String(), "to", ss.full.String(), "type", "headline").Add(
				xmlstream.New(nsPubSubEvent, "event").Add(xmlstream.New(nsPubSubEvent, "items", "node", node).Add(
					xmlstream.New(nsPubSubEvent, "item", "id", last.id).Add(last.el.Children...))))
			ss.send(ev)
		}
	}
}
