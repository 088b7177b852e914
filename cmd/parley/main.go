// Command parley is a self-hosted video-conferencing server in one binary:
// XMPP server, conference focus, SFU, STUN/TURN and web client.
//
//	parley [serve] [flags]   run the server (the default)
//	parley bridge [flags]    run a media bridge for a parley serve elsewhere
//	parley focus [flags]     run the focus as a component of Prosody or ejabberd
//	parley user ...          manage accounts
//	parley room ...          manage declared rooms
//	parley load ...          run R rooms of P headless participants against a server
//	parley recorder ...      record one room from a separate process
//	parley config ...        check a config file, or print an example
//	parley doctor            check a running deployment from outside
//	parley version           print the version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		// Ctrl-C stops at once; SIGTERM drains first (runServe).
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		return runServe(ctx, args, stderr)
	case "bridge":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		return runBridge(ctx, args, stderr)
	case "focus":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runFocus(ctx, args, stderr)
	case "load":
		return runLoad(args, stdout, stderr)
	case "recorder":
		return runRecorder(args, stderr)
	case "user":
		return runUser(args, stdin, stdout, stderr)
	case "invite":
		return runInvite(args, stdout, stderr)
	case "config":
		return runConfig(args, stdout, stderr)
	case "doctor":
		return runDoctor(context.Background(), args, stdout, stderr)
	case "sip":
		return runSIP(args, stderr)
	case "room":
		return runRoom(args, stdout, stderr)
	case "version":
		writeVersion(stdout)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "parley: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  parley [serve] [--listen ADDR] [--c2s ADDR] [--domain D] [--data DIR] [--public-ip IP] ...
  parley bridge --server ws://HOST:PORT/xmpp-websocket --domain D --user NAME --password-file F
                --listen ADDR --public-ip IP [--brewery ROOM] [--focus JIDS] [--region R]
  parley focus --server HOST:PORT --domain D --secret-file F [--component focus.D] [--muc conference.D]
               [--brewery ROOM] [--bridge-users NAMES] [--listen ADDR]   (a XEP-0114 component)
  parley user add|passwd|delete NAME [--data DIR] [--domain D]   (password on stdin)
  parley user list [--data DIR] [--domain D]
  parley room add|set NAME [--data DIR] [--domain D] [--title T] [--lobby] [--members-only]
              [--password-file F] [--max N] [--owner NAME] ...
  parley room list|show|delete [NAME] [--data DIR] [--domain D]
  parley sip --sip ADDR --server ws://HOST:PORT/xmpp-websocket [--domain D] [--sip-trunk-addrs A,B]
  parley invite [--data DIR] [--domain D] [--ttl 168h]   (for --registration invite)
  parley load --server ws://HOST:PORT/xmpp-websocket --domain D --rooms R --participants P
              [--duration 30s] [--media=false] [--json] [--server-pid PID]
  parley recorder --server URL --room ROOM [--token-file F | --user U --password-file F] [--dir DIR]
  parley config check [FILE]     check a config file (default ./parley.toml), print the effective settings
  parley config example          print a complete, commented config file
  parley doctor [serve's flags]  check the deployment: DNS, certificate, TCP and UDP port, clock, data folder, disk
  parley version
Run "parley serve -h" for every server flag.
`)
}
