package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/pion/stun/v4"

	"parley.dev/parley/internal/turn"
	"parley.dev/parley/internal/turn/turntest"
)

// flow is one allocation with one channel bound to one peer socket.
type flow struct {
	client  *net.UDPConn // talks to the TURN server
	peer    *net.UDPConn // the relay's peer
	relayed *net.UDPAddr // the allocation's relayed address
	channel uint16
}

func (f *flow) close() {
	f.client.Close()
	f.peer.Close()
}

// measure sets up o.flows flows on the server at addr and runs one
// direction of load through them.
func measure(ctx context.Context, o options, name, addr string, pid int, toPeer bool) (result, error) {
	server, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return result{}, err
	}
	var flows []*flow
	defer func() {
		for _, f := range flows {
			f.close()
		}
	}()
	for i := range o.flows {
		f, err := newFlow(server, fmt.Sprintf("bench%d", i), uint16(0x4000+i))
		if err != nil {
			return result{}, err
		}
		flows = append(flows, f)
	}
	var receivers []*net.UDPConn
	for _, f := range flows {
		if toPeer {
			receivers = append(receivers, f.peer)
		} else {
			receivers = append(receivers, f.client)
		}
	}
	received := counter(receivers)
	// Warm up: one packet per flow, and wait until it arrives.
	for _, f := range flows {
		send(f, server, toPeer, make([]byte, o.size))
	}
	deadline := time.Now().Add(5 * time.Second)
	for received.Load() < uint64(len(flows)) {
		if time.Now().After(deadline) {
			return result{}, errors.New("warm-up packets were not relayed")
		}
		time.Sleep(time.Millisecond)
	}
	received.Store(0)

	cpu0, err := cpuTime(pid)
	if err != nil {
		return result{}, err
	}
	own0, _ := cpuTime(os.Getpid())
	sent, wall := blast(ctx, o, flows, server, toPeer)
	time.Sleep(200 * time.Millisecond) // let the last packets through
	cpu1, err := cpuTime(pid)
	if err != nil {
		return result{}, err
	}
	own1, _ := cpuTime(os.Getpid())
	dir := "client → peer"
	if !toPeer {
		dir = "peer → client"
	}
	return result{
		server: name, direction: dir, offered: sent, received: received.Load(),
		wall: wall, serverCPU: cpu1 - cpu0, ownCPU: own1 - own0,
	}, nil
}

// blast sends at o.rate for o.duration, round robin over the flows.
func blast(ctx context.Context, o options, flows []*flow, server *net.UDPAddr, toPeer bool) (uint64, time.Duration) {
	payload := make([]byte, o.size)
	frames := make([][]byte, len(flows))
	for i, f := range flows {
		frames[i] = channelData(f.channel, payload)
	}
	start := time.Now()
	var sent uint64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		elapsed := time.Since(start)
		if elapsed >= o.duration || ctx.Err() != nil {
			return sent, elapsed
		}
		target := uint64(elapsed.Seconds() * float64(o.rate))
		for ; sent < target; sent++ {
			i := int(sent) % len(flows)
			if toPeer {
				flows[i].client.WriteTo(frames[i], server)
			} else {
				flows[i].peer.WriteTo(payload, flows[i].relayed)
			}
		}
		<-tick.C
	}
}

func send(f *flow, server *net.UDPAddr, toPeer bool, payload []byte) {
	if toPeer {
		f.client.WriteTo(channelData(f.channel, payload), server)
	} else {
		f.peer.WriteTo(payload, f.relayed)
	}
}

func channelData(channel uint16, payload []byte) []byte {
	return turntest.ChannelData(channel, payload)
}

// newFlow allocates (UDP relay) with user's REST credential and binds
// channel to a fresh peer socket.
func newFlow(server *net.UDPAddr, user string, channel uint16) (*flow, error) {
	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		client.Close()
		return nil, err
	}
	f := &flow{client: client, peer: peer, channel: channel}
	if err := f.setup(server, user); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *flow) setup(server *net.UDPAddr, user string) error {
	cred, err := turn.NewCredential(secret, user, time.Now().Add(time.Hour))
	if err != nil {
		return err
	}
	a, err := turntest.Allocate(f.client, server, cred.Username, cred.Password)
	if err != nil {
		return err
	}
	f.relayed = a.Relayed
	return a.BindChannel(f.peer.LocalAddr().(*net.UDPAddr), f.channel)
}

// stunPing sends a binding request to addr and waits briefly for an answer.
func stunPing(addr string) error {
	server, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return err
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer conn.Close()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if _, err := conn.WriteTo(req.Raw, server); err != nil {
		return err
	}
	conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, _, err = conn.ReadFrom(make([]byte, 1500))
	return err
}
