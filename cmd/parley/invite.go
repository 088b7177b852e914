package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/xmpp"
)

const inviteUsage = `usage:
  parley invite [--data DIR] [--domain D] [--ttl 168h]
prints an invitation (XEP-0401 style) that registers one account, for a
server started with --registration invite: an xmpp: URI for apps that
know it, and the token alone. Defaults: --data ./parley-data,
--domain localhost, --ttl 168h (a week).
`

// runInvite implements "parley invite". It signs with DATA/invite-secret
// (made if missing), the file the server reads.
func runInvite(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley invite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, inviteUsage) }
	data := fs.String("data", "./parley-data", "the data folder")
	domain := fs.String("domain", "localhost", "the XMPP domain")
	ttl := fs.Duration("ttl", 7*24*time.Hour, "how long the invitation is valid")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *ttl <= 0 {
		fmt.Fprintln(stderr, "parley invite: --ttl must be positive")
		return 2
	}
	secret, err := app.InviteSecret(*data)
	if err != nil {
		fmt.Fprintln(stderr, "parley invite:", err)
		return 1
	}
	token := xmpp.NewInvite(secret, *ttl, time.Now())
	fmt.Fprintf(stdout, "xmpp:%s?register;preauth=%s\n%s\n", *domain, url.QueryEscape(token), token)
	return 0
}
