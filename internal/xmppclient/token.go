package xmppclient

import (
	"encoding/base64"
	"net/url"
	"strings"

	"parley.dev/parley/internal/xmlstream"
)

const mechOAuthBearer = "OAUTHBEARER"

func (c *Client) isWebSocket() bool {
	return strings.HasPrefix(c.cfg.Address, "ws://") || strings.HasPrefix(c.cfg.Address, "wss://")
}

// withTokenParam adds ?token=JWT to a WebSocket URL.
func withTokenParam(address, token string) string {
	if token == "" {
		return address
	}
	u, err := url.Parse(address)
	if err != nil {
		return address
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String()
}

// authenticateBearer runs SASL OAUTHBEARER (RFC 7628) with the token.
func (c *Client) authenticateBearer() error {
	resp := "n,,\x01auth=Bearer " + c.cfg.Token + "\x01\x01"
	auth := xmlstream.New(nsSASL, "auth", "mechanism", mechOAuthBearer).SetText(base64.StdEncoding.EncodeToString([]byte(resp)))
	if err := c.t.Write(auth); err != nil {
		return err
	}
	el, err := c.t.ReadElement()
	if err != nil {
		return err
	}
	switch {
	case el.Is(nsSASL, "success"):
		return nil
	case el.Is(nsSASL, "failure"):
		return &Error{Step: "sasl", Condition: firstChildName(el), Text: el.ChildText("", "text")}
	}
	return &Error{Step: "sasl", Condition: "unexpected <" + el.Name + "/>"}
}
