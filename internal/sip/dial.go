package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Outbound is where dial-out calls go.
type Outbound struct {
	// Proxy is the outbound proxy or trunk, "host:port": a number is
	// dialled as sip:NUMBER@Proxy. Default "": only SIP URIs can be
	// dialled, straight to their host.
	Proxy string
	// Username and Password answer the proxy's digest challenge (401 or
	// 407). Default "": none.
	Username, Password string
	// RingTimeout is how long a call may ring before it is given up.
	// Default 45 s.
	RingTimeout time.Duration
	// TLS is how dial-outs to sips: or ;transport=tls targets check the
	// callee's certificate (RootCAs). Default nil: the system's roots.
	// Those calls need Config.TLSListen (the callee answers to it) and
	// offer SRTP (SDES).
	TLS *tls.Config
}

// errBadTarget is a room or callee a dial-out cannot even try.
var errBadTarget = errors.New("sip: bad dial-out target")

// errFull is a dial-out refused because MaxCalls calls are live.
var errFull = errors.New("sip: the gateway carries its maximum of calls")

// DialError is a dial-out that did not reach the room: Reason is "busy",
// "no-answer", "rejected" or "failed"; Code the SIP status, if any.
type DialError struct {
	Reason string
	Code   int
	Err    error // the cause, for "failed"
}

func (e *DialError) Error() string {
	switch {
	case e.Code != 0:
		return fmt.Sprintf("sip: dial-out %s (%d)", e.Reason, e.Code)
	case e.Err != nil:
		return fmt.Sprintf("sip: dial-out %s: %v", e.Reason, e.Err)
	}
	return "sip: dial-out " + e.Reason
}

func (e *DialError) Unwrap() error { return e.Err }

// Dialled is a dial-out call that reached its room.
type Dialled struct {
	Room string `json:"room"`
	Nick string `json:"nick"` // the phone's name in the room
	Call string `json:"call"` // the SIP Call-ID
}

// Dial calls to (a SIP URI, or a number through Outbound.Proxy) and, when
// it answers, brings it into room. It returns once the callee is in the
// room, or with a *DialError; the call then goes on until either side
// hangs up.
func (g *Gateway) Dial(ctx context.Context, room, to string) (Dialled, error) {
	room, ok := roomOf(room)
	if !ok {
		return Dialled{}, &DialError{Reason: "failed", Err: fmt.Errorf("%w: not a room name", errBadTarget)}
	}
	target, err := g.target(to)
	if err != nil {
		return Dialled{}, &DialError{Reason: "failed", Err: fmt.Errorf("%w: %v", errBadTarget, err)}
	}
	// MaxCalls bounds dial-outs too, ringing ones included: a moderator
	// cannot flood the trunk.
	if g.ringing.Add(1)+g.live.Load() > int64(g.cfg.MaxCalls) {
		g.ringing.Add(-1)
		return Dialled{}, &DialError{Reason: "failed", Err: errFull}
	}
	defer g.ringing.Add(-1)
	conn, err := listenRTP(g.bindIP)
	if err != nil {
		return Dialled{}, &DialError{Reason: "failed", Err: err}
	}
	fail := func(err error) (Dialled, error) {
		conn.Close()
		return Dialled{}, err
	}
	ip := g.mediaIP(addrOf(net.JoinHostPort(target.Host, "0")))
	out, key := g.out, []byte(nil)
	if overTLS(target) { // signalling encrypted: SDES keys may travel in the SDP
		out, key = g.outTLS, newSDESKey()
	}
	dlg, err := out.Invite(ctx, target, offerSDP(ip, conn.LocalAddr().(*net.UDPAddr).Port, rand.Uint64()>>1, key),
		sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return fail(&DialError{Reason: "failed", Err: err})
	}
	ring, cancel := context.WithTimeout(ctx, g.cfg.Outbound.RingTimeout)
	err = dlg.WaitAnswer(ring, sipgo.AnswerOptions{Username: g.cfg.Outbound.Username, Password: g.cfg.Outbound.Password})
	cancel()
	if err != nil {
		dlg.Close()
		return fail(dialError(err))
	}
	answer, err := parseOffer(dlg.InviteResponse.Body())
	if err == nil {
		err = dlg.Ack(ctx)
	}
	if err != nil {
		g.bye(dlg)
		dlg.Close()
		return fail(&DialError{Reason: "failed", Err: err})
	}
	nick := phoneNick("", target.User)
	res := Dialled{Room: room, Nick: nick, Call: dlg.InviteRequest.CallID().Value()}
	joined := make(chan error, 1)
	switch {
	case answer.srtp != nil && key != nil && answer.srtp.tag == offerCryptoTag:
		answer.srtp.local = key // the callee took our offer of SRTP
	case key != nil && answer.proto == "RTP/SAVP":
		g.bye(dlg)
		dlg.Close()
		return fail(&DialError{Reason: "failed", Err: errors.New("the callee answered SRTP in a suite we did not offer")})
	default:
		answer.srtp = nil // plain RTP: a crypto line we did not offer is not ours to take
	}
	leg, err := newPhoneLeg(conn, answer, addrOf(dlg.InviteResponse.Source()), &g.rtp, g.cfg.Codec)
	if err != nil {
		g.bye(dlg)
		dlg.Close()
		return fail(&DialError{Reason: "failed", Err: err})
	}
	g.calls.Add(1)
	go g.runDialled(dlg, room, nick, leg, joined)
	if err := <-joined; err != nil {
		return Dialled{}, &DialError{Reason: "failed", Err: err}
	}
	res.Nick = nick
	return res, nil
}

// runDialled carries an answered dial-out call: it joins the room (telling
// joined how that went) and stays until either side hangs up.
func (g *Gateway) runDialled(dlg *sipgo.DialogClientSession, room, nick string, leg *phoneLeg, joined chan<- error) {
	defer g.calls.Done()
	defer dlg.Close()
	defer leg.close()
	g.live.Add(1)
	defer g.live.Add(-1)
	ctx, cancel := context.WithCancel(g.ctx)
	defer cancel()
	mix := newMixer(g.cfg.Codec, g.cfg.MixSpeakers)
	client, r, err := g.join(ctx, room, nick, leg, mix)
	if err != nil {
		g.bye(dlg)
		joined <- err
		return
	}
	defer client.Close()
	defer r.Leave()
	g.total.Add(1)
	leg.start(mix)
	joined <- nil
	err = g.converse(ctx, dlg, dlg.Context(), r)
	g.log.Info("dial-out call ended", "call", dlg.InviteRequest.CallID().Value(), "room", room, "reason", err)
}

// target turns what a dialler typed into the URI to INVITE.
func (g *Gateway) target(to string) (sip.Uri, error) {
	to = strings.TrimSpace(to)
	var u sip.Uri
	if strings.HasPrefix(to, "sip:") || strings.HasPrefix(to, "sips:") {
		if err := sip.ParseUri(to, &u); err != nil || u.Host == "" {
			return u, fmt.Errorf("%q is no SIP URI", to)
		}
		if overTLS(u) && g.outTLS == nil {
			return u, errors.New("dialling over TLS needs the gateway's TLS listener (--sip-tls)")
		}
		return u, nil
	}
	number := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, to)
	if number == "" || len(number) > 32 || strings.Trim(number[1:], "0123456789*#") != "" || !strings.ContainsRune("+0123456789", rune(number[0])) {
		return u, fmt.Errorf("%q is neither a number nor a SIP URI", to)
	}
	if g.cfg.Outbound.Proxy == "" {
		return u, errors.New("dialling a number needs an outbound proxy (--sip-outbound-proxy)")
	}
	if err := sip.ParseUri("sip:"+number+"@"+g.cfg.Outbound.Proxy, &u); err != nil {
		return u, fmt.Errorf("the outbound proxy %q: %v", g.cfg.Outbound.Proxy, err)
	}
	return u, nil
}

// overTLS says whether a dial-out target is reached over TLS.
func overTLS(u sip.Uri) bool {
	if u.IsEncrypted() {
		return true
	}
	tp, _ := u.UriParams.Get("transport")
	return strings.EqualFold(tp, "tls")
}

// offerCryptoTag is the a=crypto tag of our dial-out offers.
const offerCryptoTag = 1

// dialError classifies why a dial-out was not answered.
func dialError(err error) *DialError {
	var re *sipgo.ErrDialogResponse
	if errors.As(err, &re) {
		code := re.Res.StatusCode
		switch code {
		case sip.StatusBusyHere, 600:
			return &DialError{Reason: "busy", Code: code}
		case sip.StatusRequestTimeout, sip.StatusTemporarilyUnavailable, sip.StatusRequestTerminated:
			return &DialError{Reason: "no-answer", Code: code}
		}
		return &DialError{Reason: "rejected", Code: code}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &DialError{Reason: "no-answer", Err: err}
	}
	return &DialError{Reason: "failed", Err: err}
}

// offerSDP is our offer: PCMU, PCMA and telephone-event, and SRTP
// (optional: RTP/AVP with a=crypto, as RFC 4568 allows) when key is set.
func offerSDP(ip net.IP, port int, sessionID uint64, key []byte) []byte {
	family := "IP4"
	if ip.To4() == nil {
		family = "IP6"
	}
	crypto := ""
	if key != nil {
		crypto = "\r\n" + cryptoLine(offerCryptoTag, key)
	}
	return []byte(strings.Join([]string{"v=0",
		fmt.Sprintf("o=parley %d %d IN %s %s", sessionID, sessionID, family, ip),
		"s=parley", fmt.Sprintf("c=IN %s %s", family, ip), "t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 0 8 101", port),
		"a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15",
		"a=ptime:20", "a=sendrecv"}, "\r\n") + crypto + "\r\n")
}

// AdminDial is Dial for the admin API (POST /api/rooms/{room}/dial): the
// JSON to answer and its HTTP status. 200: the callee is in the room;
// 409 busy, 504 no answer, 502 rejected or failed on the way, 400 a bad
// target; the body's "error" says which, "code" the SIP status.
func (g *Gateway) AdminDial(ctx context.Context, room, to string) (any, int) {
	d, err := g.Dial(ctx, room, to)
	if err == nil {
		return d, 200
	}
	var de *DialError
	if !errors.As(err, &de) {
		return map[string]any{"error": err.Error()}, 502
	}
	status := map[string]int{"busy": 409, "no-answer": 504, "rejected": 502}[de.Reason]
	msg := de.Reason
	if status == 0 {
		status, msg = 502, de.Error()
		if de.Code == 0 && errors.Is(de.Err, errBadTarget) {
			status = 400
		}
	}
	return map[string]any{"error": msg, "code": de.Code}, status
}
