package focus

import (
	"context"
	"encoding/json"
	"time"

	"parley.dev/parley/internal/bridge"
)

// ConferenceInfo describes a running conference, for operators.
type ConferenceInfo struct {
	Room         string            `json:"room"`
	Started      time.Time         `json:"started"` // zero: no media yet
	Bridge       string            `json:"bridge,omitempty"`
	Participants []ParticipantInfo `json:"participants"`
}

// ParticipantInfo describes one occupant the focus follows.
type ParticipantInfo struct {
	Nick   string          `json:"nick"`
	Client string          `json:"client"`          // its disco identity name: the web client names its browser
	State  string          `json:"state"`           // probing, chat-only, offered, active...
	Since  time.Time       `json:"since"`           // start of its media session; zero before
	Media  json.RawMessage `json:"media,omitempty"` // the bridge's report of its connection
}

// Conferences describes every running conference, with each media
// participant's connection report. Each conference's actor answers for
// its own state; the reports (Pion's getStats) are read outside the
// actors. Conferences that do not answer before ctx ends are left out.
func (f *Focus) Conferences(ctx context.Context) []ConferenceInfo {
	f.mu.Lock()
	confs := make([]*conference, 0, len(f.conferences))
	for _, c := range f.conferences {
		confs = append(confs, c)
	}
	f.mu.Unlock()
	out := make([]ConferenceInfo, 0, len(confs))
	for _, c := range confs {
		type answer struct {
			info ConferenceInfo
			sps  []bridge.Participant // by index in info.Participants; nil without media
		}
		ch := make(chan answer, 1)
		c.post(func() {
			a := answer{info: ConferenceInfo{Room: c.room.String(), Started: c.started}}
			if c.media != nil {
				a.info.Bridge = c.media.Bridge()
			}
			for _, p := range c.byNick {
				a.info.Participants = append(a.info.Participants, ParticipantInfo{Nick: p.nick, Client: p.client, State: p.state.String(), Since: p.since})
				a.sps = append(a.sps, p.sp)
			}
			ch <- a
		})
		select {
		case a := <-ch:
			for i, sp := range a.sps {
				if sp != nil {
					if rep, err := sp.Report(ctx); err == nil {
						a.info.Participants[i].Media = rep
					}
				}
			}
			out = append(out, a.info)
		case <-ctx.Done():
			return out
		}
	}
	return out
}

var sessionStateNames = [...]string{"probing", "chat-only", "no-bridge", "nothing-yet", "offered", "active", "renegotiating", "restarting", "ended"}

func (s sessionState) String() string {
	if int(s) < len(sessionStateNames) {
		return sessionStateNames[s]
	}
	return "unknown"
}
