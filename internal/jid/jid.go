// Package jid parses, normalizes and compares XMPP addresses (RFC 7622).
package jid

import (
	"errors"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// ErrMalformed is returned for an address that RFC 7622 does not allow.
var ErrMalformed = errors.New("jid: malformed address")

// JID is a normalized XMPP address. The zero value is the empty address.
// JIDs are comparable with ==.
type JID struct {
	Local    string
	Domain   string
	Resource string
}

// Parse splits and normalizes s: the localpart with the PRECIS
// UsernameCaseMapped profile, the domain lower-cased without a trailing dot,
// the resource with OpaqueString. Each part is at most 1023 bytes.
func Parse(s string) (JID, error) {
	if s == "" || !utf8.ValidString(s) {
		return JID{}, ErrMalformed
	}
	var local, domain, resource string
	rest := s
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		resource = rest[i+1:]
		rest = rest[:i]
		if resource == "" {
			return JID{}, ErrMalformed
		}
	}
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		local = rest[:i]
		rest = rest[i+1:]
		if local == "" {
			return JID{}, ErrMalformed
		}
	}
	domain = rest
	return New(local, domain, resource)
}

// MustParse is Parse for constants in code and tests; it panics on error.
func MustParse(s string) JID {
	j, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return j
}

// New normalizes and checks each part.
func New(local, domain, resource string) (JID, error) {
	var err error
	if local != "" {
		local, err = precis.UsernameCaseMapped.String(local)
		if err != nil || local == "" || len(local) > 1023 || strings.ContainsAny(local, "\"&'/:<>@") {
			return JID{}, ErrMalformed
		}
	}
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	if domain == "" || len(domain) > 1023 || strings.ContainsAny(domain, " \"&'/:<>@\t\r\n") && !isIPv6Literal(domain) {
		return JID{}, ErrMalformed
	}
	if resource != "" {
		resource, err = precis.OpaqueString.String(resource)
		if err != nil || resource == "" || len(resource) > 1023 {
			return JID{}, ErrMalformed
		}
	}
	return JID{Local: local, Domain: domain, Resource: resource}, nil
}

func isIPv6Literal(d string) bool {
	return strings.HasPrefix(d, "[") && strings.HasSuffix(d, "]") && !strings.ContainsAny(d, " /@")
}

// Bare returns the address without its resource.
func (j JID) Bare() JID { return JID{Local: j.Local, Domain: j.Domain} }

// DomainJID returns the domain alone as a JID.
func (j JID) DomainJID() JID { return JID{Domain: j.Domain} }

// WithResource returns j with the given (already normalized) resource.
func (j JID) WithResource(r string) JID { j.Resource = r; return j }

// IsZero reports whether j is the empty address.
func (j JID) IsZero() bool { return j.Domain == "" }

// IsBare reports whether j has no resource.
func (j JID) IsBare() bool { return j.Resource == "" }

// String formats j as local@domain/resource.
func (j JID) String() string {
	if j.Domain == "" {
		return ""
	}
	n := len(j.Domain)
	if j.Local != "" {
		n += len(j.Local) + 1
	}
	if j.Resource != "" {
		n += len(j.Resource) + 1
	}
	var b strings.Builder
	b.Grow(n)
	if j.Local != "" {
		b.WriteString(j.Local)
		b.WriteByte('@')
	}
	b.WriteString(j.Domain)
	if j.Resource != "" {
		b.WriteByte('/')
		b.WriteString(j.Resource)
	}
	return b.String()
}

// MarshalText encodes j as its string form.
func (j JID) MarshalText() ([]byte, error) { return []byte(j.String()), nil }

// UnmarshalText parses and normalizes a JID.
func (j *JID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*j = JID{}
		return nil
	}
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*j = p
	return nil
}
