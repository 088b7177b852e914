package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
)

// Galène's signalling: JSON over a WebSocket (galene-protocol.md in its
// source). Each participant publishes one stream (audio and video, one
// peer connection, we offer) and receives each other participant's stream
// on a peer connection Galène offers.

type galeneMsg struct {
	Type      string                   `json:"type"`
	Kind      string                   `json:"kind,omitempty"`
	ID        string                   `json:"id,omitempty"`
	Source    string                   `json:"source,omitempty"`
	Username  string                   `json:"username,omitempty"`
	Password  string                   `json:"password,omitempty"`
	Group     string                   `json:"group,omitempty"`
	Label     string                   `json:"label,omitempty"`
	SDP       string                   `json:"sdp,omitempty"`
	Version   []string                 `json:"version,omitempty"`
	Request   map[string][]string      `json:"request,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	Value     json.RawMessage          `json:"value,omitempty"`
	Error     string                   `json:"error,omitempty"`
}

type galeneClient struct {
	id   string
	sub  *subscriber
	api  *webrtc.API
	conn *websocket.Conn
	stop chan struct{}

	wmu sync.Mutex // serializes WebSocket writes

	mu  sync.Mutex
	pcs map[string]*webrtc.PeerConnection // by stream id
}

func (c *galeneClient) send(ctx context.Context, m galeneMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

// joinGalene connects participant id to group and publishes; the
// subscriber counts what it receives.
func joinGalene(ctx context.Context, api *webrtc.API, wsURL, group, id string, sub *subscriber, stop chan struct{}) (*galeneClient, error) {
	conn, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	c := &galeneClient{id: id, sub: sub, api: api, conn: conn, stop: stop, pcs: make(map[string]*webrtc.PeerConnection)}
	if err := c.send(ctx, galeneMsg{Type: "handshake", Version: []string{"2"}, ID: id}); err != nil {
		return nil, err
	}
	if err := c.send(ctx, galeneMsg{Type: "join", Kind: "join", Group: group, Username: id, Password: "x"}); err != nil {
		return nil, err
	}
	joined := make(chan error, 1)
	go c.readLoop(joined)
	select {
	case err := <-joined:
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := c.send(ctx, galeneMsg{Type: "request", Request: map[string][]string{"": {"audio", "video"}}}); err != nil {
		return nil, err
	}
	return c, c.publish(ctx)
}

func (c *galeneClient) publish(ctx context.Context) error {
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{BundlePolicy: webrtc.BundlePolicyMaxBundle})
	if err != nil {
		return err
	}
	audio, video, err := newLocalTracks(c.id)
	if err != nil {
		return err
	}
	for _, t := range []webrtc.TrackLocal{audio, video} {
		if _, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return err
		}
	}
	sid := "up-" + c.id
	c.mu.Lock()
	c.pcs[sid] = pc
	c.mu.Unlock()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	publish(audio, video, c.stop)
	return c.send(ctx, galeneMsg{Type: "offer", ID: sid, Label: "camera", Username: c.id, SDP: pc.LocalDescription().SDP})
}

func (c *galeneClient) readLoop(joined chan<- error) {
	ctx := context.Background()
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			select {
			case joined <- err:
			default:
			}
			return
		}
		var m galeneMsg
		if err := json.Unmarshal(b, &m); err != nil {
			continue
		}
		switch m.Type {
		case "joined":
			switch m.Kind {
			case "join":
				joined <- nil
			case "fail":
				joined <- fmt.Errorf("galene join failed: %s", m.Value)
			}
		case "ping":
			_ = c.send(ctx, galeneMsg{Type: "pong"})
		case "answer":
			if pc := c.pc(m.ID); pc != nil {
				_ = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
			}
		case "ice":
			if pc := c.pc(m.ID); pc != nil && m.Candidate != nil {
				_ = pc.AddICECandidate(*m.Candidate)
			}
		case "offer":
			go c.answer(ctx, m)
		case "close":
			c.mu.Lock()
			if pc := c.pcs[m.ID]; pc != nil {
				_ = pc.Close()
				delete(c.pcs, m.ID)
			}
			c.mu.Unlock()
		}
	}
}

func (c *galeneClient) pc(id string) *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pcs[id]
}

// answer takes a stream Galène offers (another participant's).
func (c *galeneClient) answer(ctx context.Context, m galeneMsg) {
	pc := c.pc(m.ID)
	if pc == nil {
		var err error
		pc, err = c.api.NewPeerConnection(webrtc.Configuration{BundlePolicy: webrtc.BundlePolicyMaxBundle})
		if err != nil {
			return
		}
		from := m.Username
		pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			c.sub.read(from+"/"+t.Kind().String(), t)
		})
		pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
			if cand == nil {
				return
			}
			init := cand.ToJSON()
			_ = c.send(ctx, galeneMsg{Type: "ice", ID: m.ID, Candidate: &init})
		})
		c.mu.Lock()
		c.pcs[m.ID] = pc
		c.mu.Unlock()
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
		return
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return
	}
	if err := pc.SetLocalDescription(ans); err != nil {
		return
	}
	_ = c.send(ctx, galeneMsg{Type: "answer", ID: m.ID, SDP: ans.SDP})
}

func (c *galeneClient) close() {
	c.mu.Lock()
	for _, pc := range c.pcs {
		_ = pc.Close()
	}
	c.mu.Unlock()
	_ = c.conn.Close(websocket.StatusNormalClosure, "")
}
