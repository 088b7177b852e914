package xmlstream

import (
	"bytes"
	"io"
)

// idleBufSize is the read buffer a Decoder keeps while no element is in
// flight; it grows (up to Limits.MaxElementBytes) only for larger elements
// and shrinks back once they are consumed and the peer has gone quiet.
const idleBufSize = 1 << 10

// maxEmptyReads bounds successive (0, nil) reads before giving up.
const maxEmptyReads = 100

// Decoder cuts a TCP XMPP stream (RFC 6120) into its header and top-level
// elements, in client and server mode alike.
//
// Elements come back with namespaces resolved: Space holds the namespace
// (unprefixed children of the stream get the header's content namespace,
// e.g. "jabber:client"; <stream:features> gets NSStream), and namespace
// declarations are never kept as attributes. Attributes in the XML namespace
// keep their prefix ("xml:lang"); attributes in any other namespace are
// checked and then dropped, because Element cannot record their namespace and
// re-serializing them with a bare prefix would emit XML that the recipient
// could not parse. Mixed content is concatenated into Text.
//
// Errors are sticky. Refused input yields a *SyntaxError naming the stream
// error condition to send; the peer's </stream:stream> yields
// ErrStreamClosed; transport errors are returned as they come (io.EOF between
// elements, io.ErrUnexpectedEOF inside one).
//
// A Decoder is used by one goroutine (the connection's read loop).
type Decoder struct {
	r   io.Reader // transport; owned by the read loop
	lim Limits    // with defaults applied

	buf      []byte // read buffer; buf[start:end] is unconsumed input
	start    int    // first unconsumed byte
	end      int    // end of buffered input
	lastFull bool   // the last Read filled buf, so more input is probably waiting
	readErr  error  // error from the last Read, reported once buffered input is used up

	ctx       nsContext // namespaces declared by the stream header
	rootQName string    // the header's tag name, which </...> must repeat
	inHeader  bool      // ReadHeader has succeeded since the last restart
	firstRead bool      // nothing has been consumed yet (a BOM is allowed)
	inFlight  bool      // an element has started; fr tracks it
	fr        framer    // state of the element in flight
	p         parser    // reused parse scratch
	err       error     // sticky error
}

// NewDecoder returns a Decoder reading r with the given limits (zero fields
// take their defaults).
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	d := &Decoder{}
	d.lim = lim.withDefaults()
	d.p.lim = d.lim
	d.Reset(r)
	return d
}

// Reset makes d read a new stream from r, as after STARTTLS: buffered input
// is discarded (it arrived before the transport changed and must not be
// trusted), the stream header must be read again, and scratch memory is
// reused.
func (d *Decoder) Reset(r io.Reader) {
	d.r = r
	d.start, d.end = 0, 0
	d.lastFull = false
	d.readErr = nil
	d.restart()
	d.firstRead = true
	d.err = nil
}

// restart forgets the current stream's header, keeping buffered input (a
// stream restart after SASL happens on the same transport).
func (d *Decoder) restart() {
	d.ctx = nsContext{}
	d.rootQName = ""
	d.inHeader = false
	d.inFlight = false
	d.fr = framer{}
}

// Buffered returns the number of bytes read from the transport but not yet
// consumed: after <starttls/> or a SASL success it should be zero, as a
// peer must wait for the server's answer before sending more.
func (d *Decoder) Buffered() int { return d.end - d.start }

// ReadElement returns the next top-level element of the stream. Whitespace
// between elements (keepalives) is skipped.
func (d *Decoder) ReadElement() (*Element, error) {
	if d.err != nil {
		return nil, d.err
	}
	if !d.inHeader {
		return nil, ErrNoHeader
	}
	el, err := d.readElement()
	if err != nil {
		d.err = err
	}
	return el, err
}

func (d *Decoder) readElement() (*Element, error) {
	for {
		if !d.inFlight {
			done, err := d.between()
			if done || err != nil {
				return nil, err
			}
			if !d.inFlight {
				continue
			}
		}
		// The framer never looks past the size limit, so where an
		// oversized element is refused does not depend on read sizes.
		pending := d.buf[d.start:min(d.end, d.start+d.lim.MaxElementBytes)]
		n, err := d.fr.scan(pending, d.lim.MaxDepth)
		if err != nil {
			return nil, err
		}
		if n == 0 && len(pending) >= d.lim.MaxElementBytes {
			return nil, syntaxErr(CondPolicyViolation, d.lim.MaxElementBytes, "element too large")
		}
		if n > 0 {
			return d.finishElement(n)
		}
		if err := d.fill(); err != nil {
			return nil, unexpected(err)
		}
	}
}

// finishElement parses the framed element buf[start:start+n] and consumes it.
func (d *Decoder) finishElement(n int) (*Element, error) {
	chunk := d.buf[d.start : d.start+n]
	el, used, err := d.p.parseElement(chunk, d.ctx)
	if err == nil && used != n {
		err = syntaxErr(CondNotWellFormed, used, "malformed element")
	}
	if err != nil {
		return nil, err
	}
	d.start += n
	d.inFlight = false
	d.fr = framer{}
	d.shrink()
	return el, nil
}

// between handles input between top-level elements: it skips whitespace,
// detects the stream's end tag (done), and otherwise marks an element as in
// flight once one starts.
func (d *Decoder) between() (done bool, err error) {
	for d.start < d.end && isSpace(d.buf[d.start]) {
		d.start++
	}
	if d.end-d.start < 2 {
		d.shrink()
		return false, d.fillMore()
	}
	b := d.buf[d.start:d.end]
	if b[0] != '<' {
		return false, syntaxErr(CondBadFormat, 0, "character data between top-level elements")
	}
	switch b[1] {
	case '/':
		return d.closeTag()
	case '?':
		return false, syntaxErr(CondRestrictedXML, 0, "processing instructions are not allowed")
	case '!':
		if len(b) < 3 {
			return false, d.fillMore()
		}
		if b[2] == '[' {
			return false, syntaxErr(CondBadFormat, 0, "character data between top-level elements")
		}
		return false, syntaxErr(CondRestrictedXML, 0, "comments and DTDs are not allowed")
	}
	d.inFlight = true
	d.fr = framer{}
	return false, nil
}

// closeTag reads the stream's end tag.
func (d *Decoder) closeTag() (bool, error) {
	for {
		b := d.buf[d.start:d.end]
		if i := bytes.IndexByte(b, '>'); i >= 0 {
			name := bytes.TrimRight(b[2:i], " \t\r\n")
			if string(name) != d.rootQName {
				return false, syntaxErr(CondNotWellFormed, 0, "end tag does not match <"+d.rootQName+">")
			}
			d.start += i + 1
			return true, ErrStreamClosed
		}
		if len(b) > len(d.rootQName)+64 {
			return false, syntaxErr(CondNotWellFormed, 0, "end tag does not match <"+d.rootQName+">")
		}
		if err := d.fill(); err != nil {
			return false, unexpected(err)
		}
	}
}

// fillMore reads more input between elements: running out of input there
// is io.EOF, unless a construct has started.
func (d *Decoder) fillMore() error {
	if err := d.fill(); err != nil {
		if d.start < d.end {
			return unexpected(err)
		}
		return err
	}
	return nil
}

// unexpected turns io.EOF inside a construct into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// fill reads more input into buf, compacting or growing it as needed.
func (d *Decoder) fill() error {
	if d.readErr != nil {
		return d.readErr
	}
	if d.start == d.end {
		d.start, d.end = 0, 0
	}
	if d.buf == nil {
		d.buf = make([]byte, idleBufSize)
	}
	if d.end == len(d.buf) {
		if d.start > 0 {
			d.end = copy(d.buf, d.buf[d.start:d.end])
			d.start = 0
		} else {
			grown := make([]byte, min(2*len(d.buf), max(d.lim.MaxElementBytes, idleBufSize)))
			if len(grown) <= len(d.buf) {
				// Cannot happen: callers stop at MaxElementBytes pending.
				return syntaxErr(CondPolicyViolation, d.end, "element too large")
			}
			copy(grown, d.buf[:d.end])
			d.buf = grown
		}
	}
	for range maxEmptyReads {
		n, err := d.r.Read(d.buf[d.end:])
		d.end += n
		d.lastFull = d.end == len(d.buf)
		if err != nil {
			d.readErr = err
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// shrink gives back a grown buffer once the input is drained and the peer
// has gone quiet, so that an idle connection holds only idleBufSize bytes.
func (d *Decoder) shrink() {
	if d.start == d.end && !d.lastFull {
		d.start, d.end = 0, 0
		if len(d.buf) > idleBufSize {
			d.buf = nil
		}
	}
}
