package sip

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"parley.dev/parley/sdk"
)

// onInvite runs one incoming call, from the INVITE to the hang-up: sipgo
// gives each request its own goroutine, and this one stays for the call.
func (g *Gateway) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	src := addrOf(req.Source())
	if !g.invites.allow(src) {
		g.refuse(req, tx, refusedRate, sip.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	if g.live.Load() >= int64(g.cfg.MaxCalls) {
		g.refuse(req, tx, refusedFull, sip.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	verdict, trunk := g.policy.check(req, src)
	switch verdict {
	case challenge:
		res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
		res.AppendHeader(g.policy.challengeHeader())
		_ = tx.Respond(res)
		return
	case forbidden:
		g.refuse(req, tx, refusedTrunk, sip.StatusForbidden, "Forbidden")
		return
	case badRequest:
		g.refuse(req, tx, refusedMalformed, sip.StatusBadRequest, "Bad Request")
		return
	}
	room, ok := roomOf(req.Recipient.User)
	if g.toIVR(req.Recipient.User) {
		room, ok = "", true // the IVR asks for the room's PIN
	}
	if !ok {
		g.refuse(req, tx, refusedRoom, sip.StatusNotFound, "Not Found")
		return
	}
	o, err := offerOf(req)
	if err != nil {
		if errors.Is(err, errBadSDP) {
			g.refuse(req, tx, refusedMalformed, sip.StatusBadRequest, "Bad Request")
		} else {
			g.refuse(req, tx, refusedCodec, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		}
		return
	}
	dlg, err := g.dialogsOf(req).ReadInvite(req, tx)
	if err != nil {
		g.refuse(req, tx, refusedMalformed, sip.StatusBadRequest, "Bad Request")
		return
	}
	defer dlg.Close()
	g.live.Add(1)
	defer g.live.Add(-1)
	g.calls.Add(1)
	defer g.calls.Done()
	// The room is the one the call reached: at the IVR, the PIN's ("" if
	// the caller never gave one).
	room, err = g.runCall(dlg, room, callerNick(req.From()), o, src)
	if err != nil {
		g.log.Info("call ended", "call", req.CallID().Value(), "room", room, "trunk", trunk, "from", src, "reason", err)
	}
}

func (g *Gateway) refuse(req *sip.Request, tx sip.ServerTransaction, why refusal, code int, reason string) {
	g.refusals[why].Add(1)
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
}

// toIVR says whether a Request-URI user reaches the IVR rather than a
// room: the IVR's name, nothing, or a number (a carrier's DID).
func (g *Gateway) toIVR(user string) bool {
	return user == "" || strings.EqualFold(user, g.cfg.IVRUser) || strings.HasPrefix(user, "+")
}

// offerOf reads the INVITE's SDP offer.
func offerOf(req *sip.Request) (offer, error) {
	if ct := req.ContentType(); ct == nil || !strings.EqualFold(strings.TrimSpace(strings.Split(ct.Value(), ";")[0]), "application/sdp") {
		return offer{}, errBadSDP // we do not offer first: the INVITE must
	}
	return parseOffer(req.Body())
}

// roomOf checks a Request-URI's user part as a room name.
func roomOf(user string) (string, bool) {
	user = strings.ToLower(user)
	if user == "" || len(user) > 64 {
		return "", false
	}
	for _, r := range user {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return "", false
		}
	}
	return user, true
}

// callerNick is the phone's name in the room: the caller's display name,
// or its number with all but the last four digits masked. It is plain
// ASCII words: the SDK publishes under the nick, and Jingle takes only
// those in a source's parameters.
func callerNick(from *sip.FromHeader) string {
	if from == nil {
		return "Phone"
	}
	return phoneNick(from.DisplayName, from.Address.User)
}

// phoneNick is callerNick of a display name and a URI's user part.
func phoneNick(display, user string) string {
	if n := strings.Join(strings.Fields(display), " "); n != "" && len(n) <= 40 && strings.IndexFunc(n, notNameRune) < 0 {
		return "Phone " + n
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, user)
	if len(digits) < 4 {
		return "Phone"
	}
	return "Phone ***" + digits[len(digits)-4:]
}

// notNameRune is what a display name taken as a nick may not hold: digits
// (a number is masked instead) and anything but ASCII letters, spaces and
// a few marks.
func notNameRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == ' ' || r == '-' || r == '\'' || r == '.')
}

// runCall answers, joins the room (room "": the one whose PIN the caller
// types), and carries audio until either side hangs up. It returns the
// room the call reached, and why it ended.
func (g *Gateway) runCall(dlg *sipgo.DialogServerSession, room, nick string, o offer, src netip.Addr) (string, error) {
	err := g.carryCall(dlg, &room, nick, o, src)
	return room, err
}

// carryCall is runCall's body; *room becomes the PIN's room at the IVR.
func (g *Gateway) carryCall(dlg *sipgo.DialogServerSession, roomp *string, nick string, o offer, src netip.Addr) error {
	room := *roomp
	_ = dlg.Respond(sip.StatusRinging, "Ringing", nil)
	conn, err := listenRTP(g.bindIP)
	if err != nil {
		_ = dlg.Respond(sip.StatusInternalServerError, "Server Error", nil)
		return err
	}
	leg, err := newPhoneLeg(conn, o, src, &g.rtp, g.cfg.Codec)
	if err != nil {
		conn.Close()
		_ = dlg.Respond(sip.StatusInternalServerError, "Server Error", nil)
		return err
	}
	defer leg.close()
	g.legs.Store(dlg.ID, leg)
	defer g.legs.Delete(dlg.ID)
	ctx, cancel := context.WithCancel(g.ctx)
	defer cancel()
	go func() { // the caller cancels, or hangs up
		select {
		case <-dlg.Context().Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	mix := newMixer(g.cfg.Codec, g.cfg.MixSpeakers)
	answer := func() error {
		leg.start(mix)
		if err := dlg.RespondSDP(answerSDP(o, g.mediaIP(src), leg.port(), rand.Uint64()>>1)); err != nil {
			g.bye(dlg)
			return fmt.Errorf("answering: %w", err)
		}
		return nil
	}
	ivr := room == ""
	if ivr { // answer first, then ask for the PIN
		if err := answer(); err != nil {
			return err
		}
		if room, err = g.ivr(ctx, leg, mix); err != nil {
			g.bye(dlg)
			return fmt.Errorf("the IVR: %w", err)
		}
		*roomp = room
	}
	client, r, err := g.join(ctx, room, nick, leg, mix)
	if err != nil {
		g.refusals[refusedJoin].Add(1)
		if ivr {
			g.bye(dlg)
		} else {
			_ = dlg.Respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", nil)
		}
		return fmt.Errorf("joining the room: %w", err)
	}
	defer client.Close()
	defer r.Leave()
	g.total.Add(1)
	if !ivr {
		if err := answer(); err != nil {
			return err
		}
	}
	if len(r.Occupants()) <= 1 {
		go g.say(ctx, mix, "alone")
	}
	return g.converse(ctx, dlg, dlg.Context(), r)
}

// byer is a dialog we can hang up, either side's.
type byer interface{ Bye(context.Context) error }

// converse waits for the end of a call in progress: the phone hangs up
// (hungUp ends), the room ends the call, or the gateway stops.
func (g *Gateway) converse(ctx context.Context, dlg byer, hungUp context.Context, r *sdk.Room) error {
	select {
	case <-hungUp.Done():
		return errors.New("the phone hung up")
	case <-r.Done():
		g.bye(dlg)
		return fmt.Errorf("the room ended the call: %s", r.Reason())
	case <-ctx.Done():
		g.bye(dlg)
		return errors.New("the gateway stops")
	}
}

// byeTimeout bounds the wait for the phone's answer to our BYE.
const byeTimeout = 2 * time.Second

// bye hangs up, waiting a little for the phone's answer.
func (g *Gateway) bye(dlg byer) {
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	_ = dlg.Bye(ctx)
}

// mediaIP is the address our SDP names: MediaIP, else the address we
// listen on, else the local address that routes to the caller.
func (g *Gateway) mediaIP(src netip.Addr) net.IP {
	if g.cfg.MediaIP != nil {
		return g.cfg.MediaIP
	}
	if !g.bindIP.IsUnspecified() && g.bindIP != nil {
		return g.bindIP
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 9)))
	if err != nil {
		return net.IPv4(127, 0, 0, 1)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP
}

// join enters the room as nick (or nick 2, 3... if taken), publishing the
// phone's audio and feeding the room's to the mixer.
func (g *Gateway) join(ctx context.Context, room, nick string, leg *phoneLeg, mix *mixer) (*sdk.Client, *sdk.Room, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.JoinTimeout)
	defer cancel()
	cfg := sdk.Config{Server: g.cfg.Server, Domain: g.cfg.Domain, Token: g.cfg.Token, Logger: g.log}
	if g.cfg.SDK != nil {
		g.cfg.SDK(&cfg)
	}
	client, err := sdk.Connect(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	enc, err := g.cfg.Codec.NewEncoder(clockRate)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	media := &sdk.Media{
		Audio: sdk.OpusFrames(func() (sdk.FrameReader, error) { return &uplink{leg: leg, enc: enc}, nil }),
		OnRTP: func(t sdk.Track, pkt *rtp.Packet) {
			if t.Kind() == "audio" {
				mix.push(pkt.SSRC, pkt.Payload)
			}
		},
	}
	for i := 1; ; i++ {
		// Phones share caller IDs (a trunk's withheld numbers, one PBX's
		// outgoing number): "Phone ***5678", "... 2", "... 3", then a
		// random number, so that the hundredth such phone does not try
		// every name before its own.
		name := nick
		switch {
		case i > 3:
			name = fmt.Sprintf("%s %d", nick, 4+rand.IntN(9996))
		case i > 1:
			name = fmt.Sprintf("%s %d", nick, i)
		}
		r, err := client.Join(ctx, sdk.RoomConfig{Room: room, Nick: name, Media: media, Phone: true})
		var je *sdk.JoinError
		if errors.As(err, &je) && je.Condition == "conflict" && i < 20 {
			continue
		}
		if err != nil {
			client.Close()
			return nil, nil, err
		}
		return client, r, nil
	}
}

// onInfo takes DTMF sent as SIP INFO (application/dtmf-relay or
// application/dtmf), for phones that do not send RFC 4733 events.
func (g *Gateway) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	dlg, err := g.dialogsOf(req).MatchDialogRequest(req)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	d, ok := infoDigit(ct, req.Body())
	if !ok {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", nil))
		return
	}
	if v, ok := g.legs.Load(dlg.ID); ok {
		select {
		case v.(*phoneLeg).digits <- d:
		default:
		}
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
}
