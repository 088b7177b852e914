package main

import (
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
)

// LiveKit's signalling is its Go SDK's (server-sdk-go/v2): join with the
// --dev server's key, publish the two tracks as plain tracks (one layer:
// no simulcast, so that the load is the others'), and count every track
// the SDK subscribes to (auto-subscribe).

type livekitClient struct {
	room *lksdk.Room
}

// quietLiveKit silences the SDK's logs (a line per track and state, on the
// load's core).
func quietLiveKit() { lksdk.SetLogger(logger.GetDiscardLogger()) }

func joinLiveKit(url, room, id string, sub *subscriber, stop chan struct{}) (*livekitClient, error) {
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(t *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		go sub.read(rp.Identity()+"/"+t.Kind().String(), t)
	}
	r, err := lksdk.ConnectToRoom(url, lksdk.ConnectInfo{
		APIKey: "devkey", APISecret: "secret", RoomName: room, ParticipantIdentity: id, ParticipantName: id,
	}, cb)
	if err != nil {
		return nil, err
	}
	audio, video, err := newLocalTracks(id)
	if err != nil {
		r.Disconnect()
		return nil, err
	}
	if _, err := r.LocalParticipant.PublishTrack(audio, &lksdk.TrackPublicationOptions{Name: "audio", Source: livekit.TrackSource_MICROPHONE}); err != nil {
		r.Disconnect()
		return nil, err
	}
	if _, err := r.LocalParticipant.PublishTrack(video, &lksdk.TrackPublicationOptions{
		Name: "video", Source: livekit.TrackSource_CAMERA, VideoWidth: 640, VideoHeight: 360,
	}); err != nil {
		r.Disconnect()
		return nil, err
	}
	publish(audio, video, stop)
	return &livekitClient{room: r}, nil
}

func (c *livekitClient) close() { c.room.Disconnect() }
