package bridgenode

import (
	"testing"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/bridgeproto"
)

// TestEndpointEventsCarryTheAllocation: every event of an endpoint names
// the allocation it belongs to (the token of its allocate order), so
// that the focus can drop those of an earlier allocation of the same id
// (remotebridge's TestEventsOfAnEarlierAllocationAreDropped).
func TestEndpointEventsCarryTheAllocation(t *testing.T) {
	for _, ev := range []bridge.Event{
		{Kind: bridge.EventNeedsOffer},
		{Kind: bridge.EventConnectionState, State: bridge.StateConnected},
		{Kind: bridge.EventSendLayers, Source: bridge.SourceCamera, Layers: "q"},
		{Kind: bridge.EventClosed},
	} {
		msg := endpointEvent("focus.example.test", "room", "p1", "a7", ev)
		if msg == nil {
			t.Fatalf("event %v: no message", ev.Kind)
		}
		el := msg.Child(bridgeproto.NS, "event")
		if el == nil || el.Attr("endpoint") != "p1" || el.Attr(bridgeproto.AttrAllocation) != "a7" {
			t.Errorf("event %v: %s, want endpoint p1 and allocation a7", ev.Kind, msg)
		}
	}
	if msg := endpointEvent("focus.example.test", "room", "p1", "", bridge.Event{Kind: bridge.EventClosed}); msg.Child(bridgeproto.NS, "event").Attr(bridgeproto.AttrAllocation) != "" {
		t.Errorf("an allocate without a token: %s", msg)
	}
}
