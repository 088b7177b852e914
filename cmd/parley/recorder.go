package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/record"
	"parley.dev/parley/internal/xmppclient"
)

// newRecordings makes parley serve's recordings (app.Config.Recordings).
func newRecordings(env app.RecordingsEnv) (app.Recordings, error) {
	return record.NewManager(record.ManagerConfig{Dir: env.Dir, MUCDomain: env.MUCDomain, Dial: env.Dial, Logger: env.Logger})
}

// runRecorder is "parley recorder": one recording of one room by a
// separate process that logs in like any participant (so recording
// scales out on other machines), until SIGINT/SIGTERM or until it is
// removed from the room. The account or token must hold the record
// permission in the room for its <recording/> stamp to be shown.
func runRecorder(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("recorder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "ws://localhost:8080/xmpp-websocket", "parley's XMPP WebSocket URL (or HOST:PORT for TCP)")
	domain := fs.String("domain", "", "the XMPP domain (default: the server's host name)")
	room := fs.String("room", "", "the room's name (its local part), or its bare JID; required")
	user := fs.String("user", "", "log in with this account (default: a token, else as a guest)")
	passFile := fs.String("password-file", "", "the account's password, in a file")
	tokenFile := fs.String("token-file", "", "log in with the JWT in this file")
	roomPassFile := fs.String("room-password-file", "", "the room's password, in a file")
	dir := fs.String("dir", "recordings", "where recordings go: DIR/ROOM/ID/")
	minFree := fs.Int64("min-free-mb", 256, "do not start, or stop, below this much free disk space (MiB)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *room == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "parley recorder: --room is required, and takes no arguments")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if *domain == "" {
		*domain = hostOf(*server)
	}
	roomJID, err := jid.Parse(*room)
	if err == nil && roomJID.Local == "" {
		roomJID, err = jid.New(*room, "conference."+*domain, "")
	}
	if err != nil {
		fmt.Fprintf(stderr, "parley recorder: bad --room: %v\n", err)
		return 2
	}
	cfg := xmppclient.Config{Address: *server, Domain: *domain, Username: *user, Logger: log}
	var roomPass string
	for _, f := range []struct {
		path string
		to   *string
	}{{*passFile, &cfg.Password}, {*tokenFile, &cfg.Token}, {*roomPassFile, &roomPass}} {
		if f.path == "" {
			continue
		}
		if *f.to, err = app.ReadSecretFile(f.path); err != nil {
			fmt.Fprintf(stderr, "parley recorder: %v\n", err)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dialCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	client, err := xmppclient.Dial(dialCtx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "parley recorder: %v\n", err)
		return 1
	}
	id := time.Now().UTC().Format("20060102-150405")
	rec, err := record.Start(dialCtx, record.Config{Client: client, Room: roomJID, Password: roomPass, ID: id,
		Dir: filepath.Join(*dir, roomJID.Local, id), By: "parley recorder", MinFree: *minFree << 20, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "parley recorder: %v\n", err)
		return 1
	}
	select {
	case <-ctx.Done():
		rec.Stop("stopped")
	case <-rec.Done():
	}
	<-rec.Done()
	m := rec.Manifest()
	fmt.Fprintf(stderr, "parley recorder: %s: %d tracks in %s (%s)\n", m.State, len(m.Tracks), filepath.Join(*dir, roomJID.Local, id), m.Reason)
	return 0
}

// hostOf returns the host of a ws:// URL or a HOST:PORT address.
func hostOf(server string) string {
	s := server
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, ":/"); i >= 0 {
		s = s[:i]
	}
	return s
}
