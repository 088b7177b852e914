package xmpp

import (
	"bytes"
	"strconv"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Push Notifications (XEP-0357). A client enables push with the JID and
// node of its app server; when a message then reaches the account while
// that client cannot take it (its stream-management session hibernates, or
// no resource is online and the message is stored offline), the server
// publishes a notification to the node, as the account's bare JID, and the
// app server wakes the phone. The notification carries a message count and
// no sender nor body: the app server is a third party.
//
// parley does not federate, so an app server is reached as an external
// component (component.go); enable refuses a push JID at any other domain.
// Registrations live in the store, keys user NUL jid NUL node, values the
// <enable/> element with the enabling resource as an attribute.

const (
	nsPush       = "urn:xmpp:push:0"
	nsDataForms  = "jabber:x:data"
	bucketPush   = "push"
	pushSummary  = "urn:xmpp:push:summary"
	pubsubPubOpt = "http://jabber.org/protocol/pubsub#publish-options"
	// maxPushRegistrations bounds one account's registrations.
	maxPushRegistrations = 20
	// maxPushPending bounds the notifications awaiting an answer.
	maxPushPending = 10000
	// pushMinInterval spaces the notifications of one registration for
	// messages stored offline: one wakes the phone, which then reads them all.
	pushMinInterval = time.Second
)

// nsOMEMO is the namespace of OMEMO-encrypted messages (XEP-0384, as
// Conversations and Dino speak it): they have no body a server can see.
const nsOMEMO = "eu.siacs.conversations.axolotl"

// pushWorthy: a message a person would want to be woken for: one with a
// body, an OMEMO payload, or a call proposal; not receipts, markers or chat
// states (XEP-0357 leaves the choice to the server; Prosody's is the same).
func pushWorthy(st *xmlstream.Element) bool {
	if st.Name != "message" || !storableOffline(st) {
		return false
	}
	return st.Child(xmlstream.NSClient, "body") != nil || st.Child(nsOMEMO, "encrypted") != nil ||
		st.Child(nsJMI, "propose") != nil
}

func pushKey(user, service, node string) []byte {
	return []byte(user + "\x00" + service + "\x00" + node)
}

// handlePushIQ serves <enable/> and <disable/> (XEP-0357 §5, §6).
func (s *Server) handlePushIQ(ss *session, iq, payload *xmlstream.Element) {
	if iq.Attr("type") != "set" || ss.anonymous {
		ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.NotAllowed, "push is for accounts, with an IQ set")))
		return
	}
	service, err := jid.Parse(payload.Attr("jid"))
	if err != nil || payload.Attr("jid") == "" {
		ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "the push service's jid is missing or malformed")))
		return
	}
	node := payload.Attr("node")
	switch payload.Name {
	case "enable":
		ss.send(s.enablePush(ss, iq, payload, service, node))
	case "disable":
		// Without a node, every node at that service goes (§6).
		if node == "" {
			s.cfg.Store.DeletePrefix(bucketPush, pushKey(ss.user, service.String(), ""))
		} else {
			s.cfg.Store.Delete(bucketPush, pushKey(ss.user, service.String(), node))
		}
		ss.send(stanza.IQResult(iq))
	default:
		ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.FeatureNotImplemented, "")))
	}
}

func (s *Server) enablePush(ss *session, iq, payload *xmlstream.Element, service jid.JID, node string) *xmlstream.Element {
	if node == "" {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "enable needs a node"))
	}
	if _, ok := s.cfg.Components[service.Domain]; !ok {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.RemoteServerNotFound,
			"parley does not federate: a push service must connect to it as a component"))
	}
	if len(payload.Children) > 1 || len(payload.Children) == 1 &&
		(!payload.Children[0].Is(nsDataForms, "x") || payload.Children[0].Attr("type") != "submit") {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "enable takes one submitted data form of publish options"))
	}
	key := pushKey(ss.user, service.String(), node)
	if old, _ := s.cfg.Store.Get(bucketPush, key); old == nil && s.countPush(ss.user) >= maxPushRegistrations {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.ResourceConstraint, "too many push registrations"))
	}
	reg := xmlstream.New(nsPush, "enable", "jid", service.String(), "node", node, "resource", ss.full.Resource)
	reg.Children = payload.Children
	if err := s.cfg.Store.Put(bucketPush, key, []byte(reg.String())); err != nil {
		s.cfg.Logger.Error("push store", "user", ss.user, "err", err)
		return stanza.ErrorReply(iq, stanza.NewError(stanza.InternalServerError, ""))
	}
	return stanza.IQResult(iq)
}

func (s *Server) countPush(user string) int {
	n := 0
	s.cfg.Store.Scan(bucketPush, userPrefix(user), nil, false, func(_, _ []byte) bool {
		n++
		return true
	})
	return n
}

// pushNotify publishes a notification to user's registrations: those the
// resource enabled, or all of them when resource is "". count is how many
// messages wait.
func (s *Server) pushNotify(user, resource string, count int) {
	type target struct {
		key  string
		reg  *xmlstream.Element
		dest jid.JID
	}
	var targets []target
	s.cfg.Store.Scan(bucketPush, userPrefix(user), nil, false, func(k, v []byte) bool {
		reg, err := xmlstream.ParseElementIn(v, xmlstream.Limits{}, nsPush)
		if err != nil {
			return true
		}
		if resource != "" && reg.Attr("resource") != resource {
			return true
		}
		dest, err := jid.Parse(reg.Attr("jid"))
		if err == nil {
			targets = append(targets, target{string(k), reg, dest})
		}
		return true
	})
	if len(targets) == 0 {
		return
	}
	now := s.cfg.Clock()
	from := jidOf(user, s.domain.Domain)
	for _, t := range targets {
		id := s.newID("push")
		s.pushMu.Lock()
		if resource == "" && now.Sub(s.pushLast[t.key]) < pushMinInterval {
			s.pushMu.Unlock()
			continue
		}
		if len(s.pushPending) >= maxPushPending {
			clear(s.pushPending) // app servers that never answered
		}
		if len(s.pushLast) >= maxPushPending {
			clear(s.pushLast)
		}
		s.pushPending[id] = t.key
		s.pushLast[t.key] = now
		s.pushMu.Unlock()
		s.stats.pushes.Add(1)
		s.route(pushIQ(id, from, t.dest, t.reg, count), t.dest)
	}
}

// pushIQ is the publish of XEP-0357 §7.
func pushIQ(id string, from, to jid.JID, reg *xmlstream.Element, count int) *xmlstream.Element {
	form := xmlstream.New(nsDataForms, "x", "type", "submit").Add(
		dataField("FORM_TYPE", pushSummary), dataField("message-count", strconv.Itoa(count)))
	publish := xmlstream.New(nsPubSub, "publish", "node", reg.Attr("node")).Add(
		xmlstream.New(nsPubSub, "item").Add(xmlstream.New(nsPush, "notification").Add(form)))
	ps := xmlstream.New(nsPubSub, "pubsub").Add(publish)
	for _, x := range reg.Children {
		ps.Add(xmlstream.New(nsPubSub, "publish-options").Add(x))
	}
	return stanza.IQ("set", id, from, to, ps)
}

func dataField(name, value string) *xmlstream.Element {
	return xmlstream.New(nsDataForms, "field", "var", name).Add(xmlstream.New(nsDataForms, "value").SetText(value))
}

// pushReply takes the app server's answer to a notification; it reports
// whether the IQ was one. An answer saying the node is gone or the
// account may not publish removes the registration (XEP-0357 §8); other
// errors, such as a component that is not connected, keep it.
func (s *Server) pushReply(iq *xmlstream.Element) bool {
	s.pushMu.Lock()
	key, ok := s.pushPending[iq.Attr("id")]
	delete(s.pushPending, iq.Attr("id"))
	s.pushMu.Unlock()
	if !ok {
		return false
	}
	if iq.Attr("type") != "error" {
		return true
	}
	e := stanza.ParseError(iq)
	if e == nil {
		return true
	}
	switch e.Condition {
	case stanza.ItemNotFound, stanza.NotAuthorized, stanza.Forbidden, stanza.NotAllowed, stanza.RegistrationRequired:
		v, _ := s.cfg.Store.Get(bucketPush, []byte(key))
		if v == nil {
			return true
		}
		// Only the service the registration names may end it.
		if reg, err := xmlstream.ParseElementIn(v, xmlstream.Limits{}, nsPush); err == nil && reg.Attr("jid") == iq.Attr("from") {
			s.cfg.Store.Delete(bucketPush, []byte(key))
			s.cfg.Logger.Info("push registration removed", "service", iq.Attr("from"), "condition", string(e.Condition),
				"user", string(bytes.SplitN([]byte(key), []byte{0}, 2)[0]))
		}
	}
	return true
}
