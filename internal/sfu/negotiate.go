package sfu

import (
	"context"
	"strings"

	"github.com/pion/webrtc/v4"
)

// Offer makes the next SDP offer for this participant's session and
// returns it with all local ICE candidates included.
//
// The first offer has BUNDLE and rtcp-mux, then the recvonly m-lines for
// what the participant publishes: audio, camera video, and a second video
// for a screen share (mids "0", "1" and "2", in that order, unless
// JoinOptions left some out), then one sendonly m-line per track the others
// publish. Later offers add sendonly
// m-lines for new tracks and mark those of withdrawn tracks inactive.
//
// Only one offer may be outstanding: until SetAnswer succeeds, Offer fails with
// ErrOfferPending. Once negotiated, Offer with nothing new fails with
// ErrNothingToNegotiate. Both are harmless to the caller. A first offer
// with no m-line at all (a participant that may publish nothing, alone or
// among others who publish nothing yet) also fails with
// ErrNothingToNegotiate, and EventNeedsOffer comes when there is one.
func (p *Participant) Offer(ctx context.Context) (string, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	adds, removes, first, err := p.beginOffer()
	if err != nil {
		return "", p.opError("offer", err)
	}
	sdp, err := p.makeOffer(ctx, first, adds, removes)
	if err != nil {
		p.offerFailed()
		return "", p.opError("offer", err)
	}
	return sdp, nil
}

// RestartOffer makes an offer that restarts ICE (RFC 8445 §9): new local
// ufrag and password, fresh candidates, the same m-lines. The focus sends
// it when the participant's connection failed or the participant asked
// (its network changed). Track changes made meanwhile are not in it: they
// wait, and once the answer is set EventNeedsOffer asks for them.
//
// Like Offer, it fails with ErrOfferPending while another offer is out,
// and with ErrNotNegotiated before the first answer.
func (p *Participant) RestartOffer(ctx context.Context) (string, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.beginRestart(); err != nil {
		return "", p.opError("restart ICE", err)
	}
	sdp, err := p.createOffer(ctx, &webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		p.offerFailed()
		return "", p.opError("restart ICE", err)
	}
	return sdp, nil
}

// beginRestart marks an ICE-restart offer outstanding.
func (p *Participant) beginRestart() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return ErrClosed
	case p.broken:
		return errBroken
	case p.offerPending:
		return ErrOfferPending
	case !p.negotiated:
		return ErrNotNegotiated
	}
	p.offerPending = true
	p.stats.ICERestarts++
	return nil
}

// offerFailed records an offer that could not be made.
func (p *Participant) offerFailed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		// Pion cannot roll a local offer back, and the caller has no
		// offer to send: this session cannot be negotiated any more.
		p.broken = true
	}
	p.offerPending = false
	p.dirty = true
}

// beginOffer takes the pending changes and marks an offer outstanding.
func (p *Participant) beginOffer() (adds, removes []*downTrack, first bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, nil, false, ErrClosed
	case p.broken:
		return nil, nil, false, errBroken
	case p.offerPending:
		return nil, nil, false, ErrOfferPending
	case p.negotiated && !p.dirty:
		return nil, nil, false, ErrNothingToNegotiate
	case !p.offered && p.nothingToOfferLocked():
		p.deferred = true // EventNeedsOffer comes with the first track
		return nil, nil, false, ErrNothingToNegotiate
	}
	adds, removes = p.pendingAdds, p.pendingRemoves
	p.pendingAdds, p.pendingRemoves = nil, nil
	first = !p.offered
	p.offered = true
	p.offerPending = true
	p.dirty = false
	p.needsOfferSent = false
	return adds, removes, first, nil
}

// makeOffer applies the changes to the peer connection and produces the
// offer. Must hold negMu.
func (p *Participant) makeOffer(ctx context.Context, first bool, adds, removes []*downTrack) (string, error) {
	if first {
		if err := p.addPublishTransceivers(); err != nil {
			return "", err
		}
	}
	if err := p.addWantedPublishTransceivers(); err != nil {
		return "", err
	}
	for _, d := range removes {
		if d.sender == nil {
			continue // its transceiver was never created
		}
		if err := p.pc.RemoveTrack(d.sender); err != nil {
			p.log.Warn("removing a track", "track", d.pub.info.TrackID, "err", err)
		}
		d.sender = nil
	}
	for _, d := range adds {
		if err := p.addDownTrack(d); err != nil {
			p.log.Warn("adding a track", "track", d.pub.info.TrackID, "err", err)
		}
	}
	return p.createOffer(ctx, nil)
}

// createOffer creates and applies an offer and waits for its candidates.
// Must hold negMu.
func (p *Participant) createOffer(ctx context.Context, opts *webrtc.OfferOptions) (string, error) {
	offer, err := p.pc.CreateOffer(opts)
	if err != nil {
		return "", wrapf(ErrNegotiation, "create offer: %v", err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return "", wrapf(ErrNegotiation, "set local description: %v", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", wrapf(ErrNegotiation, "gathering candidates: %v", ctx.Err())
	case <-p.done:
		return "", ErrClosed
	}
	local := p.pc.LocalDescription()
	if local == nil {
		return "", wrapf(ErrNegotiation, "no local description")
	}
	return withSimulcast(local.SDP, p.simulcastMids()), nil
}

// simulcastMids says which of the offer's m-lines ask for simulcast, and
// with which rids: the camera's and the screen's, unless
// JoinOptions.NoSimulcast.
func (p *Participant) simulcastMids() map[string][]string {
	if p.opts.NoSimulcast {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string][]string, 2)
	for _, t := range []*webrtc.RTPTransceiver{p.cameraRecv, p.screenRecv} {
		if t == nil || t.Mid() == "" {
			continue
		}
		src := SourceCamera
		if t == p.screenRecv {
			src = SourceScreen
		}
		out[t.Mid()] = ridsFor(src)
	}
	return out
}

// addPublishTransceivers creates the recvonly m-lines for the
// participant's own media: audio, camera, screen. They come first, so that
// a browser's addTrack after applying the offer picks them (the camera
// takes the first video one). Must hold negMu.
func (p *Participant) addPublishTransceivers() error {
	srcs := make([]Source, 0, numSources)
	if !p.opts.NoAudio {
		srcs = append(srcs, SourceAudio)
	}
	if !p.opts.NoVideo {
		srcs = append(srcs, SourceCamera)
		if !p.opts.NoScreen {
			srcs = append(srcs, SourceScreen)
		}
	}
	for _, src := range srcs {
		if err := p.addPublishTransceiver(src); err != nil {
			return err
		}
	}
	return nil
}

// addPublishTransceiver creates the recvonly m-line for one source of the
// participant's own media. Must hold negMu.
func (p *Participant) addPublishTransceiver(src Source) error {
	kind := webrtc.RTPCodecTypeVideo
	if src == SourceAudio {
		kind = webrtc.RTPCodecTypeAudio
	}
	t, err := p.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{
		Direction: webrtc.RTPTransceiverDirectionRecvonly,
	})
	if err != nil {
		return wrapf(ErrNegotiation, "add %s transceiver: %v", src, err)
	}
	if src == SourceAudio {
		// Without preferences Pion's later offers repeat the fmtp of the
		// client's answer, which may lack usedtx=1 (a browser's does): the
		// client would stop DTX at the first renegotiation.
		if err := setCodecPreferences(t, publishAudioCodecs()); err != nil {
			return wrapf(ErrNegotiation, "audio codec preferences: %v", err)
		}
	}
	p.mu.Lock()
	switch src {
	case SourceCamera:
		p.cameraRecv = t
	case SourceScreen:
		p.screenRecv = t
	}
	p.mu.Unlock()
	return nil
}

// addDownTrack gives d a sendonly m-line limited to the publisher's codec
// (for audio, with Opus after RED and RED after Opus: subscriberCodecs).
// Must hold negMu.
func (p *Participant) addDownTrack(d *downTrack) error {
	t, err := p.pc.AddTransceiverFromTrack(d, webrtc.RTPTransceiverInit{
		Direction: webrtc.RTPTransceiverDirectionSendonly,
	})
	if err != nil {
		return err
	}
	if err := setCodecPreferences(t, subscriberCodecs(d.pub.codec)); err != nil {
		p.log.Debug("codec preference not applied", "track", d.pub.info.TrackID, "err", err)
	}
	d.sender = t.Sender()
	go d.readRTCP(d.sender)
	return nil
}

// SetAnswer applies the client's answer to the outstanding offer. A
// malformed answer fails with ErrMalformedAnswer and changes nothing: the
// offer stays outstanding (Pion cannot roll it back), so the focus may
// still pass a correct answer, but normally ends the session. Nobody else
// is affected either way.
func (p *Participant) SetAnswer(sdp string) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	p.mu.Lock()
	closed, broken, pending := p.closed, p.broken, p.offerPending
	p.mu.Unlock()
	switch {
	case closed:
		return p.opError("set answer", ErrClosed)
	case broken:
		return p.opError("set answer", errBroken)
	case !pending:
		return p.opError("set answer", ErrNoOfferPending)
	}

	if err := p.applyAnswer(sdp); err != nil {
		p.mu.Lock()
		if p.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
			p.broken = true // Pion took part of it; its state is unknown
			p.offerPending = false
		}
		p.mu.Unlock()
		return p.opError("set answer", err)
	}
	p.mu.Lock()
	p.offerPending = false
	p.negotiated = true
	held := p.candidates
	p.candidates = nil
	if p.dirty && !p.closed {
		p.needsOfferSent = p.emitLocked(Event{Kind: EventNeedsOffer, ParticipantID: p.id})
	}
	p.mu.Unlock()
	for _, c := range held {
		if err := p.addCandidate(c); err != nil {
			p.log.Debug("held remote candidate refused", "err", err)
		}
	}
	return nil
}

// applyAnswer validates and applies an answer. Must hold negMu.
func (p *Participant) applyAnswer(sdp string) error {
	local := p.pc.LocalDescription()
	if local == nil || p.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return wrapf(ErrNegotiation, "no local offer in place")
	}
	if err := validateAnswer(local.SDP, sdp); err != nil {
		return err
	}
	answer := webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: withoutReceiveRIDs(sdp)}
	if err := p.pc.SetRemoteDescription(answer); err != nil {
		return wrapf(ErrMalformedAnswer, "%v", err)
	}
	return nil
}

// AddRemoteCandidate adds one of the client's ICE candidates: the value
// of an a=candidate line, with or without the "a=" and "candidate:"
// prefixes. An empty string means end of candidates. Candidates that
// arrive before the first answer are held (up to Config.CandidateBuffer)
// and applied with it.
func (p *Participant) AddRemoteCandidate(candidate string) error {
	candidate = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(candidate), "a="))
	p.mu.Lock()
	closed, negotiated := p.closed, p.negotiated
	switch {
	case closed:
		p.mu.Unlock()
		return p.opError("add candidate", ErrClosed)
	case !negotiated && len(p.candidates) >= p.sfu.cfg.CandidateBuffer:
		p.stats.CandidatesDropped++
		p.mu.Unlock()
		return p.opError("add candidate", wrapf(ErrBadCandidate, "too many candidates before the answer"))
	case !negotiated:
		p.candidates = append(p.candidates, candidate)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	if err := p.addCandidate(candidate); err != nil {
		return p.opError("add candidate", err)
	}
	return nil
}

// addCandidate hands one candidate to Pion.
func (p *Participant) addCandidate(candidate string) error {
	if err := p.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: candidate}); err != nil {
		return wrapf(ErrBadCandidate, "%q: %v", candidate, err)
	}
	return nil
}

// opError wraps err for the caller. A participant closed meanwhile makes
// any failure ErrClosed: Pion's "connection closed" is then no news.
func (p *Participant) opError(op string, err error) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		err = ErrClosed
	}
	return &Error{Op: op, Conference: p.conf.id, Participant: p.id, Err: err}
}
