package accounts

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// ThrottleConfig configures NewThrottle.
type ThrottleConfig struct {
	// MaxFailures is how many failures within Window an account or an
	// address may have before it is refused for a while. Default 5.
	MaxFailures int
	// Window is the period MaxFailures is counted over. Default 1 minute.
	Window time.Duration
	// BaseDelay is the first refusal's length; each further failure doubles
	// it. Default 1 second.
	BaseDelay time.Duration
	// MaxDelay caps the refusal's length. Default 5 minutes.
	MaxDelay time.Duration
	// ForgetAfter is how long after its last failure a key starts from
	// scratch. Default 15 minutes.
	ForgetAfter time.Duration
	// MaxKeys bounds how many accounts and addresses are tracked; the least
	// recently failed is forgotten first. Default 10000.
	MaxKeys int
	// Clock tells the time. Default time.Now.
	Clock func() time.Time
}

// ThrottleStats counts what a Throttle did.
type ThrottleStats struct {
	Tracked  int    // accounts and addresses currently tracked
	Refused  uint64 // Allow calls answered false
	Evicted  uint64 // keys forgotten early because MaxKeys was reached
	Lockouts uint64 // failures that started or extended a refusal
}

// Throttle slows down password guessing: after MaxFailures failed logins
// within Window for one account or from one address, attempts for it are
// refused for a delay that doubles with each further failure, up to
// MaxDelay. A success clears the account's record but not the address's,
// so that an attacker with one valid account cannot reset the address
// counter between guesses at others. It is safe for concurrent use.
type Throttle struct {
	cfg ThrottleConfig // defaults applied; immutable

	mu    sync.Mutex               // guards the fields below
	keys  map[string]*list.Element // guarded by mu; values are *throttleEntry
	order *list.List               // guarded by mu; least recently failed at the front
	stats ThrottleStats            // guarded by mu
}

// throttleEntry is the failure record of one account or address.
type throttleEntry struct {
	key          string    // "a:" + account or "r:" + address
	failures     int       // failures in the current run
	windowStart  time.Time // first failure of the run
	lastFailure  time.Time
	blockedUntil time.Time // refused before this time
}

// NewThrottle returns an empty Throttle.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = time.Second
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 5 * time.Minute
	}
	if cfg.ForgetAfter <= 0 {
		cfg.ForgetAfter = 15 * time.Minute
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 10000
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Throttle{cfg: cfg, keys: map[string]*list.Element{}, order: list.New()}
}

// Allow reports whether a login for account from addr may be attempted,
// and if not, how long until it may. Either may be "" (unknown yet, or not
// applicable, as for ANONYMOUS).
func (t *Throttle) Allow(account, addr string) (ok bool, retryAfter time.Duration) {
	now := t.cfg.Clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range throttleKeys(account, addr) {
		if el, found := t.keys[k]; found {
			e := el.Value.(*throttleEntry)
			if d := e.blockedUntil.Sub(now); d > retryAfter {
				retryAfter = d
			}
		}
	}
	if retryAfter > 0 {
		t.stats.Refused++
		return false, retryAfter
	}
	return true, 0
}

// Failed records a failed login for account from addr.
func (t *Throttle) Failed(account, addr string) {
	now := t.cfg.Clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range throttleKeys(account, addr) {
		t.fail(t.entry(k, now), now)
	}
}

// Succeeded records a successful login: the account's record is cleared.
func (t *Throttle) Succeeded(account, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if account == "" {
		return
	}
	k := "a:" + accountKey(account)
	if el, ok := t.keys[k]; ok {
		t.order.Remove(el)
		delete(t.keys, k)
	}
}

// Stats returns counters for metrics.
func (t *Throttle) Stats() ThrottleStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Tracked = len(t.keys)
	return s
}

// entry finds or creates the record for k, evicting the least recently
// failed record when full, and marks it most recently used.
func (t *Throttle) entry(k string, now time.Time) *throttleEntry {
	if el, ok := t.keys[k]; ok {
		t.order.MoveToBack(el)
		return el.Value.(*throttleEntry)
	}
	for len(t.keys) >= t.cfg.MaxKeys {
		oldest := t.order.Front()
		t.order.Remove(oldest)
		delete(t.keys, oldest.Value.(*throttleEntry).key)
		t.stats.Evicted++
	}
	e := &throttleEntry{key: k, windowStart: now}
	t.keys[k] = t.order.PushBack(e)
	return e
}

// fail counts one failure and sets the refusal when over the limit.
func (t *Throttle) fail(e *throttleEntry, now time.Time) {
	switch {
	case now.Sub(e.lastFailure) > t.cfg.ForgetAfter && now.After(e.blockedUntil):
		e.failures, e.windowStart = 0, now
	case e.failures < t.cfg.MaxFailures && now.Sub(e.windowStart) > t.cfg.Window:
		// Slow failures below the limit do not add up.
		e.failures, e.windowStart = 0, now
	}
	e.failures++
	e.lastFailure = now
	if e.failures < t.cfg.MaxFailures {
		return
	}
	delay := t.cfg.BaseDelay
	for range min(e.failures-t.cfg.MaxFailures, 32) {
		if delay >= t.cfg.MaxDelay {
			break
		}
		delay *= 2
	}
	e.blockedUntil = now.Add(min(delay, t.cfg.MaxDelay))
	t.stats.Lockouts++
}

// throttleKeys names the records a login attempt touches.
func throttleKeys(account, addr string) []string {
	keys := make([]string, 0, 2)
	if account != "" {
		keys = append(keys, "a:"+accountKey(account))
	}
	if addr != "" {
		keys = append(keys, "r:"+addrKey(addr))
	}
	return keys
}

// accountKey normalizes account so that differently-cased spellings of one
// name share a record.
func accountKey(account string) string {
	if n, err := NormalizeUsername(account); err == nil {
		return n
	}
	return account
}

// addrKey reduces addr (an IP, optionally with a port) to what one client
// controls: the IPv4 address, or the /64 of an IPv6 address.
func addrKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return addr
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
