package app

import (
	"encoding/json"
	"net/http"
	"time"

	"parley.dev/parley/internal/jid"
)

// drainPoll is how often a drain looks whether the calls have ended.
const drainPoll = 250 * time.Millisecond

// startDrain begins a graceful stop, once: /health turns 503, the MUC
// refuses new meetings and tells everyone, and drained closes when no one
// has a media session any more, or DrainTimeout after the start.
func (p *parley) startDrain() {
	p.drainOnce.Do(func() {
		until := time.Now().Add(p.cfg.DrainTimeout)
		p.draining.Store(true)
		p.muc.Drain(until)
		p.log.Info("draining: no new meetings; stopping when the calls end", "calls", p.sfu.Stats().Conferences, "until", until.Format(time.RFC3339))
		go p.waitCallsEnd(until)
	})
}

// waitCallsEnd closes drained when the SFU has no participant left or
// when until passes.
func (p *parley) waitCallsEnd(until time.Time) {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for range t.C {
		st := p.sfu.Stats()
		if st.Participants == 0 {
			p.log.Info("drained: the calls have ended")
			break
		}
		if time.Now().After(until) {
			p.log.Warn("drain timeout: stopping with calls in progress", "participants", st.Participants)
			break
		}
	}
	close(p.drained)
}

// drainHandler is POST /admin/drain on the admin listener: it starts the
// drain and answers what is left.
func (p *parley) drainStatus() any {
	p.startDrain()
	st := p.sfu.Stats()
	return map[string]any{"draining": true, "conferences": st.Conferences, "participants": st.Participants,
		"timeout_seconds": int(p.cfg.DrainTimeout / time.Second)}
}

// health is GET /health: readiness (200 when serving, 503 while starting
// or draining), as JSON. GET /health/live is liveness: 200 while the
// process answers at all.
func (p *parley) health(w http.ResponseWriter, r *http.Request) {
	status, code := "ok", http.StatusOK
	switch {
	case p.draining.Load():
		status, code = "draining", http.StatusServiceUnavailable
	case !p.ready.Load():
		status, code = "starting", http.StatusServiceUnavailable
	}
	body := map[string]any{"status": status, "version": p.cfg.Version}
	if p.bridges != nil {
		n := len(p.bridges.Bridges())
		body["bridges"] = n
		if n == 0 && p.cfg.Bridges.NoLocal {
			// Start order does not matter, but say what is missing.
			brewery, _ := p.cfg.brewery()
			body["missing"] = []string{"bridges: none in " + brewery.String() + " (parley bridge), and --local-bridge=false: calls have no media"}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

func (p *parley) live(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("{\"status\":\"alive\"}\n"))
}

// roomJID is the MUC address of a room name given to the admin API.
func (p *parley) roomJID(name string) (jid.JID, error) {
	return jid.Parse(name + "@" + p.mucDomain())
}

// startTrace and traceOf serve the admin API's signalling traces.
func (p *parley) startTrace(room string, d time.Duration) error {
	j, err := p.roomJID(room)
	if err != nil {
		return err
	}
	p.focus.StartTrace(j, d)
	return nil
}

func (p *parley) traceOf(room string) (any, error) {
	j, err := p.roomJID(room)
	if err != nil {
		return nil, err
	}
	return p.focus.TraceOf(j)
}
