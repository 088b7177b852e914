package focus

import (
	"fmt"
	"testing"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/xmlstream"
)

func TestReceiveVideoRequest(t *testing.T) {
	known := map[string]bool{"video-p1": true, "screen-p1": true, "video-p2": true}
	el := xmlstream.New(nsParleyRoom, "receive-video", "quality", "medium", "last-n", "2").Add(
		xmlstream.New(nsParleyRoom, "video", "track", "video-p1", "height", "360"),
		xmlstream.New(nsParleyRoom, "video", "track", "screen-p1", "height", "0"),
		xmlstream.New(nsParleyRoom, "video", "track", "video-nobody", "height", "720"),
		xmlstream.New(nsParleyRoom, "pin", "stream", "p2"),
		xmlstream.New(nsParleyRoom, "pin", "stream", "nobody"))
	rv, err := receiveVideo(el, known)
	if err != nil {
		t.Fatal(err)
	}
	if rv.Quality != bridge.QualityMedium || rv.LastN != 2 || fmt.Sprint(rv.Heights) != "map[screen-p1:0 video-p1:360]" || fmt.Sprint(rv.Pinned) != "[p2]" {
		t.Errorf("receiveVideo = %+v", rv)
	}
	for name, bad := range map[string]*xmlstream.Element{
		"quality":  xmlstream.New(nsParleyRoom, "receive-video", "quality", "ultra"),
		"last-n":   xmlstream.New(nsParleyRoom, "receive-video", "last-n", "-1"),
		"height":   xmlstream.New(nsParleyRoom, "receive-video").Add(xmlstream.New(nsParleyRoom, "video", "track", "video-p1", "height", "tall")),
		"negative": xmlstream.New(nsParleyRoom, "receive-video").Add(xmlstream.New(nsParleyRoom, "video", "track", "video-p1", "height", "-5")),
	} {
		if _, err := receiveVideo(bad, known); err == nil {
			t.Errorf("%s: accepted %s", name, bad)
		}
	}
}
