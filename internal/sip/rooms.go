package sip

import (
	"context"
	"errors"
	"strconv"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// nsPhone is the namespace of phones in rooms (docs/SIGNALLING.md §16): the
// application conditions of a dial-out's errors are in it.
const nsPhone = "urn:parley:phone:0"

// PhoneDialIn is a room's dial-in number and PIN, for its occupants (the
// web client's invite dialog, through the MUC's <dial-in/>).
func (g *Gateway) PhoneDialIn(room string) (number, pin string, err error) {
	room, ok := roomOf(room)
	if !ok {
		return "", "", stanza.NewError(stanza.BadRequest, "not a room name")
	}
	pin, err = g.pins.PIN(room)
	if err != nil {
		return "", "", err
	}
	return g.cfg.DialInNumber, pin, nil
}

// PhoneDial calls to into room for an occupant holding dial_out (the MUC's
// <dial to/>), and returns once the callee is in the room, with its nick.
// It gives up when the gateway stops, or after the ring and join times.
func (g *Gateway) PhoneDial(room, to, by string) (string, error) {
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.Outbound.RingTimeout+g.cfg.JoinTimeout+byeTimeout)
	defer cancel()
	d, err := g.Dial(ctx, room, to)
	if err != nil {
		g.log.Info("dial-out failed", "room", room, "by", by, "err", err)
		return "", err
	}
	g.log.Info("dial-out answered", "room", room, "by", by, "nick", d.Nick, "call", d.Call)
	return d.Nick, nil
}

// StanzaError makes a dial-out's failure the error its dialler reads:
// <busy/>, <no-answer/>, <rejected/> or <failed/> in nsPhone (with the
// SIP status in code, if any) beside a stanza condition.
func (e *DialError) StanzaError() *stanza.Error {
	cond := map[string]stanza.Condition{"busy": stanza.RecipientUnavailable, "no-answer": stanza.RecipientUnavailable,
		"rejected": stanza.ServiceUnavailable}[e.Reason]
	text := e.Reason
	if cond == "" {
		cond, text = stanza.InternalServerError, e.Error()
		switch {
		case errors.Is(e.Err, errBadTarget):
			cond = stanza.BadRequest
		case errors.Is(e.Err, errFull):
			cond = stanza.ResourceConstraint
		}
	}
	extra := xmlstream.New(nsPhone, e.Reason)
	if e.Code != 0 {
		extra.SetAttr("code", strconv.Itoa(e.Code))
	}
	return &stanza.Error{Condition: cond, Text: text, Extra: extra}
}
