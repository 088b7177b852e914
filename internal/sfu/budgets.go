package sfu

import "time"

// Budgets per subscriber and video, so that one subscriber's trouble does
// not become everyone's. Retransmissions on its NACKs may add at most
// rtxShare of what the track forwards, with a burst of rtxBurst (a lost
// keyframe's worth): on a link that loses much, resending everything would
// add to the very congestion that lost it. Its keyframe requests go on to
// the publisher at most once per pliInterval: a subscriber whose decoder
// keeps asking would otherwise make the publisher send keyframes, which
// cost every subscriber, as often as the publication's own limit allows.
// What is over a budget is dropped and counted (ParticipantStats).
const (
	rtxShare    = 0.25
	rtxBurst    = 32 << 10 // bytes
	pliInterval = time.Second
)

// creditRetransmits brings the retransmission budget up to date with the
// payload bytes forwarded since (sentBytes): worked out when a NACK needs
// it rather than on every packet forwarded. Must hold mu.
func (d *downTrack) creditRetransmits() {
	sent := d.sentBytes.Load()
	d.rtxCredit = min(d.rtxCredit+float64(sent-d.rtxSeen)*rtxShare, rtxBurst)
	d.rtxSeen = sent
}

// spendRetransmit takes n bytes from the budget, or reports false and
// counts the drop. Must hold mu.
func (d *downTrack) spendRetransmit(n int) bool {
	d.creditRetransmits()
	if float64(n) > d.rtxCredit {
		d.rtxDropped.Add(1)
		return false
	}
	d.rtxCredit -= float64(n)
	return true
}

// mayRequestKeyframe reports whether a keyframe request of the subscriber
// at now may go on to the publisher, or counts the drop. Runs on readRTCP.
func (d *downTrack) mayRequestKeyframe(now time.Time) bool {
	if !d.lastPLI.IsZero() && now.Sub(d.lastPLI) < pliInterval {
		if d.sub.relay {
			d.deferKeyframe(d.lastPLI.Add(pliInterval).Sub(now))
		}
		d.pliDropped.Add(1)
		return false
	}
	d.lastPLI = now
	return true
}
