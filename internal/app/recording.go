package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"parley.dev/parley/internal/admin"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/token"
	"parley.dev/parley/internal/xmppclient"
)

// Recordings is what parley serve needs of its recordings: the record
// package's Manager, which cmd/parley makes through Config.Recordings.
// (app does not import the recorder: it is a participant built on
// mediapeer, whose tests start this package through testserver.)
type Recordings interface {
	muc.Recordings
	admin.Recordings
	// IsRecorder says whether a session is one of the recorders.
	IsRecorder(full jid.JID) bool
	// Close stops every recording and waits for its files.
	Close()
}

// RecordingsEnv is what Config.Recordings gets to make the recordings.
type RecordingsEnv struct {
	Dir       string // DATA/recordings
	MUCDomain string // conference.DOMAIN
	// Dial logs a recorder in to this server over loopback.
	Dial   func(ctx context.Context) (*xmppclient.Client, error)
	Logger *slog.Logger
}

// startRecordings makes the recordings, DATA/recordings. Recorders are
// headless participants that log in to this server over loopback, as a
// guest or with a token this server mints; identify then grants them the
// record permission in the room they record.
func (p *parley) startRecordings() error {
	if p.cfg.Recordings == nil {
		return nil
	}
	r, err := p.cfg.Recordings(RecordingsEnv{Dir: filepath.Join(p.cfg.DataDir, "recordings"), MUCDomain: p.mucDomain(),
		Dial: p.dialRecorder, Logger: p.cfg.Logger.With("part", "record")})
	if err != nil {
		return err
	}
	p.recordings, p.recFiles = r, newRecordingFiles(r)
	return nil
}

// dialRecorder logs a recorder in over loopback: the XMPP TCP listener if
// there is one, else the one port's WebSocket.
func (p *parley) dialRecorder(ctx context.Context) (*xmppclient.Client, error) {
	cfg := xmppclient.Config{Domain: p.cfg.Domain, NoStartTLS: true, Logger: p.log}
	if p.c2s != nil {
		cfg.Address = loopback(p.c2s.Addr())
	} else {
		cfg.Address = "ws://" + loopback(p.cfg.HTTPListener.Addr()) + "/xmpp-websocket"
	}
	if !p.cfg.AllowAnonymous {
		if p.tokens == nil {
			return nil, errors.New("recording needs guests (--allow-anonymous) or a token secret (--jwt-secret-file) for its recorder to log in")
		}
		tok, _, err := p.tokens.Mint(token.MintRequest{User: "parley-recorder", Name: "Recorder", TTL: time.Minute})
		if err != nil {
			return nil, err
		}
		cfg.Token = tok
	}
	return xmppclient.Dial(ctx, cfg)
}

// loopback is addr with an unspecified IP made the loopback address.
func loopback(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// recorderIdentity is the identity of one of our recorders in a room: a
// logged-in user that may record (its presence stamp is then shown).
func recorderIdentity() muc.Identity {
	return muc.Identity{Kind: muc.IdentityAccount, Overrides: perm.Overrides{Grant: perm.Of(perm.Join, perm.Record)}}
}

// muRecordings is the recordings for the MUC: a nil interface when off.
func (p *parley) muRecordings() muc.Recordings {
	if p.recordings == nil {
		return nil
	}
	return p.recordings
}

// mucRecordingFiles is the recordings' files for the MUC: nil when off.
func (p *parley) mucRecordingFiles() muc.RecordingFiles {
	if p.recFiles == nil {
		return nil
	}
	return p.recFiles
}

// adminRecordings is the recordings for the admin API: nil when off.
func (p *parley) adminRecordings() admin.Recordings {
	if p.recordings == nil {
		return nil
	}
	return p.recordings
}
