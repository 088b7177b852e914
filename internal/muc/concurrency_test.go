package muc

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"parley.dev/parley/internal/xmlstream"
)

// countingRouter checks every routed stanza is addressed and counts them.
type countingRouter struct {
	mu  sync.Mutex
	n   int                // guarded by mu
	bad *xmlstream.Element // guarded by mu; first unaddressed stanza
}

func (c *countingRouter) Route(st *xmlstream.Element) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if (st.Attr("to") == "" || st.Attr("from") == "") && c.bad == nil {
		c.bad = st
	}
}

func TestConcurrentSessions(t *testing.T) {
	router := &countingRouter{}
	svc, err := New(Config{Domain: testDomain, Router: router})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	const users, steps = 8, 300
	rooms := []string{"r0", "r1", "r2"}
	var wg sync.WaitGroup
	for u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(u), 1))
			me := fmt.Sprintf("u%d@example.test/res", u)
			for i := range steps {
				room := rooms[rng.IntN(len(rooms))] + "@" + testDomain
				var s string
				switch rng.IntN(8) {
				case 0, 1:
					s = fmt.Sprintf("<presence from='%s' to='%s/n%d'/>", me, room, u)
				case 2:
					s = fmt.Sprintf("<presence from='%s' to='%s/m%d'/>", me, room, u) // nick change
				case 3:
					s = fmt.Sprintf("<presence type='unavailable' from='%s' to='%s/n%d'/>", me, room, u)
				case 4:
					s = fmt.Sprintf("<message type='groupchat' from='%s' to='%s'><body>%d</body></message>", me, room, i)
				case 5:
					s = fmt.Sprintf("<iq type='get' id='%d' from='%s' to='%s/n%d'><ping xmlns='urn:xmpp:ping'/></iq>", i, me, room, rng.IntN(users))
				case 6:
					s = fmt.Sprintf("<iq type='result' id='muc%d' from='%s' to='%s/n%d'/>", rng.IntN(20), me, room, rng.IntN(users))
				case 7:
					if rng.IntN(10) == 0 {
						svc.RemoveOccupantsOf(mustJID(me))
					}
					svc.Rooms()
					continue
				}
				svc.HandleStanza(parse(t, s))
			}
			svc.RemoveOccupantsOf(mustJID(me))
		}()
	}
	wg.Wait()
	if rs := svc.Rooms(); len(rs) != 0 {
		t.Errorf("temporary rooms left after everyone left: %+v", rs)
	}
	if st := svc.Stats(); st.Sessions != 0 || st.Rooms != 0 {
		t.Errorf("stats after everyone left: %+v", st)
	}
	router.mu.Lock()
	defer router.mu.Unlock()
	if router.bad != nil {
		t.Errorf("unaddressed stanza routed: %s", router.bad)
	}
	if router.n == 0 {
		t.Error("nothing routed")
	}
}
