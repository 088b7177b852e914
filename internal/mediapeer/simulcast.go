package mediapeer

import (
	_ "embed"
	"errors"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// The synthetic simulcast layers beside pattern.ivf (the half layer): the
// same test pattern at 320x180 (about 150 kbit/s, 2 s) and 1280x720 (about
// 1.5 Mbit/s, 1 s, to keep the binary small), made with ffmpeg:
//
//	ffmpeg -f lavfi -i testsrc=size=320x180:rate=30 -vf noise=alls=10:allf=t -t 2 \
//	    -c:v libvpx -b:v 150k -minrate 150k -maxrate 150k -bufsize 150k -qmax 40 -g 30 \
//	    -auto-alt-ref 0 -deadline good pattern-q.ivf
//	ffmpeg -f lavfi -i testsrc=size=1280x720:rate=30 -vf noise=alls=10:allf=t -t 1 \
//	    -c:v libvpx -b:v 1500k -minrate 1500k -maxrate 1500k -bufsize 1500k -qmax 37 -g 30 \
//	    -auto-alt-ref 0 -deadline good pattern-f.ivf
var (
	//go:embed testdata/pattern-q.ivf
	patternQuarterIVF []byte
	//go:embed testdata/pattern-f.ivf
	patternFullIVF []byte
)

// SimulcastRIDs are the rids of a simulcast camera's layers, smallest
// first, as the SFU's offer names them (docs/SIGNALLING.md).
var SimulcastRIDs = [3]string{"q", "h", "f"}

// syntheticLayers parses the embedded layers once, like synthetic.
var syntheticLayers = sync.OnceValues(func() ([3]*clip, error) {
	var out [3]*clip
	clips, err := synthetic()
	if err != nil {
		return out, err
	}
	out[1] = clips[0]
	if out[0], err = clipOf(mustIVF(patternQuarterIVF)); err != nil {
		return out, err
	}
	out[2], err = clipOf(mustIVF(patternFullIVF))
	return out, err
})

// SyntheticLayers returns new sources of the built-in test pattern as
// three simulcast layers, smallest first: 320x180 at about 150 kbit/s,
// 640x360 at about 1 Mbit/s (SyntheticVideo) and 1280x720 at about
// 1.5 Mbit/s, all 30 frames/s with a keyframe every second, looping.
func SyntheticLayers() []Source {
	clips, err := syntheticLayers()
	if err != nil {
		panic(err) // the embedded files are checked by the tests
	}
	return []Source{&loop{c: clips[0]}, &loop{c: clips[1]}, &loop{c: clips[2]}}
}

// errLayers reports unusable VideoLayers.
var errLayers = errors.New("mediapeer: VideoLayers needs 2 or 3 VP8 sources and no Video")

// layeredVideo publishes a video as simulcast layers, as a browser does:
// one RTP stream per layer, each an encoding of one sender, tagged with
// the mid and rid header extensions (pion does not add them), so that the
// SFU tells the layers apart by rid.
type layeredVideo struct {
	tracks  []*webrtc.TrackLocalStaticRTP // one per layer, smallest first; read-only
	sources []Source                      // read-only; each read by its layer's goroutine

	mu    sync.Mutex
	stamp layerStamp // how to tag packets on the current PeerConnection; guarded by mu
}

// layerStamp is what a PeerConnection negotiated for the tags.
type layerStamp struct {
	mid          string // the video m-line's
	midID, ridID uint8  // header extension ids; 0: not negotiated
}

func newLayeredVideo(nick string, sources []Source) (*layeredVideo, error) {
	if len(sources) < 2 || len(sources) > len(SimulcastRIDs) {
		return nil, errLayers
	}
	v := &layeredVideo{sources: sources}
	for i, src := range sources {
		if src == nil || src.MimeType() != webrtc.MimeTypeVP8 {
			return nil, errLayers
		}
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			"video", nick, webrtc.WithRTPStreamID(SimulcastRIDs[i]))
		if err != nil {
			return nil, err
		}
		v.tracks = append(v.tracks, tr)
	}
	return v, nil
}

// attach adds the layers to pc (on the SFU's video m-line for us) and
// learns how to tag them there. Call it after the offer is applied.
func (v *layeredVideo) attach(pc *webrtc.PeerConnection) error {
	sender, err := pc.AddTrack(v.tracks[0])
	if err != nil {
		return err
	}
	for _, tr := range v.tracks[1:] {
		if err := sender.AddEncoding(tr); err != nil {
			return err
		}
	}
	var st layerStamp
	for _, e := range sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			st.midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			st.ridID = uint8(e.ID)
		}
	}
	for _, t := range pc.GetTransceivers() {
		if t.Sender() == sender {
			st.mid = t.Mid()
		}
	}
	v.mu.Lock()
	v.stamp = st
	v.mu.Unlock()
	for i := range v.tracks {
		go v.readRTCP(sender, i)
	}
	return nil
}

// keyframer is a source that can make its next frame a keyframe.
type keyframer interface{ RequestKeyframe() }

// readRTCP reads layer i's RTCP until the sender stops, and answers the
// SFU's keyframe requests (PLI, FIR) as a browser's encoder does, where
// the layer's source can: a layer switch then waits for no more than
// that.
func (v *layeredVideo) readRTCP(s *webrtc.RTPSender, i int) {
	kf, _ := v.sources[i].(keyframer)
	for {
		pkts, _, err := s.ReadSimulcastRTCP(SimulcastRIDs[i])
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if kf != nil {
					kf.RequestKeyframe()
				}
			}
		}
	}
}

// start publishes every layer until the session stops.
func (v *layeredVideo) start(s *session) {
	for i := range v.tracks {
		pz := rtp.NewPacketizer(rtpMTU, 0, 0, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), 90000)
		go s.publish(v.sources[i], func(f Frame) error { return v.write(i, pz, f) })
	}
}

// rtpMTU is the packet size pion's sample tracks use.
const rtpMTU = 1200

// write sends one frame of layer i, tagged for the current PeerConnection.
func (v *layeredVideo) write(i int, pz rtp.Packetizer, f Frame) error {
	v.mu.Lock()
	st := v.stamp
	v.mu.Unlock()
	samples := uint32(f.Duration * 90000 / time.Second)
	for _, pkt := range pz.Packetize(f.Data, samples) {
		if st.midID != 0 {
			_ = pkt.Header.SetExtension(st.midID, []byte(st.mid)) // a short mid always fits
		}
		if st.ridID != 0 {
			_ = pkt.Header.SetExtension(st.ridID, []byte(SimulcastRIDs[i]))
		}
		if err := v.tracks[i].WriteRTP(pkt); err != nil {
			return err
		}
	}
	return nil
}
