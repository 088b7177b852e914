package xmlstream

// Default limits; see Limits.
const (
	DefaultMaxElementBytes = 256 << 10
	DefaultMaxDepth        = 32
	DefaultMaxAttrs        = 64
)

// Limits bounds what one top-level element may cost. Exceeding any of them is
// a policy-violation. The zero value means "all defaults".
type Limits struct {
	// MaxElementBytes bounds the raw bytes of one top-level element, from its
	// '<' to its final '>' (and of the stream header tag). Default 256 KiB.
	MaxElementBytes int
	// MaxDepth bounds nesting: the top-level element is at depth 1, its
	// children at depth 2, and so on. Default 32.
	MaxDepth int
	// MaxAttrs bounds the attributes written on any one element, namespace
	// declarations included. Default 64.
	MaxAttrs int
}

// withDefaults returns l with zero (or negative) fields replaced by defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxElementBytes <= 0 {
		l.MaxElementBytes = DefaultMaxElementBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = DefaultMaxAttrs
	}
	return l
}
