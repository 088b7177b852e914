package turn

import "sync/atomic"

// Reasons the server refused something.
const (
	refusedAuthMalformed   = iota // username is not "EXPIRY:USER"
	refusedAuthExpired            // the credential's expiry has passed
	refusedAuthBadPassword        // MESSAGE-INTEGRITY did not match: forged, or another secret
	refusedPeer                   // permission, channel or connection to a forbidden peer
	refusedPeerPacket             // relayed packet or connection from/to a forbidden address and port
	refusedQuotaUser              // the user has MaxAllocationsPerUser allocations
	refusedQuotaTotal             // the server has MaxAllocations allocations
	refusedRelay                  // no relay socket could be opened
	numRefusedReasons
)

// refusedReasonName names a refusal reason in Stats.Refused.
func refusedReasonName(r int) string {
	switch r {
	case refusedAuthMalformed:
		return "auth_malformed"
	case refusedAuthExpired:
		return "auth_expired"
	case refusedAuthBadPassword:
		return "auth_bad_password"
	case refusedPeer:
		return "peer_forbidden"
	case refusedPeerPacket:
		return "peer_packet_forbidden"
	case refusedQuotaUser:
		return "quota_user"
	case refusedQuotaTotal:
		return "quota_total"
	case refusedRelay:
		return "relay_unavailable"
	}
	return "unknown"
}

// Reasons the server dropped a datagram it would have relayed.
const (
	dropLibraryQueueFull = iota // a relay's queue towards the library (datagrams on no channel) was full
	dropSendToPeer              // a relay socket refused a datagram to a peer (buffer full, ICMP error)
	dropSendToClient            // the TURN socket refused ChannelData to a client
	numDropReasons
)

// dropReasonName names a drop reason in Stats.Dropped.
func dropReasonName(r int) string {
	switch r {
	case dropLibraryQueueFull:
		return "library_queue_full"
	case dropSendToPeer:
		return "send_to_peer"
	case dropSendToClient:
		return "send_to_client"
	}
	return "unknown"
}

// counters are the server's statistics; safe for concurrent use.
type counters struct {
	created  atomic.Uint64 // allocations created since start
	toPeer   atomic.Uint64 // ChannelData relayed to peers by the fast path
	toClient atomic.Uint64 // datagrams relayed to clients as ChannelData by the fast path
	bytes    atomic.Uint64 // payload bytes the fast path relayed, both ways
	refused  [numRefusedReasons]atomic.Uint64
	dropped  [numDropReasons]atomic.Uint64
}

func (c *counters) refuse(reason int) { c.refused[reason].Add(1) }

func (c *counters) drop(reason int) { c.dropped[reason].Add(1) }

// Stats is a snapshot of the server's counters.
type Stats struct {
	// Allocations is the number of live allocations.
	Allocations int
	// AllocationsCreated counts allocations since the server started.
	AllocationsCreated uint64
	// ChannelToPeer and ChannelToClient count datagrams relayed on
	// channels of UDP clients (the common case), each way.
	ChannelToPeer, ChannelToClient uint64
	// ChannelBytes counts the payload bytes of those datagrams, both ways.
	ChannelBytes uint64
	// Refused counts refusals by reason: auth_malformed, auth_expired,
	// auth_bad_password, peer_forbidden (permission, channel binding or
	// TCP connection to a forbidden peer), peer_packet_forbidden (relayed
	// packets or connections dropped for their exact address), quota_user,
	// quota_total, relay_unavailable.
	Refused map[string]uint64
	// Dropped counts datagrams lost inside the server by reason:
	// library_queue_full (a relay's datagrams on no channel waiting for
	// the TURN library), send_to_peer and send_to_client (the socket
	// refused it).
	Dropped map[string]uint64
}
