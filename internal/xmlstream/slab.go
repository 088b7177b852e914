package xmlstream

// slab hands out small slices carved from larger allocations, so that one
// parse allocates a few arrays instead of one per element. Every slice has
// its capacity capped at its length: appending to one (SetAttr, Add)
// reallocates instead of overwriting a neighbour. The price is that a
// retained piece of a tree keeps its whole parse's arrays alive.
type slab[T any] struct {
	free []T // unused rest of the current array
	next int // size of the next array
}

// maxSlabChunk bounds one array, so that input crafted to inflate the
// estimate wastes little.
const maxSlabChunk = 256

// reset drops the current array and sizes the next from an estimate of what
// the parse needs.
func (s *slab[T]) reset(estimate int) {
	s.free = nil
	s.next = min(max(estimate, 1), maxSlabChunk)
}

// take returns n zeroed elements.
func (s *slab[T]) take(n int) []T {
	if n > len(s.free) {
		size := max(n, s.next)
		s.next = min(2*s.next, maxSlabChunk)
		s.free = make([]T, size)
	}
	out := s.free[:n:n]
	s.free = s.free[n:]
	return out
}
