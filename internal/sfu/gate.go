package sfu

import (
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// gate decides, per kind, whether what a participant publishes is
// forwarded. The focus sets it from the participant's permissions and
// mutes; the forwarding loop reads it for every packet, without locking
// or allocating. Withholding is immediate: the next packet is dropped.
type gate struct {
	blocked  [2]atomic.Bool   // [0] audio, [1] video; true: drop. Zero value: forward
	withheld [2]atomic.Uint64 // packets dropped while blocked
}

// slotOf is the index of kind in published and gate arrays.
func slotOf(kind MediaKind) int {
	if kind == Video {
		return 1
	}
	return 0
}

// SetForwarding lets the participant's published media of kind reach the
// others (on) or drops it at the SFU (off), at once, for tracks published
// already and to come. Subscribers keep their m-lines and simply receive
// nothing. Turning video back on asks the publisher for a keyframe, so
// that subscribers decode again at once.
func (p *Participant) SetForwarding(kind MediaKind, on bool) {
	slot := slotOf(kind)
	if p.gate.blocked[slot].Swap(!on) == !on || !on {
		return
	}
	p.mu.Lock()
	pub := p.published[slot]
	p.mu.Unlock()
	if pub != nil {
		pub.requestKeyframe()
	}
}

// Forwarding reports whether the participant's media of kind is forwarded.
func (p *Participant) Forwarding(kind MediaKind) bool {
	return !p.gate.blocked[slotOf(kind)].Load()
}

// OfferPublishing makes sure the participant can publish kind: if its
// session has no recvonly m-line of that kind (it joined with NoAudio or
// NoVideo), the next offer adds one, and EventNeedsOffer asks for it.
func (p *Participant) OfferPublishing(kind MediaKind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	slot := slotOf(kind)
	if p.closed || p.publishWanted[slot] {
		return
	}
	p.publishWanted[slot] = true
	p.markDirtyLocked()
}

// addWantedPublishTransceivers adds the recvonly m-lines OfferPublishing
// asked for, unless the session has one already. Must hold negMu.
func (p *Participant) addWantedPublishTransceivers() error {
	p.mu.Lock()
	want := p.publishWanted
	p.publishWanted = [2]bool{}
	p.mu.Unlock()
	for slot, w := range want {
		kind := webrtc.RTPCodecTypeAudio
		if slot == 1 {
			kind = webrtc.RTPCodecTypeVideo
		}
		if !w || p.hasPublishTransceiver(kind) {
			continue
		}
		if _, err := p.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionRecvonly,
		}); err != nil {
			return wrapf(ErrNegotiation, "add %s transceiver: %v", kind, err)
		}
	}
	return nil
}

// hasPublishTransceiver reports whether the session has a recvonly m-line
// of kind. Must hold negMu.
func (p *Participant) hasPublishTransceiver(kind webrtc.RTPCodecType) bool {
	for _, t := range p.pc.GetTransceivers() {
		if t.Kind() == kind && t.Direction() == webrtc.RTPTransceiverDirectionRecvonly {
			return true
		}
	}
	return false
}

// pass reports whether the gate lets a packet of this publication through,
// counting it if not. On the forwarding path: no allocation.
func (pub *publication) pass() bool {
	slot := slotOf(pub.info.Kind)
	if !pub.owner.gate.blocked[slot].Load() {
		return true
	}
	pub.owner.gate.withheld[slot].Add(1)
	return false
}

// nothingToOfferLocked reports whether a first offer would have no m-line:
// no publish m-line (JoinOptions, OfferPublishing) and no track of others.
// Must hold mu.
func (p *Participant) nothingToOfferLocked() bool {
	return p.opts.NoAudio && p.opts.NoVideo && p.publishWanted == [2]bool{} && len(p.pendingAdds) == 0
}
