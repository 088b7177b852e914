package focus

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/jingle"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// sessionState is where a participant's Jingle session is.
type sessionState int

const (
	stateProbing       sessionState = iota // waiting for its disco#info
	stateChatOnly                          // no Jingle: an occupant without media
	stateNoBridge                          // no bridge could take it yet: retried every bridgeRetry
	stateNothingYet                        // may publish nothing, and nobody publishes: no offer to make yet
	stateOffered                           // session-initiate sent, waiting for session-accept
	stateActive                            // negotiated
	stateRenegotiating                     // content-add sent, waiting for content-accept
	stateRestarting                        // transport-replace sent (ICE restart), waiting for transport-accept
	stateEnded
)

// participant is one occupant's Jingle session. Owned by its conference's actor.
type participant struct {
	c    *conference
	nick string
	real jid.JID
	id   string // the media participant id, and the stream id of its tracks
	sid  string // the Jingle session id

	state  sessionState
	sp     bridge.Participant // its session on the bridge; nil without media
	rights Rights             // what it may publish, from the room (perm.go)
	screen bool               // its video is declared a screen share

	offer        []jingle.Content // the contents of the SFU's current offer, in m-line order
	group        *jingle.Group    // the current offer's BUNDLE group
	answer       map[string]jingle.Content
	wantsOffer   bool // the SFU asked to renegotiate while an offer was out
	wantsRestart bool // an ICE restart was asked for while an offer was out

	client string    // its disco#info identity name (the web client says its browser)
	since  time.Time // when its media session started; zero before
}

// probed continues after disco#info: call the occupant if it speaks Jingle.
func (p *participant) probed(ok bool, client string) {
	if p.state != stateProbing {
		return // it left meanwhile
	}
	p.client = client
	p.c.announceSpeaker(p) // a newcomer learns who is speaking
	if !ok {
		p.state = stateChatOnly
		return
	}
	p.startMedia()
}

// startMedia joins the participant to the room's media conference and
// sends its session-initiate.
func (p *participant) startMedia() {
	m, err := p.c.mediaConference()
	var sp bridge.Participant
	if err == nil {
		ctx, cancel := p.ctx()
		sp, err = m.Join(ctx, p.id, p.joinOptions())
		cancel()
	}
	if err != nil {
		p.c.log.Warn("no media for a participant yet", "nick", p.nick, "err", err)
		p.state = stateNoBridge
		p.c.retryMediaLater()
		return
	}
	p.sp = sp
	p.applyGates()
	p.c.bySID[p.sid] = p
	p.c.f.bindSession(p.sid, p.c)
	if p.since.IsZero() {
		p.since = time.Now()
	}
	p.c.log.Info("participant joined", "nick", p.nick, "client", p.client, "bridge", m.Bridge())
	go p.forwardEvents(sp)
	p.sendOffer("session-initiate")
}

// moveBridge gives a media participant a new session on a new bridge:
// its old one died with its bridge. The new session-initiate (a new sid)
// replaces the old session at the client (docs/SIGNALLING.md).
func (p *participant) moveBridge() {
	if p.sp == nil {
		return // chat only, still probing, waiting for a bridge, or ended
	}
	if p.sp != nil {
		p.sp.Close()
		p.sp = nil
	}
	delete(p.c.bySID, p.sid)
	p.c.f.unbindSession(p.sid)
	p.sid = randomSID()
	p.offer, p.group, p.answer = nil, nil, nil
	p.wantsOffer, p.wantsRestart = false, false
	p.state = stateProbing
	p.startMedia()
}

// ctx bounds one request to the bridge.
func (p *participant) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.c.f.ctx, p.c.f.cfg.RequestTimeout)
}

// forwardEvents feeds the bridge's events for this participant to the
// actor. News of a session the participant has left (a moved bridge's)
// is dropped there.
func (p *participant) forwardEvents(sp bridge.Participant) {
	post := func(fn func()) {
		p.c.post(func() {
			if p.sp == sp {
				fn()
			}
		})
	}
	for ev := range sp.Events() {
		switch {
		case ev.Kind == bridge.EventNeedsOffer:
			post(p.renegotiate)
		case ev.Kind == bridge.EventConnectionState && ev.State == bridge.StateFailed:
			post(func() { p.restartICE("the connection failed") })
		case ev.Kind == bridge.EventConnectionState && ev.State == bridge.StateConnected:
			route := ev.Route
			post(func() { p.c.log.Info("media connected", "nick", p.nick, "route", route) })
		case ev.Kind == bridge.EventSendLayers:
			src, rids := ev.Source, ev.Layers
			post(func() { p.sendLayers(src, rids) })
		}
	}
}

// sendOffer asks the SFU for an offer and sends it as session-initiate or,
// for a renegotiation, as content-add with the contents that changed.
func (p *participant) sendOffer(action string) {
	ctx, cancel := p.ctx()
	sdp, err := p.sp.Offer(ctx)
	cancel()
	if errors.Is(err, bridge.ErrNothingToNegotiate) && action == "session-initiate" {
		p.state = stateNothingYet // the bridge raises EventNeedsOffer once there is media
		return
	}
	if errors.Is(err, bridge.ErrNothingToNegotiate) || errors.Is(err, bridge.ErrOfferPending) {
		return
	}
	if errors.Is(err, bridge.ErrGone) {
		return // its bridge failed: the conference moves (bridgeFailed)
	}
	if err != nil {
		p.c.log.Warn("bridge offer failed", "nick", p.nick, "err", err)
		p.c.drop(p, "failed-application", "the media server could not make an offer", true)
		return
	}
	j, err := jingle.FromSDP(sdp, jingle.RoleInitiator)
	if err != nil {
		p.c.log.Error("cannot translate the SFU's offer", "err", err)
		p.c.drop(p, "failed-application", "internal error", true)
		return
	}
	send := j.Contents
	if action == "content-add" {
		send = changedContents(p.offer, j.Contents)
	}
	p.offer, p.group = j.Contents, j.Group
	j.Action, j.SID, j.Contents = action, p.sid, send
	if action == "session-initiate" {
		j.Initiator = p.c.f.domain.String()
		p.state = stateOffered
	} else {
		j.Group = nil
		p.state = stateRenegotiating
	}
	el := j.Element()
	if action == "session-initiate" {
		el.Add(xmlstream.New(nsParleyRoom, "room", "jid", p.c.room.String()))
	}
	annotateOwners(el, p.c.ownerOf)
	p.request(el, action)
}

// sendLayers tells the participant which simulcast layers of its camera or
// screen anyone receives (docs/SIGNALLING.md): it stops sending the others.
// Informational: a participant that ignores it only sends more.
func (p *participant) sendLayers(src bridge.Source, rids string) {
	if p.state == stateEnded || p.state < stateOffered {
		return
	}
	source := "camera"
	if src == bridge.SourceScreen {
		source = "screen"
	}
	j := xmlstream.New(NSJingle, "jingle", "action", "session-info", "sid", p.sid).Add(
		xmlstream.New(nsParleyRoom, "send-layers", "source", source, "rids", rids))
	go func() {
		if _, err := p.c.f.request(p.real, "set", j); err != nil {
			p.c.log.Debug("participant refused send-layers", "nick", p.nick, "err", err)
		}
	}()
}

// renegotiate runs when the SFU has new or withdrawn tracks for p.
func (p *participant) renegotiate() {
	switch p.state {
	case stateNothingYet:
		p.sendOffer("session-initiate")
	case stateActive:
		p.sendOffer("content-add")
	case stateOffered, stateRenegotiating, stateRestarting:
		p.wantsOffer = true
	}
}

// handle processes a Jingle request from the participant.
func (p *participant) handle(iq, payload *xmlstream.Element) {
	j, err := jingle.Parse(payload)
	if err != nil {
		p.fail(iq, err)
		return
	}
	switch j.Action {
	case "session-accept", "content-accept":
		want := stateOffered
		if j.Action == "content-accept" {
			want = stateRenegotiating
		}
		screen := screenDeclared(payload)
		if p.state == want && p.refusePublishing(iq, j, screen) {
			return
		}
		p.accept(iq, j, want)
		if p.screen != screen && p.state == stateActive {
			p.screen = screen
			p.applyGates()
		}
	case "transport-info":
		p.transportInfo(iq, j)
	case "session-terminate":
		p.c.f.reply(stanza.IQResult(iq))
		p.c.drop(p, "success", "", false)
	case "transport-accept":
		p.accept(iq, j, stateRestarting)
	case "transport-reject":
		// The SFU's restart offer cannot be taken back: the session is over,
		// and the participant may rejoin for a new one.
		p.c.f.reply(stanza.IQResult(iq))
		p.c.drop(p, "failed-transport", "the ICE restart was rejected", true)
	case "session-info":
		p.sessionInfo(iq, payload)
	case "description-info":
		p.c.f.reply(stanza.IQResult(iq)) // mute hints and the like: nothing to do
	case "source-add", "content-add":
		if p.refusePublishing(iq, j, screenDeclared(payload)) {
			return
		}
		p.c.f.reply(jingleError(iq, stanza.FeatureNotImplemented, "unsupported-info", "action "+j.Action+" is not supported"))
	default:
		p.c.f.reply(jingleError(iq, stanza.FeatureNotImplemented, "unsupported-info", "action "+j.Action+" is not supported"))
	}
}

// sessionInfo handles the participant's session-info: an ICE restart
// request, or its screen share starting or stopping (docs/SIGNALLING.md).
func (p *participant) sessionInfo(iq, payload *xmlstream.Element) {
	if share := payload.Child(nsParleyRoom, "screen-share"); share != nil {
		on := share.Attr("active") == "true" || share.Attr("active") == "1"
		if on && !p.rights.may(perm.PublishScreen) {
			p.c.f.refused.Add(perm.PublishScreen)
			p.c.f.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.Forbidden, "you may not publish screen (needs publish_screen)")))
			return
		}
		ctx, cancel := p.ctx()
		err := p.sp.SetScreenShare(ctx, on)
		cancel()
		if err != nil {
			p.c.f.reply(jingleError(iq, stanza.NotAcceptable, "", err.Error()))
			return
		}
		p.c.log.Debug("screen share", "nick", p.nick, "active", on)
	}
	if rv := payload.Child(nsParleyRoom, "receive-video"); rv != nil {
		want, err := receiveVideo(rv, p.c.trackIDs())
		if err != nil {
			p.c.f.reply(jingleError(iq, stanza.BadRequest, "", err.Error()))
			return
		}
		p.sp.SetReceiveVideo(want)
	}
	p.c.f.reply(stanza.IQResult(iq))
	if payload.Child(nsParleyRoom, "ice-restart") != nil {
		p.restartICE("the participant asked")
	}
}

// maxTracksPerRequest bounds a receive-video request's tracks.
const maxTracksPerRequest = 512

// receiveVideo reads <receive-video quality='high|medium|low' last-n='N'>
// <video track='video-p1' height='360'/>... <pin stream='p1'/>...
// </receive-video>: the subscriber's quality setting, the height its tiles
// show each video at, its own lastN and its pins (docs/SIGNALLING.md).
// Tracks and streams nobody publishes are ignored.
func receiveVideo(el *xmlstream.Element, known map[string]bool) (bridge.ReceiveVideo, error) {
	var rv bridge.ReceiveVideo
	switch el.Attr("quality") {
	case "", "high":
		rv.Quality = bridge.QualityHigh
	case "medium":
		rv.Quality = bridge.QualityMedium
	case "low":
		rv.Quality = bridge.QualityLow
	default:
		return rv, errors.New("receive-video: quality must be high, medium or low")
	}
	if n := el.Attr("last-n"); n != "" {
		v, err := strconv.Atoi(n)
		if err != nil || v < 0 || v > 1000 {
			return rv, errors.New("receive-video: last-n must be 0 to 1000")
		}
		rv.LastN = v
	}
	videos := el.ChildrenNamed(nsParleyRoom, "video")
	pins := el.ChildrenNamed(nsParleyRoom, "pin")
	if len(videos) > maxTracksPerRequest || len(pins) > maxTracksPerRequest {
		return rv, errors.New("receive-video: too many tracks")
	}
	for _, pin := range pins {
		if stream := pin.Attr("stream"); known[bridge.TrackID(bridge.SourceCamera, stream)] {
			rv.Pinned = append(rv.Pinned, stream)
		}
	}
	rv.Heights = make(map[string]int, len(videos))
	for _, v := range videos {
		h, err := strconv.Atoi(v.Attr("height"))
		if err != nil || h < 0 || h > 10000 {
			return rv, errors.New("receive-video: a video's height must be 0 to 10000 pixels")
		}
		if known[v.Attr("track")] {
			rv.Heights[v.Attr("track")] = h
		}
	}
	return rv, nil
}

// accept applies the participant's answer (every content of it).
func (p *participant) accept(iq *xmlstream.Element, j *jingle.Jingle, want sessionState) {
	if p.state != want {
		p.c.f.reply(jingleError(iq, stanza.UnexpectedRequest, "out-of-order", "no offer is waiting for this answer"))
		return
	}
	if p.answer == nil {
		p.answer = make(map[string]jingle.Content)
	}
	for _, ct := range j.Contents {
		if want == stateRestarting {
			// transport-accept carries transports only: the descriptions
			// answered before still hold.
			prev, ok := p.answer[ct.Name]
			if !ok || ct.Transport == nil {
				p.fail(iq, &jingle.Error{Condition: jingle.CondBadRequest, Text: "transport-accept for content " + ct.Name + " has no transport to replace"})
				return
			}
			prev.Transport = ct.Transport
			ct = prev
		}
		p.answer[ct.Name] = ct
	}
	ordered := &jingle.Jingle{Action: j.Action, SID: p.sid, Group: p.group}
	for _, offered := range p.offer {
		ct, ok := p.answer[offered.Name]
		if !ok {
			p.fail(iq, &jingle.Error{Condition: jingle.CondBadRequest, Text: "the answer lacks content " + offered.Name})
			return
		}
		ordered.Contents = append(ordered.Contents, ct)
	}
	sdp, err := jingle.ToSDP(ordered, jingle.RoleResponder)
	if err == nil {
		ctx, cancel := p.ctx()
		err = p.sp.SetAnswer(ctx, sdp)
		cancel()
	}
	if errors.Is(err, bridge.ErrGone) {
		// Its bridge failed: the answer is moot, a new session follows.
		p.c.f.reply(stanza.IQResult(iq))
		return
	}
	if err != nil {
		p.fail(iq, err)
		return
	}
	p.c.f.reply(stanza.IQResult(iq))
	p.state = stateActive
	switch {
	case p.wantsRestart:
		p.wantsRestart = false
		p.sendRestart()
	case p.wantsOffer:
		p.wantsOffer = false
		p.sendOffer("content-add")
	}
}

// restartICE restarts the participant's ICE session (RFC 8445 §9): its
// connection failed, or its network changed and it asked. One restart at
// a time; a request while an offer is out is served after its answer.
func (p *participant) restartICE(why string) {
	switch p.state {
	case stateActive:
		p.c.log.Info("restarting ICE", "nick", p.nick, "why", why)
		p.sendRestart()
	case stateOffered, stateRenegotiating:
		p.wantsRestart = true
	}
}

// sendRestart sends the SFU's ICE-restart offer as transport-replace: the
// same contents with new transports (ufrag, pwd, candidates).
func (p *participant) sendRestart() {
	ctx, cancel := p.ctx()
	sdp, err := p.sp.RestartOffer(ctx)
	cancel()
	switch {
	case errors.Is(err, bridge.ErrOfferPending):
		p.wantsRestart = true
		return
	case errors.Is(err, bridge.ErrNotNegotiated), errors.Is(err, bridge.ErrClosed), errors.Is(err, bridge.ErrGone):
		return
	case err != nil:
		p.c.log.Warn("bridge restart offer failed", "nick", p.nick, "err", err)
		p.c.drop(p, "failed-transport", "the media server could not restart the connection", true)
		return
	}
	j, err := jingle.FromSDP(sdp, jingle.RoleInitiator)
	if err != nil {
		p.c.log.Error("cannot translate the SFU's restart offer", "err", err)
		p.c.drop(p, "failed-application", "internal error", true)
		return
	}
	p.offer, p.group = j.Contents, j.Group
	out := &jingle.Jingle{Action: "transport-replace", SID: p.sid, Contents: jingle.TransportsOnly(j.Contents)}
	p.state = stateRestarting
	p.request(out.Element(), "transport-replace")
}

// request sends a Jingle request to the participant; a refusal or no
// answer ends its session.
func (p *participant) request(el *xmlstream.Element, action string) {
	go func() {
		if _, err := p.c.f.request(p.real, "set", el); err != nil {
			p.c.post(func() {
				if p.state != stateEnded {
					p.c.log.Info("participant refused the offer", "nick", p.nick, "action", action, "err", err)
					p.c.drop(p, "failed-application", "the offer was refused", false)
				}
			})
		}
	}()
}

func (p *participant) transportInfo(iq *xmlstream.Element, j *jingle.Jingle) {
	for _, ct := range j.Contents {
		if ct.Transport == nil {
			continue
		}
		for _, cand := range ct.Transport.Candidates {
			ctx, cancel := p.ctx()
			err := p.sp.AddRemoteCandidate(ctx, cand.SDP())
			cancel()
			if errors.Is(err, bridge.ErrGone) {
				break // a new session on another bridge follows
			}
			if err != nil {
				p.c.f.reply(jingleError(iq, stanza.BadRequest, "", "bad candidate: "+err.Error()))
				return
			}
		}
	}
	p.c.f.reply(stanza.IQResult(iq))
}

// fail answers a bad request with an error and ends this one session.
func (p *participant) fail(iq *xmlstream.Element, err error) {
	cond := stanza.BadRequest
	var je *jingle.Error
	if errors.As(err, &je) && je.Condition == jingle.CondFeatureNotImplemented {
		cond = stanza.FeatureNotImplemented
	}
	p.c.log.Info("bad Jingle from a participant", "nick", p.nick, "err", err)
	p.c.f.reply(jingleError(iq, cond, "", err.Error()))
	p.c.drop(p, "failed-application", "your session description was refused", true)
}

// changedContents returns the contents of next that are new or differ from prev.
func changedContents(prev, next []jingle.Content) []jingle.Content {
	old := make(map[string]string, len(prev))
	for _, ct := range prev {
		old[ct.Name] = ct.Element().String()
	}
	var out []jingle.Content
	for _, ct := range next {
		if s, ok := old[ct.Name]; !ok || s != ct.Element().String() {
			out = append(out, ct)
		}
	}
	return out
}

// annotateOwners adds Jitsi's ssrc-info owner to every source whose msid
// names a stream of this conference (docs/SIGNALLING.md).
func annotateOwners(el *xmlstream.Element, owner func(streamID string) string) {
	for _, ct := range el.ChildrenNamed(NSJingle, "content") {
		desc := ct.Child(nsRTP, "description")
		if desc == nil {
			continue
		}
		for _, src := range desc.ChildrenNamed("", "source") {
			for _, prm := range src.ChildrenNamed("", "parameter") {
				if prm.Attr("name") != "msid" {
					continue
				}
				stream, _, _ := strings.Cut(prm.Attr("value"), " ")
				if o := owner(stream); o != "" {
					src.Add(xmlstream.New(nsJitMeet, "ssrc-info", "owner", o))
				}
			}
		}
	}
}
