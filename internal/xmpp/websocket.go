package xmpp

import (
	"net"
	"net/http"
	"strconv"

	"github.com/coder/websocket"

	"parley.dev/parley/internal/stream"
)

// WebSocketHandler returns the http.Handler for XMPP over WebSocket
// (RFC 7395): it upgrades requests that offer the "xmpp" subprotocol and
// runs a session over each.
func (s *Server) WebSocketHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Subprotocols: []string{"xmpp"},
			// XMPP authenticates inside the stream; any origin may connect,
			// as with any XMPP server reachable over TCP.
			InsecureSkipVerify: true,
		})
		if err != nil {
			return // Accept already answered the request
		}
		if c.Subprotocol() != "xmpp" {
			c.Close(websocket.StatusPolicyViolation, "the xmpp subprotocol is required")
			return
		}
		remote := remoteAddr(r)
		t := stream.NewWS(c, stream.WSConfig{
			Limits:     s.cfg.Limits,
			Secure:     r.TLS != nil || isLoopback(remote),
			RemoteAddr: remote,
		})
		s.ServeTransport(withURLToken(r.Context(), r.URL.Query().Get("token"), r.URL.Query().Get("resume")), t)
	})
}

func remoteAddr(r *http.Request) net.Addr {
	host, port, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return &net.TCPAddr{}
	}
	p, _ := strconv.Atoi(port)
	return &net.TCPAddr{IP: net.ParseIP(host), Port: p}
}
