package perm

import "sync/atomic"

// Refusals counts actions refused for lack of a permission, one counter per
// permission. The zero value is ready; safe for concurrent use; counting
// does not allocate.
type Refusals struct {
	n [numPermissions]atomic.Uint64
}

// Add counts one refusal for lack of p.
func (r *Refusals) Add(p Permission) {
	if p < numPermissions {
		r.n[p].Add(1)
	}
}

// Get returns the refusals counted for p.
func (r *Refusals) Get(p Permission) uint64 {
	if p < numPermissions {
		return r.n[p].Load()
	}
	return 0
}

// Snapshot returns permission name → refusals, for every permission with
// at least one.
func (r *Refusals) Snapshot() map[string]uint64 {
	out := make(map[string]uint64)
	for p := range numPermissions {
		if v := r.n[p].Load(); v > 0 {
			out[p.String()] = v
		}
	}
	return out
}
