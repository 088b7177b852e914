package xmlstream

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// dump renders a tree unambiguously for comparisons and failure messages.
func dump(e *Element) string {
	var sb strings.Builder
	dumpTo(&sb, e, 0)
	return sb.String()
}

func dumpTo(sb *strings.Builder, e *Element, depth int) {
	if e == nil {
		sb.WriteString("<nil>")
		return
	}
	fmt.Fprintf(sb, "%s{%q}%q", strings.Repeat(" ", depth), e.Space, e.Name)
	for _, a := range e.Attrs {
		fmt.Fprintf(sb, " %q=%q", a.Name, a.Value)
	}
	fmt.Fprintf(sb, " text=%q\n", e.Text)
	for _, c := range e.Children {
		dumpTo(sb, c, depth+1)
	}
}

// wantCondition fails unless err is a *SyntaxError with condition cond.
func wantCondition(t *testing.T, in string, err error, cond string) {
	t.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Errorf("%q: got error %v, want a %s SyntaxError", in, err, cond)
		return
	}
	if se.Condition() != cond {
		t.Errorf("%q: got condition %s (%v), want %s", in, se.Condition(), err, cond)
	}
}

// treeDepth returns the nesting depth of e (1 for a leaf).
func treeDepth(e *Element) int {
	d := 0
	for _, c := range e.Children {
		d = max(d, treeDepth(c))
	}
	return d + 1
}

// maxAttrs returns the largest attribute count in the tree.
func maxAttrs(e *Element) int {
	n := len(e.Attrs)
	for _, c := range e.Children {
		n = max(n, maxAttrs(c))
	}
	return n
}
