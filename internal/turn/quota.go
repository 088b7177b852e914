package turn

import (
	"sync"
	"time"
)

// pendingTTL is how long a reservation may wait for its allocation. The
// TURN library creates the allocation right after asking for the quota, in
// the same goroutine; a reservation still pending after this long belongs
// to an Allocate that failed later (bad LIFETIME, no relay port).
const pendingTTL = 10 * time.Second

// quota counts allocations per user and in total. An Allocate first
// reserves a slot (reserve), which its creation confirms (confirm) and its
// deletion frees (release); reservations whose allocation never came are
// forgotten after pendingTTL, or at once when the same client retries.
type quota struct {
	maxPerUser, maxTotal int              // read-only
	now                  func() time.Time // read-only

	mu        sync.Mutex
	live      map[string]int         // user -> allocations; guarded by mu
	liveTotal int                    // guarded by mu
	pending   map[pendingKey]pending // guarded by mu
}

// pendingKey identifies an Allocate in flight: one client address, one user.
type pendingKey struct{ user, src string }

type pending struct{ at time.Time }

// quotaVerdict says why reserve refused, if it did.
type quotaVerdict int

const (
	quotaOK quotaVerdict = iota
	quotaUserFull
	quotaTotalFull
)

func newQuota(maxPerUser, maxTotal int, now func() time.Time) *quota {
	return &quota{
		maxPerUser: maxPerUser, maxTotal: maxTotal, now: now,
		live: make(map[string]int), pending: make(map[pendingKey]pending),
	}
}

// reserve takes a slot for user's Allocate from src, if one is free.
func (q *quota) reserve(user, src string) quotaVerdict {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	key := pendingKey{user, src}
	delete(q.pending, key) // an earlier attempt from this client failed
	userPending := 0
	for k, p := range q.pending {
		if now.Sub(p.at) > pendingTTL {
			delete(q.pending, k)
		} else if k.user == user {
			userPending++
		}
	}
	switch {
	case q.liveTotal+len(q.pending) >= q.maxTotal:
		return quotaTotalFull
	case q.live[user]+userPending >= q.maxPerUser:
		return quotaUserFull
	}
	q.pending[key] = pending{at: now}
	return quotaOK
}

// confirm turns the reservation into a live allocation. An allocation
// without a reservation (it cannot happen with the library as it is) is
// counted all the same, so that release stays balanced.
func (q *quota) confirm(user, src string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.pending, pendingKey{user, src})
	q.live[user]++
	q.liveTotal++
}

// release frees a deleted allocation's slot.
func (q *quota) release(user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, ok := q.live[user]
	if !ok {
		return
	}
	if n <= 1 {
		delete(q.live, user)
	} else {
		q.live[user] = n - 1
	}
	q.liveTotal--
}

// allocations returns the number of live allocations.
func (q *quota) allocations() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.liveTotal
}
