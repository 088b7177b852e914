package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

func roomCmd(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := runRoom(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRoomCommandLifecycle(t *testing.T) {
	data := t.TempDir()
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("open sesame\n"), 0o600)
	common := []string{"--data", data, "--domain", "example.test"}
	code, out, errOut := roomCmd(append([]string{"add", "arena", "--title", "Arena", "--lobby", "--members-only", "--password-file", pwFile, "--max", "10",
		"--owner", "host", "--owner", "token:u-1", "--role-default", "guest:publish_video=false"}, common...)...)
	if code != 0 {
		t.Fatalf("add: %d %s", code, errOut)
	}
	var shown map[string]any
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("add output %q: %v", out, err)
	}
	if shown["title"] != "Arena" || shown["lobby"] != true || shown["members_only"] != true || shown["password"] != true || shown["max_users"] != 10.0 ||
		len(shown["owners"].([]any)) != 2 {
		t.Fatalf("added: %v", shown)
	}
	files, _ := filepath.Glob(filepath.Join(data, "rooms", "*.json"))
	raw, _ := os.ReadFile(files[0])
	if strings.Contains(string(raw), "open sesame") {
		t.Fatalf("the password is in the file in clear:\n%s", raw)
	}
	if code, _, errOut := roomCmd(append([]string{"add", "arena"}, common...)...); code != 1 || !strings.Contains(errOut, "already declared") {
		t.Fatalf("add twice: %d %s", code, errOut)
	}
	if code, _, _ := roomCmd(append([]string{"add", "Bad Name"}, common...)...); code != 2 {
		t.Fatalf("bad name: %d", code)
	}
	// set changes only what it is given.
	code, out, _ = roomCmd(append([]string{"set", "arena", "--lobby=false", "--no-password"}, common...)...)
	json.Unmarshal([]byte(out), &shown)
	if code != 0 || shown["lobby"] != false || shown["password"] != false || shown["members_only"] != true || shown["title"] != "Arena" {
		t.Fatalf("set: %d %v", code, shown)
	}
	code, out, _ = roomCmd(append([]string{"list"}, common...)...)
	if code != 0 || !strings.HasPrefix(out, "arena\tdeclared,members-only,max=10\tArena") {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, _, _ := roomCmd(append([]string{"delete", "arena"}, common...)...); code != 0 {
		t.Fatal("delete failed")
	}
	if code, _, errOut := roomCmd(append([]string{"show", "arena"}, common...)...); code != 1 || !strings.Contains(errOut, "no such room") {
		t.Fatalf("show after delete: %d %s", code, errOut)
	}
}

// A room added with the command while the server runs appears without a
// restart, with its settings.
func TestRoomAddedWhileServerRuns(t *testing.T) {
	data := t.TempDir()
	httpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Config{Domain: "example.test", DataDir: data, PublicIP: "127.0.0.1", AllowAnonymous: true,
			HTTPListener: httpLn, DeclaredOnly: true, Ready: ready, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() { cancel(); <-done }()
	<-ready
	ws := "ws://" + httpLn.Addr().String() + "/xmpp-websocket"
	dial := func() *xmppclient.Client {
		c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: "example.test"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	join := func(c *xmppclient.Client, nick string) *xmlstream.Element {
		c.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", "later@conference.example.test/"+nick).Add(xmlstream.New(muc.NSMUC, "x")))
		for {
			select {
			case el := <-c.Incoming():
				if el.Name == "presence" || el.Child(muc.NSLobby, "waiting") != nil {
					return el
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no answer to the join")
			}
		}
	}
	if el := join(dial(), "early"); el.Attr("type") != "error" {
		t.Fatalf("an undeclared room let someone in: %s", el)
	}
	if code, _, errOut := roomCmd("add", "later", "--lobby", "--data", data, "--domain", "example.test"); code != 0 {
		t.Fatalf("add: %s", errOut)
	}
	c := dial()
	deadline := time.Now().Add(10 * time.Second)
	for {
		el := join(c, "guest")
		if el.Child(muc.NSLobby, "waiting") != nil {
			break // the room exists, with its lobby
		}
		if time.Now().After(deadline) {
			t.Fatalf("the room did not appear: %s", el)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
