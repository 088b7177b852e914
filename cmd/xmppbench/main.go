// Command xmppbench measures an XMPP server over real connections: routed
// stanzas per second for 1:1 messages and for groupchat fan-out in a MUC
// room, and the server's memory per idle session. It speaks plain XMPP, so
// the same load runs against parley and against any other server (Prosody).
//
//	xmppbench -addr 127.0.0.1:5222 -domain example.test -mode direct -pairs 50
//	xmppbench -addr ... -mode muc -occupants 50 -senders 5
//	xmppbench -addr ... -mode idle -sessions 2000 -pid SERVER_PID
//
// Accounts bench0..benchN-1 with password "bench" must exist (see -users).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

type options struct {
	addr, domain, muc  string
	anonDomain         string
	mode               string
	pairs              int
	occupants, senders int
	sessions           int
	accounts           int
	window             int
	duration           time.Duration
	pid                int
	bodySize           int
}

type result struct {
	Mode          string  `json:"mode"`
	Connections   int     `json:"connections"`
	Sent          int64   `json:"sent"`
	Delivered     int64   `json:"delivered"`
	Seconds       float64 `json:"seconds"`
	DeliveredPerS float64 `json:"delivered_per_s"`
	RSSBeforeKB   int64   `json:"rss_before_kb,omitempty"`
	RSSAfterKB    int64   `json:"rss_after_kb,omitempty"`
	PerSessionKB  float64 `json:"per_session_kb,omitempty"`
	FirstError    string  `json:"first_error,omitempty"` // the first error stanza the server sent, if any
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:5222", "server TCP address")
	flag.StringVar(&o.domain, "domain", "example.test", "XMPP domain")
	flag.StringVar(&o.muc, "muc", "", "MUC service (default conference.<domain>)")
	flag.StringVar(&o.anonDomain, "anon-domain", "", "idle: log in anonymously to this domain (default: accounts benchN)")
	flag.StringVar(&o.mode, "mode", "direct", "direct, muc, idle or mobile (idle with stream management resumable and CSI inactive)")
	flag.IntVar(&o.accounts, "accounts", 100, "mobile: accounts benchN the sessions share (one resource each)")
	flag.IntVar(&o.pairs, "pairs", 50, "direct: sender/receiver pairs")
	flag.IntVar(&o.occupants, "occupants", 50, "muc: occupants of the room")
	flag.IntVar(&o.senders, "senders", 5, "muc: occupants that send")
	flag.IntVar(&o.sessions, "sessions", 1000, "idle: sessions to open")
	flag.IntVar(&o.window, "window", 32, "messages in flight per sender")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measuring time")
	flag.IntVar(&o.pid, "pid", 0, "idle: server process to read RSS from")
	flag.IntVar(&o.bodySize, "body", 100, "message body bytes")
	users := flag.Int("users", 0, "print the account names needed and exit")
	flag.Parse()
	if o.muc == "" {
		o.muc = "conference." + o.domain
	}
	if *users > 0 {
		for i := 0; i < *users; i++ {
			fmt.Printf("bench%d\n", i)
		}
		return
	}
	var r result
	var err error
	switch o.mode {
	case "direct":
		r, err = runDirect(o)
	case "muc":
		r, err = runMUC(o)
	case "idle", "mobile":
		r, err = runIdle(o)
	default:
		err = fmt.Errorf("unknown mode %q", o.mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "xmppbench:", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

func dial(o options, i int) (*xmppclient.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := xmppclient.Config{
		Address: o.addr, Domain: o.domain, NoStartTLS: true, Mechanism: "PLAIN",
		Username: "bench" + strconv.Itoa(i), Password: "bench", Resource: "r", Incoming: 4096,
	}
	if o.mode == "mobile" {
		cfg.Username, cfg.Resource = "bench"+strconv.Itoa(i%o.accounts), "m"+strconv.Itoa(i)
	}
	if o.mode == "idle" && o.anonDomain != "" {
		cfg.Domain, cfg.Mechanism, cfg.Username, cfg.Password = o.anonDomain, "ANONYMOUS", "", ""
	}
	return xmppclient.Dial(ctx, cfg)
}

// dialAll connects n clients, a few at a time, and sends initial presence.
func dialAll(o options, n int) ([]*xmppclient.Client, error) {
	cs := make([]*xmppclient.Client, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range cs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dial(o, i)
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			if o.mode == "mobile" {
				// What a phone does: resumable stream management, then
				// inactive once the screen is off.
				c.Send(xmlstream.New("urn:xmpp:sm:3", "enable", "resume", "true"))
				c.Send(xmlstream.New("urn:xmpp:csi:0", "inactive"))
			}
			c.Send(xmlstream.New(xmlstream.NSClient, "presence"))
			cs[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return cs, nil
}

func body(o options) string { return strings.Repeat("x", o.bodySize) }

// runDirect: each pair's sender keeps a window of messages in flight to its
// receiver; we count what the receivers get.
func runDirect(o options) (result, error) {
	cs, err := dialAll(o, 2*o.pairs)
	if err != nil {
		return result{}, err
	}
	defer closeAll(cs)
	time.Sleep(500 * time.Millisecond) // presence settles
	var sent, delivered atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	text := body(o)
	for p := 0; p < o.pairs; p++ {
		snd, rcv := cs[2*p], cs[2*p+1]
		credit := make(chan struct{}, o.window)
		for i := 0; i < o.window; i++ {
			credit <- struct{}{}
		}
		to := rcv.JID().String()
		wg.Add(2)
		go func() { // receiver
			defer wg.Done()
			for el := range rcv.Incoming() {
				if el.Name == "message" {
					delivered.Add(1)
					select {
					case credit <- struct{}{}:
					default:
					}
				}
			}
		}()
		go func() { // sender
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-credit:
				}
				msg := xmlstream.New(xmlstream.NSClient, "message", "to", to, "type", "chat").
					Add(xmlstream.New(xmlstream.NSClient, "body").SetText(text))
				if snd.Send(msg) != nil {
					return
				}
				sent.Add(1)
			}
		}()
	}
	return measure(o, "direct", len(cs), &sent, &delivered, stop, cs, &wg)
}

func measure(o options, mode string, conns int, sent, delivered *atomic.Int64, stop chan struct{}, cs []*xmppclient.Client, wg *sync.WaitGroup) (result, error) {
	time.Sleep(time.Second) // warm-up
	d0, s0 := delivered.Load(), sent.Load()
	start := time.Now()
	time.Sleep(o.duration)
	d1, s1 := delivered.Load(), sent.Load()
	secs := time.Since(start).Seconds()
	close(stop)
	closeAll(cs)
	wg.Wait()
	return result{Mode: mode, Connections: conns, Sent: s1 - s0, Delivered: d1 - d0, Seconds: secs,
		DeliveredPerS: float64(d1-d0) / secs}, nil
}

// runMUC: occupants join one room; senders each keep a window of groupchat
// messages in flight, credited when their own reflection comes back.
func runMUC(o options) (result, error) {
	cs, err := dialAll(o, o.occupants)
	if err != nil {
		return result{}, err
	}
	room := fmt.Sprintf("bench%d@%s", time.Now().UnixNano()%1e6, o.muc)
	for i, c := range cs {
		nick := "n" + strconv.Itoa(i)
		c.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", room+"/"+nick).
			Add(xmlstream.New("http://jabber.org/protocol/muc", "x")))
		if i == 0 {
			// The creator unlocks the room with the instant-room request.
			time.Sleep(300 * time.Millisecond)
			iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", room).Add(
				xmlstream.New("http://jabber.org/protocol/muc#owner", "query").Add(
					xmlstream.New("jabber:x:data", "x", "type", "submit")))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := c.IQ(ctx, iq)
			cancel()
			if err != nil {
				return result{}, fmt.Errorf("instant room: %w", err)
			}
		}
	}
	time.Sleep(time.Second)
	var sent, delivered atomic.Int64
	var firstError atomic.Pointer[xmlstream.Element] // the first error stanza, for the report
	stop := make(chan struct{})
	var wg sync.WaitGroup
	text := body(o)
	credits := make([]chan struct{}, len(cs))
	for i, c := range cs {
		credits[i] = make(chan struct{}, o.window)
		nick := "n" + strconv.Itoa(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for el := range c.Incoming() {
				if el.Attr("type") == "error" {
					firstError.CompareAndSwap(nil, el)
					continue
				}
				if el.Name == "message" && el.Attr("type") == "groupchat" && el.Child("", "body") != nil {
					delivered.Add(1)
					if strings.HasSuffix(el.Attr("from"), "/"+nick) {
						select {
						case credits[i] <- struct{}{}:
						default:
						}
					}
				}
			}
		}()
	}
	for i := 0; i < o.senders && i < len(cs); i++ {
		for k := 0; k < o.window; k++ {
			credits[i] <- struct{}{}
		}
		c := cs[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-credits[i]:
				}
				msg := xmlstream.New(xmlstream.NSClient, "message", "to", room, "type", "groupchat").
					Add(xmlstream.New(xmlstream.NSClient, "body").SetText(text))
				if c.Send(msg) != nil {
					return
				}
				sent.Add(1)
			}
		}()
	}
	r, err := measure(o, "muc", len(cs), &sent, &delivered, stop, cs, &wg)
	if e := firstError.Load(); e != nil {
		r.FirstError = e.String()
	}
	return r, err
}

// runIdle opens sessions that then sit idle, and reads the server's RSS
// before and after.
func runIdle(o options) (result, error) {
	if o.pid == 0 {
		return result{}, fmt.Errorf("idle mode needs -pid")
	}
	before, err := rssKB(o.pid)
	if err != nil {
		return result{}, err
	}
	cs, err := dialAll(o, o.sessions)
	if err != nil {
		return result{}, err
	}
	defer closeAll(cs)
	time.Sleep(3 * time.Second)
	after, err := rssKB(o.pid)
	if err != nil {
		return result{}, err
	}
	return result{Mode: o.mode, Connections: len(cs), RSSBeforeKB: before, RSSAfterKB: after,
		PerSessionKB: float64(after-before) / float64(len(cs))}, nil
}

func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

func closeAll(cs []*xmppclient.Client) {
	var wg sync.WaitGroup
	for _, c := range cs {
		if c != nil {
			wg.Add(1)
			go func() { defer wg.Done(); c.Close() }()
		}
	}
	wg.Wait()
}
