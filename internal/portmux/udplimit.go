package portmux

import (
	"net/netip"
	"time"

	"parley.dev/parley/internal/admission"
)

// udpLimiters are the UDP mux's per-source rate limits. The buckets are
// owned by the read loop (they are not safe for concurrent use).
//
// An established session's consent checks (a Binding request every few
// seconds) count against its source's rate too: exempting the sources
// that send media would exempt anyone who sends one RTP-looking datagram
// first. Only a flood from the same address (one NAT) can crowd them out.
type udpLimiters struct {
	binding, dtlsHello, allocate *admission.RateLimiter
	logs                         *admission.LogLimiter // safe for concurrent use
	drops                        uint64                // datagrams dropped over their rate
}

func newUDPLimiters(l UDPLimits, clock func() time.Time) udpLimiters {
	return udpLimiters{
		binding:   admission.NewRateLimiter(l.Binding),
		dtlsHello: admission.NewRateLimiter(l.DTLSHello),
		allocate:  admission.NewRateLimiter(l.Allocate),
		logs:      admission.NewLogLimiter(time.Minute, clock),
	}
}

// check returns the drop reason for a datagram over its rate, else 0.
func (u *udpLimiters) check(b []byte, from netip.AddrPort) int {
	var lim *admission.RateLimiter
	var reason int
	switch costOf(b) {
	case costNone:
		return 0
	case costBinding:
		lim, reason = u.binding, dropRateBinding
	case costDTLSHello:
		lim, reason = u.dtlsHello, dropRateDTLSHello
	case costAllocate:
		lim, reason = u.allocate, dropRateAllocate
	}
	if ok, _ := lim.Allow(from.Addr()); !ok {
		return reason
	}
	return 0
}
