package xmppclient

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"slices"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/sasl"
	"parley.dev/parley/internal/stream"
	"parley.dev/parley/internal/xmlstream"
)

const (
	nsTLS  = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind = "urn:ietf:params:xml:ns:xmpp-bind"
)

// negotiate opens the stream, upgrades to TLS if offered, authenticates,
// restarts and binds.
func (c *Client) negotiate() error {
	authenticated := false
	for {
		features, err := c.openStream()
		if err != nil {
			return err
		}
		if authenticated {
			return c.bind(features)
		}
		if st := features.Child(nsTLS, "starttls"); st != nil && !c.cfg.NoStartTLS && c.t.CanStartTLS() {
			if err := c.startTLS(); err != nil {
				return err
			}
			continue
		}
		if err := c.authenticate(features); err != nil {
			return err
		}
		authenticated = true
		c.t.Restart()
	}
}

func (c *Client) openStream() (*xmlstream.Element, error) {
	h := stream.Header{To: c.cfg.Domain, Version: "1.0", Lang: "en"}
	if err := c.t.WriteOpen(h); err != nil {
		return nil, err
	}
	if _, err := c.t.ReadOpen(); err != nil {
		return nil, err
	}
	el, err := c.t.ReadElement()
	if err != nil {
		return nil, err
	}
	if el.Is(xmlstream.NSStream, "error") {
		return nil, &Error{Step: "stream", Condition: firstChildName(el), Text: el.ChildText("", "text")}
	}
	if !el.Is(xmlstream.NSStream, "features") {
		return nil, &Error{Step: "stream", Condition: "unexpected <" + el.Name + "/> instead of features"}
	}
	return el, nil
}

func (c *Client) startTLS() error {
	if err := c.t.Write(xmlstream.New(nsTLS, "starttls")); err != nil {
		return err
	}
	el, err := c.t.ReadElement()
	if err != nil {
		return err
	}
	if !el.Is(nsTLS, "proceed") {
		return &Error{Step: "starttls", Condition: el.Name}
	}
	cfg := c.cfg.TLS
	if cfg == nil {
		cfg = &tls.Config{ServerName: c.cfg.Domain}
	}
	return c.t.StartTLS(cfg, false)
}

// chooseMechanism picks the configured mechanism or the best offered one.
func (c *Client) chooseMechanism(features *xmlstream.Element) (string, error) {
	var offered []string
	if m := features.Child(nsSASL, "mechanisms"); m != nil {
		for _, e := range m.ChildrenNamed(nsSASL, "mechanism") {
			offered = append(offered, e.Text)
		}
	}
	if c.cfg.Mechanism != "" {
		if !slices.Contains(offered, c.cfg.Mechanism) {
			return "", &Error{Step: "sasl", Condition: "mechanism-not-offered", Text: c.cfg.Mechanism}
		}
		return c.cfg.Mechanism, nil
	}
	prefs := []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}
	switch {
	case c.cfg.Token != "" && c.isWebSocket():
		prefs = []string{"ANONYMOUS"}
	case c.cfg.Token != "":
		prefs = []string{mechOAuthBearer}
	case c.cfg.Username == "":
		prefs = []string{"ANONYMOUS"}
	}
	for _, p := range prefs {
		if slices.Contains(offered, p) {
			return p, nil
		}
	}
	return "", &Error{Step: "sasl", Condition: "no-usable-mechanism"}
}

func (c *Client) authenticate(features *xmlstream.Element) error {
	mech, err := c.chooseMechanism(features)
	if err != nil {
		return err
	}
	if mech == mechOAuthBearer {
		return c.authenticateBearer()
	}
	sc := sasl.ClientConfig{Username: c.cfg.Username, Password: c.cfg.Password}
	if sasl.IsPlus(mech) {
		sc.ChannelBindingType = sasl.CBTLSExporter
		sc.ChannelBindingData = stream.ChannelBinding(c.t, sasl.CBTLSExporter)
	}
	cs, err := sasl.NewClient(mech, sc)
	if err != nil {
		return err
	}
	resp, _, err := cs.Step(nil)
	if err != nil {
		return err
	}
	auth := xmlstream.New(nsSASL, "auth", "mechanism", mech).SetText(encode(resp))
	if err := c.t.Write(auth); err != nil {
		return err
	}
	for {
		el, err := c.t.ReadElement()
		if err != nil {
			return err
		}
		data, derr := base64.StdEncoding.DecodeString(el.Text)
		if derr != nil && el.Text != "=" {
			return &Error{Step: "sasl", Condition: "incorrect-encoding"}
		}
		switch {
		case el.Is(nsSASL, "challenge"):
			resp, _, err := cs.Step(data)
			if err != nil {
				return err
			}
			if err := c.t.Write(xmlstream.New(nsSASL, "response").SetText(encode(resp))); err != nil {
				return err
			}
		case el.Is(nsSASL, "success"):
			if _, done, err := cs.Step(data); err != nil || !done {
				return errors.Join(&Error{Step: "sasl", Condition: "server-not-verified"}, err)
			}
			return nil
		case el.Is(nsSASL, "failure"):
			return &Error{Step: "sasl", Condition: firstChildName(el), Text: el.ChildText("", "text")}
		default:
			return &Error{Step: "sasl", Condition: "unexpected <" + el.Name + "/>"}
		}
	}
}

func encode(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

func (c *Client) bind(features *xmlstream.Element) error {
	if features.Child(nsBind, "bind") == nil {
		return &Error{Step: "bind", Condition: "bind-not-offered"}
	}
	b := xmlstream.New(nsBind, "bind")
	if c.cfg.Resource != "" {
		b.Add(xmlstream.New(nsBind, "resource").SetText(c.cfg.Resource))
	}
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "id", "bind1").Add(b)
	if err := c.t.Write(iq); err != nil {
		return err
	}
	for {
		el, err := c.t.ReadElement()
		if err != nil {
			return err
		}
		if el.Name != "iq" || el.Attr("id") != "bind1" {
			continue
		}
		if el.Attr("type") != "result" {
			return &Error{Step: "bind", Condition: "refused"}
		}
		j, err := jid.Parse(el.Child(nsBind, "bind").ChildText(nsBind, "jid"))
		if err != nil {
			return &Error{Step: "bind", Condition: "bad-jid"}
		}
		c.jid = j
		return nil
	}
}
