// Tests of web/static/lib/conference.js and sdpbridge.js: the Jingle
// session with the focus, driven by stanzas the real focus sent
// (testdata/*.xml, captured from parley with two browsers) and a fake
// RTCPeerConnection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { XmppClient } from '../static/lib/xmpp.js';
import { Conference } from '../static/lib/conference.js';
import { tuneEncodings, layerPlan, SEND_LINES } from '../static/lib/conference/publish.js';
import { Emitter } from '../static/lib/emitter.js';
import { offerToSdp, answerToContents } from '../static/lib/sdpbridge.js';
import { parse, serialize, children, attr, ns } from '../static/lib/xml.js';
import { FakeServer, FakeClock, settle } from './fakes.mjs';

const INITIATE = readFileSync(new URL('testdata/focus-session-initiate.xml', import.meta.url), 'utf8').trim();
const CONTENT_ADD = readFileSync(new URL('testdata/focus-content-add.xml', import.meta.url), 'utf8').trim();

globalThis.MediaStream ??= class {
  constructor(tracks = []) {
    this.tracks = tracks;
  }
};

/** FakePC plays an RTCPeerConnection: transceivers follow the offer's m-lines; the answer mirrors them. */
class FakePC {
  static made = [];
  constructor(config) {
    this.config = config;
    this.transceivers = [];
    this.remote = null;
    this.localDescription = null;
    this.connectionState = 'new';
    this.listeners = new Map();
    this.closed = false;
    FakePC.made.push(this);
  }
  addEventListener(t, fn) {
    this.listeners.set(t, [...(this.listeners.get(t) ?? []), fn]);
  }
  async setRemoteDescription(d) {
    this.remote = d.sdp;
    for (const sec of d.sdp.split('\r\nm=').slice(1)) {
      const kind = sec.split(' ')[0];
      const mid = /a=mid:(\S+)/.exec(sec)[1];
      if (this.transceivers.some((t) => t.mid === mid)) continue;
      this.transceivers.push({
        mid, direction: 'recvonly', offer: sec,
        sender: { track: null, async replaceTrack(t) { this.track = t; } },
        receiver: { track: { kind, id: `remote-${mid}` } },
      });
    }
  }
  getTransceivers() {
    return this.transceivers;
  }
  async createAnswer() {
    const lines = ['v=0', 'o=- 7 2 IN IP4 127.0.0.1', 's=-', 't=0 0', `a=group:BUNDLE ${this.transceivers.map((t) => t.mid).join(' ')}`];
    for (const t of this.transceivers) {
      const pt = /^\S+ \S+ \S+ (\d+)/.exec(t.offer)[1];
      const rtpmap = new RegExp(`a=rtpmap:${pt} (\\S+)`).exec(t.offer)[1];
      lines.push(`m=${t.offer.split(' ')[0]} 9 UDP/TLS/RTP/SAVPF ${pt}`, 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdefghijkl',
        'a=fingerprint:sha-256 AA:BB', 'a=setup:active', `a=mid:${t.mid}`, `a=${t.direction}`, 'a=rtcp-mux', `a=rtpmap:${pt} ${rtpmap}`);
    }
    return { type: 'answer', sdp: lines.join('\r\n') + '\r\n' };
  }
  async setLocalDescription(d) {
    this.localDescription = d;
  }
  close() {
    this.closed = true;
  }
}

async function setup(extra = {}) {
  const server = new FakeServer();
  const clock = new FakeClock();
  const client = new XmppClient({ url: 'ws://test', domain: 'localhost', WebSocket: server.WebSocket, clock, pingIntervalMs: 0 });
  await client.connect();
  const room = new Emitter();
  room.state = 'in';
  room.jid = 'room@conference.localhost';
  room.occupants = new Map([['alice', {}], ['bob', {}], ['me', {}]]);
  const audio = { kind: 'audio', id: 'mic' }, video = { kind: 'video', id: 'cam' };
  const conf = new Conference({ client, room, focus: 'focus.localhost', localTracks: () => ({ audio, video }), RTCPeerConnection: FakePC, ...extra });
  const events = [];
  for (const e of ['trackAdded', 'trackRemoved', 'sessionEnded']) conf.on(e, (t) => events.push([e, t.nick ?? t, t.kind, t.mid]));
  const sent = [];
  // The focus acknowledges what we send and records it.
  server.onStanza = (el, ws) => {
    sent.push(el);
    if (el.name === 'iq' && el.attrs.type === 'set') ws.deliver(`<iq xmlns="jabber:client" type="result" id="${el.attrs.id}" from="focus.localhost"/>`);
  };
  const fromFocus = (jingle, id, from = 'focus.localhost') =>
    server.last.deliver(`<iq xmlns="jabber:client" type="set" id="${id}" from="${from}" to="${client.jid}">${jingle}</iq>`);
  return { server, client, clock, room, conf, events, sent, fromFocus, audio, video };
}

const sidOf = (xml) => /sid="([^"]+)"/.exec(xml)[1];
const jingleOf = (iq) => children(iq, 'jingle')[0];
const reply = (sent, id) => sent.find((s) => s.name === 'iq' && s.attrs.id === id);

test('offerToSdp bundles every content in order and keeps the msid of forwarded tracks', () => {
  const contents = children(parse(INITIATE), 'content', 'urn:xmpp:jingle:1');
  const sdp = offerToSdp(contents, 7);
  assert.match(sdp, /^o=\S+ \S+ 7 IN IP4/m);
  assert.match(sdp, /^a=group:BUNDLE 0 1 2 3$/m);
  assert.deepEqual([...sdp.matchAll(/^a=mid:(\S+)$/gm)].map((m) => m[1]), ['0', '1', '2', '3']);
  const dirs = sdp.split('\r\nm=').slice(1).map((s) => /a=(sendonly|recvonly|sendrecv|inactive)/.exec(s)[1]);
  assert.deepEqual(dirs, ['recvonly', 'recvonly', 'sendonly', 'sendonly']);
  assert.match(sdp, /^a=msid:p186fb8b video-p186fb8b$/m);
});

test('answerToContents names contents by mid with the responder\'s senders', () => {
  const vector = JSON.parse(readFileSync(new URL('../../internal/jingle/testdata/vectors/chromium-156-answer-recvonly.json', import.meta.url), 'utf8'));
  const contents = answerToContents(vector.sdp);
  assert.deepEqual(contents.map((c) => attr(c, 'name')), ['a0', 'v0', 'data']);
  assert.equal(attr(contents[0], 'senders'), 'both');
});

test('answerToContents adds in-band FEC and DTX to every Opus payload type, keeping what the browser set', () => {
  const vector = JSON.parse(readFileSync(new URL('../../internal/jingle/testdata/vectors/chromium-156-answer-recvonly.json', import.meta.url), 'utf8'));
  const opus = (contents) => contents.flatMap((c) => children(c, 'description')).flatMap((d) => children(d, 'payload-type'))
    .filter((pt) => attr(pt, 'name').toLowerCase() === 'opus')
    .map((pt) => children(pt, 'parameter').map((p) => `${attr(p, 'name')}=${attr(p, 'value')}`));
  assert.match(vector.sdp, /a=fmtp:111 minptime=10;useinbandfec=1\r\n/, 'the vector lacks usedtx, as browsers\' answers do');
  assert.deepEqual(opus(answerToContents(vector.sdp)), [['minptime=10', 'useinbandfec=1', 'usedtx=1']]);
  const explicit = vector.sdp.replace('a=fmtp:111 minptime=10;useinbandfec=1', 'a=fmtp:111 minptime=10;usedtx=0');
  assert.deepEqual(opus(answerToContents(explicit)), [['minptime=10', 'usedtx=0', 'useinbandfec=1']]);
});

test('session-initiate is acknowledged, answered with session-accept, and remote tracks map to their owners', async () => {
  const { conf, events, sent, fromFocus, client, audio, video } = await setup();
  fromFocus(INITIATE, 'f1');
  await settle();
  const ack = reply(sent, 'f1');
  assert.equal(ack.attrs.type, 'result');
  const accept = sent.find((s) => jingleOf(s)?.attrs.action === 'session-accept');
  assert.ok(sent.indexOf(ack) < sent.indexOf(accept), 'session-accept went out before the IQ result');
  const j = jingleOf(accept);
  assert.deepEqual([j.attrs.sid, j.attrs.responder], [sidOf(INITIATE), client.jid]);
  assert.deepEqual(children(j, 'content').map((c) => [attr(c, 'name'), attr(c, 'senders')]),
    [['0', 'responder'], ['1', 'responder'], ['2', 'initiator'], ['3', 'initiator']]);
  const pc = FakePC.made.at(-1);
  assert.deepEqual(pc.transceivers.map((t) => [t.mid, t.direction, t.sender.track]),
    [['0', 'sendonly', audio], ['1', 'sendonly', video], ['2', 'recvonly', null], ['3', 'recvonly', null]]);
  assert.deepEqual(events, [['trackAdded', 'alice', 'audio', '2'], ['trackAdded', 'alice', 'video', '3']]);
  assert.equal(conf.pc, pc);
});

test('content-add upserts contents, keeps m-line order and answers with every content', async () => {
  const { events, sent, fromFocus } = await setup();
  fromFocus(INITIATE, 'f1');
  await settle();
  // The captured content-add belongs to another session: give it ours.
  const add = CONTENT_ADD.replace(/sid="[^"]+"/, `sid="${sidOf(INITIATE)}"`)
    .replace('name="2" senders="initiator"', 'name="4" senders="initiator"');
  fromFocus(add, 'f2');
  await settle();
  assert.equal(reply(sent, 'f2').attrs.type, 'result');
  const pc = FakePC.made.at(-1);
  assert.match(pc.remote, /^a=group:BUNDLE 0 1 2 3 4$/m);
  assert.match(pc.remote, /^o=\S+ \S+ 2 /m);
  const accept = sent.filter((s) => jingleOf(s)?.attrs.action === 'content-accept');
  assert.equal(accept.length, 1);
  assert.deepEqual(children(jingleOf(accept[0]), 'content').map((c) => attr(c, 'name')), ['0', '1', '2', '3', '4']);
  assert.deepEqual(events.at(-1), ['trackAdded', 'bob', 'audio', '4']);

  // bob's track ends: the focus marks it senders='none'.
  fromFocus(add.replace('name="4" senders="initiator"', 'name="4" senders="none"'), 'f3');
  await settle();
  assert.deepEqual(events.at(-1), ['trackRemoved', 'bob', 'audio', '4']);
});

test('someone leaving the room loses their tracks at once and does not get them back from a stale offer', async () => {
  const { room, events, fromFocus } = await setup();
  fromFocus(INITIATE, 'f1');
  await settle();
  room.occupants.delete('alice');
  room.emit('left', { nick: 'alice', self: false }, { kind: 'left', text: '' });
  assert.deepEqual(events.slice(-2).map((e) => [e[0], e[1], e[2]]), [['trackRemoved', 'alice', 'audio'], ['trackRemoved', 'alice', 'video']]);
  // An unrelated content-add still lists alice's m-lines: they stay gone.
  const add = CONTENT_ADD.replace(/sid="[^"]+"/, `sid="${sidOf(INITIATE)}"`).replace('name="2" senders="initiator"', 'name="4" senders="initiator"');
  fromFocus(add, 'f2');
  await settle();
  assert.ok(!events.slice(2).some((e) => e[0] === 'trackAdded' && e[1] === 'alice'), JSON.stringify(events));
});

test('bad Jingle requests get errors and leave the session alone', async () => {
  const { sent, fromFocus, events } = await setup();
  fromFocus(INITIATE, 'f1');
  await settle();
  const cond = (id) => {
    const r = reply(sent, id);
    return [r.attrs.type, ...children(children(r, 'error')[0]).map((c) => c.name)];
  };
  fromFocus(INITIATE.replace('action="session-initiate"', 'action="content-add"').replace(/sid="[^"]+"/, 'sid="nosuch"'), 'e1');
  fromFocus(INITIATE, 'e2', 'mallory@localhost/x');
  fromFocus(`<jingle xmlns="urn:xmpp:jingle:1" action="content-add" sid="${sidOf(INITIATE)}"><content name="9" senders="initiator"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="video"/></content></jingle>`, 'e3');
  fromFocus(`<jingle xmlns="urn:xmpp:jingle:1" action="session-frobnicate" sid="${sidOf(INITIATE)}"/>`, 'e4');
  await settle();
  assert.deepEqual(cond('e1'), ['error', 'item-not-found', 'unknown-session']);
  assert.deepEqual(cond('e2'), ['error', 'not-authorized', 'text']);
  assert.equal(cond('e3')[0], 'error');
  assert.equal(cond('e3')[1], 'bad-request');
  assert.deepEqual(cond('e4').slice(0, 2), ['error', 'feature-not-implemented']);
  assert.equal(events.filter((e) => e[0] === 'trackRemoved').length, 0, 'a bad request disturbed the session');
});

test('session-terminate from the focus closes the connection and drops every remote track', async () => {
  const { conf, events, fromFocus } = await setup();
  fromFocus(INITIATE, 'f1');
  await settle();
  fromFocus(`<jingle xmlns="urn:xmpp:jingle:1" action="session-terminate" sid="${sidOf(INITIATE)}"><reason><success/></reason></jingle>`, 'f2');
  await settle();
  assert.equal(FakePC.made.at(-1).closed, true);
  assert.equal(conf.pc, null);
  assert.deepEqual(events.slice(-3).map((e) => e[0]), ['trackRemoved', 'trackRemoved', 'sessionEnded']);
});

/** transportReplace makes the focus's ICE restart of INITIATE: transports only, new credentials. */
function transportReplace(ufrag) {
  const j = parse(INITIATE);
  const contents = children(j, 'content', 'urn:xmpp:jingle:1').map((c) => {
    const tr = children(c, 'transport', 'urn:xmpp:jingle:transports:ice-udp:1')[0];
    const pwd = 'N'.repeat(24);
    const t = serialize(tr).replace(/ufrag="[^"]+"/, `ufrag="${ufrag}"`).replace(/pwd="[^"]+"/, `pwd="${pwd}"`);
    return `<content creator="initiator" name="${attr(c, 'name')}" senders="${attr(c, 'senders')}">${t}</content>`;
  });
  return `<jingle xmlns="urn:xmpp:jingle:1" action="transport-replace" sid="${sidOf(INITIATE)}">${contents.join('')}</jingle>`;
}

/** setConnectionState plays the browser's ICE/DTLS state change. */
function setConnectionState(pc, s) {
  pc.connectionState = s;
  for (const fn of pc.listeners.get('connectionstatechange') ?? []) fn();
}

test('transport-replace restarts ICE in the same session and is answered with transport-accept', async () => {
  const { conf, clock, sent, fromFocus, events } = await setup();
  fromFocus(INITIATE, 'f1');
  await settle();
  const pc = FakePC.made.at(-1);
  assert.match(pc.remote, /a=ice-ufrag:dFqGelTVWwbhwdTd/);
  // A candidate of the new generation, gathered before our answer went out, waits for it.
  fromFocus(transportReplace('RestartedUfrag01'), 'r1');
  pc.listeners.get('icecandidate')[0]({ candidate: { candidate: 'candidate:1 1 udp 2122260223 10.1.1.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 } });
  await settle();
  await clock.advance(50);
  assert.equal(reply(sent, 'r1').attrs.type, 'result');
  assert.equal(FakePC.made.at(-1), pc, 'a restart must not make a new connection');
  assert.match(pc.remote, /a=ice-ufrag:RestartedUfrag01/);
  assert.doesNotMatch(pc.remote, /dFqGelTVWwbhwdTd/);
  assert.match(pc.remote, /^o=\S+ \S+ 2 /m, 'the restart offer is the session\'s next version');
  const acceptAt = sent.findIndex((s) => jingleOf(s)?.attrs.action === 'transport-accept');
  assert.ok(acceptAt >= 0, 'no transport-accept');
  const accept = jingleOf(sent[acceptAt]);
  assert.deepEqual(children(accept, 'content').map((c) => [attr(c, 'name'), children(c).map((k) => k.name)]),
    [['0', ['transport']], ['1', ['transport']], ['2', ['transport']], ['3', ['transport']]]);
  const infoAt = sent.findIndex((s) => jingleOf(s)?.attrs.action === 'transport-info');
  assert.ok(infoAt > acceptAt, `the new candidate went out at ${infoAt}, before transport-accept at ${acceptAt}`);
  assert.equal(conf.restarts, 1);
  assert.equal(events.filter((e) => e[0] === 'trackRemoved').length, 0, 'the restart dropped tracks');
});

test('a transport-replace naming an unknown content is refused and changes nothing', async () => {
  const { sent, fromFocus } = await setup();
  fromFocus(INITIATE, 'f1');
  await settle();
  const pc = FakePC.made.at(-1);
  const before = pc.remote;
  fromFocus(transportReplace('OtherUfrag000001').replace('name="3"', 'name="9"'), 'r2');
  await settle();
  const r = reply(sent, 'r2');
  assert.deepEqual([r.attrs.type, ...children(children(r, 'error')[0]).map((c) => c.name)].slice(0, 3), ['error', 'bad-request', 'text']);
  assert.equal(pc.remote, before);
  assert.ok(!sent.some((s) => jingleOf(s)?.attrs.action === 'transport-accept'));
});

test('a connection that fails or stays disconnected asks the focus for an ICE restart, once', async () => {
  const { clock, sent, fromFocus } = await setup();
  fromFocus(INITIATE, 'f1');
  await settle();
  const pc = FakePC.made.at(-1);
  const asked = () => sent.filter((s) => jingleOf(s)?.attrs.action === 'session-info' && children(jingleOf(s), 'ice-restart', 'urn:parley:focus:0').length === 1).length;
  setConnectionState(pc, 'connected');
  // A short interruption that recovers asks for nothing.
  setConnectionState(pc, 'disconnected');
  await clock.advance(3000);
  setConnectionState(pc, 'connected');
  await clock.advance(5000);
  assert.equal(asked(), 0);
  // A long one asks once.
  setConnectionState(pc, 'disconnected');
  await clock.advance(3999);
  assert.equal(asked(), 0);
  await clock.advance(1);
  assert.equal(asked(), 1);
  // Failing right after is the same trouble: no second request so soon.
  setConnectionState(pc, 'failed');
  await settle();
  assert.equal(asked(), 1);
  assert.equal(jingleOf(sent.find((s) => jingleOf(s)?.attrs.action === 'session-info')).attrs.sid, sidOf(INITIATE));
});

test('a new connection gets the STUN/TURN servers and the transport policy', async () => {
  const servers = [{ urls: 'turn:meet.example.org:443?transport=tcp', username: 'u', credential: 'p' }];
  const { fromFocus } = await setup({ rtcConfig: { iceTransportPolicy: 'relay' }, iceServers: async () => servers });
  fromFocus(INITIATE, 'f1');
  await settle();
  const pc = FakePC.made.at(-1);
  assert.deepEqual(pc.config.iceServers, servers);
  assert.equal(pc.config.iceTransportPolicy, 'relay');
  assert.equal(pc.config.bundlePolicy, 'max-bundle');
});

/**
 * withScreen gives INITIATE what today's SFU offers: a second video content
 * we send on (mid "s", our screen share's m-line, after the camera's) and
 * a forwarded screen share of alice's (mid "5", track id screen-…).
 */
function withScreen() {
  const el = parse(INITIATE);
  const contents = children(el, 'content', 'urn:xmpp:jingle:1');
  const copy = (c, name, edit) => parse(edit(serialize(c).replace(`name="${attr(c, 'name')}"`, `name="${name}"`)));
  const screenSlot = copy(contents[1], 's', (s) => s);
  const remoteScreen = copy(contents[3], '5', (s) => s.replace(/video-p186fb8b/g, 'screen-p186fb8b').replace(/ssrc="2471371008"/g, 'ssrc="12345"'));
  const i = el.children.indexOf(contents[1]);
  el.children.splice(i + 1, 0, screenSlot);
  el.children.push(remoteScreen);
  return serialize(el);
}

test('shareScreen puts the track on the second video m-line we send on and tells the focus; a received screen has source "screen"', async () => {
  const { conf, events, sent, fromFocus, video } = await setup();
  fromFocus(withScreen(), 'f1');
  await settle();
  const pc = FakePC.made.at(-1);
  const screenT = pc.transceivers.find((t) => t.mid === 's');
  assert.deepEqual([screenT.direction, screenT.sender.track], ['sendonly', null], 'the screen m-line waits, empty');
  assert.equal(pc.transceivers.find((t) => t.mid === '1').sender.track, video);
  assert.deepEqual([...conf.remote.values()].map((t) => [t.mid, t.kind, t.source]),
    [['2', 'audio', 'audio'], ['3', 'video', 'camera'], ['5', 'video', 'screen']]);
  assert.deepEqual(events.filter((e) => e[0] === 'trackAdded').map((e) => e[1]), ['alice', 'alice', 'alice']);

  const listeners = new Map();
  const screen = { kind: 'video', id: 'screen', contentHint: '', addEventListener: (t, fn) => listeners.set(t, fn), removeEventListener: (t) => listeners.delete(t) };
  await conf.shareScreen(screen);
  assert.equal(screenT.sender.track, screen);
  assert.equal(pc.transceivers.find((t) => t.mid === '1').sender.track, video, 'the camera stays');
  assert.equal(screen.contentHint, 'detail');
  const infos = () => sent.map(jingleOf).filter((j) => j?.attrs.action === 'session-info').map((j) => children(j, 'screen-share')[0]?.attrs.active);
  assert.deepEqual(infos(), ['true']);
  assert.equal(ns(children(sent.map(jingleOf).filter((j) => j?.attrs.action === 'session-info')[0], 'screen-share')[0]), 'urn:parley:focus:0');

  // The browser's "stop sharing" ends the track: the share stops by itself.
  let ended = 0;
  conf.on('screenShareEnded', () => ended++);
  listeners.get('ended')();
  await settle();
  assert.equal(screenT.sender.track, null);
  assert.deepEqual(infos(), ['true', 'false']);
  assert.equal(ended, 1);
  assert.equal(conf.screenTrack, null);
});

test('a screen shared before the focus calls goes out with the session', async () => {
  const { conf, sent, fromFocus } = await setup();
  const screen = { kind: 'video', id: 'screen' };
  await conf.shareScreen(screen);
  fromFocus(withScreen(), 'f1');
  await settle();
  const pc = FakePC.made.at(-1);
  assert.equal(pc.transceivers.find((t) => t.mid === 's').sender.track, screen);
  const actions = sent.map(jingleOf).filter(Boolean).map((j) => j.attrs.action);
  assert.ok(actions.indexOf('session-accept') < actions.indexOf('session-info'), `${actions}`);
});

test('shareScreen fails when the focus offers no m-line for a screen', async () => {
  const { conf, fromFocus } = await setup();
  fromFocus(INITIATE, 'f1');
  await settle();
  await assert.rejects(conf.shareScreen({ kind: 'video', id: 'screen' }), /no room for a screen share/);
});

test('the focus names the dominant speaker in a headline message; others cannot', async () => {
  const { conf, server, client } = await setup();
  const seen = [];
  conf.on('dominantSpeaker', (nick) => seen.push(nick));
  const msg = (from, occupant) => server.last.deliver(`<message xmlns="jabber:client" type="headline" from="${from}" to="${client.jid}">` +
    `<dominant-speaker xmlns="urn:parley:focus:0" occupant="${occupant}"/></message>`);
  msg('focus.localhost', 'room@conference.localhost/alice');
  msg('mallory@localhost/x', 'room@conference.localhost/mallory');
  msg('focus.localhost', 'other@conference.localhost/bob');
  msg('focus.localhost', 'room@conference.localhost/bob');
  await settle();
  assert.deepEqual(seen, ['alice', 'bob']);
  assert.equal(conf.dominantSpeaker, 'bob');
});

test('setReceiveVideo coalesces changes into one receive-video session-info', async () => {
  const { conf, sent, fromFocus, clock } = await setup();
  fromFocus(withScreen(), 'f1');
  await settle();
  const remote = [...conf.remote.values()];
  assert.deepEqual(remote.map((t) => t.trackId), ['audio-p186fb8b', 'video-p186fb8b', 'screen-p186fb8b']);
  conf.setReceiveVideo({ heights: { 'video-p186fb8b': 180 } });
  conf.setReceiveVideo({ quality: 'medium', heights: { 'video-p186fb8b': 360, 'screen-p186fb8b': 0 } });
  const requests = () => sent.map(jingleOf).filter((j) => j?.attrs.action === 'session-info').map((j) => children(j, 'receive-video')[0]).filter(Boolean);
  assert.equal(requests().length, 0, 'sent before the delay');
  await clock.advance(400);
  assert.equal(requests().length, 1);
  const rv = requests()[0];
  assert.equal(ns(rv), 'urn:parley:focus:0');
  assert.equal(rv.attrs.quality, 'medium');
  assert.deepEqual(children(rv, 'video').map((v) => [v.attrs.track, v.attrs.height]), [['video-p186fb8b', '360'], ['screen-p186fb8b', '0']]);
  conf.setReceiveVideo({ lastN: 2, pinned: ['p186fb8b'] });
  await clock.advance(400);
  assert.equal(requests().length, 2);
  assert.equal(requests()[1].attrs['last-n'], '2');
  assert.deepEqual(children(requests()[1], 'pin').map((p) => p.attrs.stream), ['p186fb8b']);
  assert.equal(children(requests()[1], 'video').length, 2, 'the heights stay');
  conf.setReceiveVideo({ quality: 'medium' }); // nothing new
  await clock.advance(400);
  assert.equal(requests().length, 2);
});

test('our camera and screen layers get their sizes, bitrates and frame rates by rid', async () => {
  const { conf, fromFocus } = await setup();
  fromFocus(withScreen(), 'f1');
  await settle();
  const pc = FakePC.made.at(-1);
  // The encodings a browser makes from the offer's rids.
  const applied = new Map();
  for (const [mid, rids] of [['1', ['q', 'h', 'f']], ['s', ['h', 'f']]]) {
    const t = pc.transceivers.find((tr) => tr.mid === mid);
    t.sender.getParameters = () => ({ encodings: rids.map((rid) => ({ rid, active: true })) });
    t.sender.setParameters = async (p) => applied.set(mid, p.encodings);
  }
  // No track yet: planned for 720 lines, three camera layers.
  await tuneEncodings(conf, pc);
  assert.deepEqual(applied.get('1').map((e) => [e.rid, e.active, e.scaleResolutionDownBy, e.maxBitrate]),
    [['q', true, 4, 150000], ['h', true, 2, 500000], ['f', true, 1, 1500000]]);
  assert.deepEqual(applied.get('s').map((e) => [e.rid, e.scaleResolutionDownBy, e.maxFramerate]), [['h', 2, 5], ['f', 1, 5]]);
  // A 640x360 camera: libwebrtc encodes two layers, the first two asked
  // for, so they are 320x180 and 640x360 and f is off.
  const cam = pc.transceivers.find((tr) => tr.mid === '1');
  cam.sender.track = { kind: 'video', getSettings: () => ({ width: 640, height: 360 }) };
  await tuneEncodings(conf, pc);
  assert.deepEqual(applied.get('1').map((e) => [e.rid, e.active, e.scaleResolutionDownBy, e.maxBitrate]),
    [['q', true, 2, 150000], ['h', true, 1, 500000], ['f', false, undefined, undefined]]);
});

test('layerPlan: as many layers as libwebrtc encodes for the picture, the top one full size', () => {
  const plan = (slot, rids, h) => [...layerPlan(slot, rids, h)].map(([rid, s]) => [rid, s.active, s.scaleResolutionDownBy]);
  assert.deepEqual(plan('camera', ['q', 'h', 'f'], 1080), [['q', true, 4], ['h', true, 2], ['f', true, 1]]);
  assert.deepEqual(plan('camera', ['q', 'h', 'f'], 540), [['q', true, 4], ['h', true, 2], ['f', true, 1]]);
  assert.deepEqual(plan('camera', ['q', 'h', 'f'], 480), [['q', true, 2], ['h', true, 1], ['f', false, undefined]]);
  assert.deepEqual(plan('camera', ['q', 'h', 'f'], 240), [['q', true, 1], ['h', false, undefined], ['f', false, undefined]]);
  assert.deepEqual(plan('screen', ['h', 'f'], 1080), [['h', true, 2], ['f', true, 1]]);
  assert.deepEqual(plan('screen', ['h', 'f'], 200), [['h', true, 1], ['f', false, undefined]]);
});

test('layerPlan: a lower send quality keeps the camera layers of at most that many lines, and always the smallest', () => {
  const plan = (slot, h, q) => [...layerPlan(slot, ['q', 'h', 'f'], h, SEND_LINES[q])].map(([rid, s]) => [rid, s.active]);
  assert.deepEqual(plan('camera', 720, 'high'), [['q', true], ['h', true], ['f', true]]);
  assert.deepEqual(plan('camera', 720, 'medium'), [['q', true], ['h', true], ['f', false]]);
  assert.deepEqual(plan('camera', 720, 'low'), [['q', true], ['h', false], ['f', false]]);
  assert.deepEqual(plan('camera', 360, 'medium'), [['q', true], ['h', true], ['f', false]]);
  assert.deepEqual(plan('camera', 360, 'low'), [['q', true], ['h', false], ['f', false]]);
  assert.deepEqual(plan('camera', 120, 'low'), [['q', true], ['h', false], ['f', false]]);
  // A screen is not the camera: its layers stay.
  assert.deepEqual(plan('screen', 1080, 'low'), [['q', true], ['h', true], ['f', true]]);
});

test('send-layers from the focus turns our camera layers on and off by rid', async () => {
  const { sent, fromFocus } = await setup();
  fromFocus(withScreen(), 'f1');
  await settle();
  const pc = FakePC.made.at(-1);
  let encodings = ['q', 'h', 'f'].map((rid) => ({ rid, active: true }));
  const cam = pc.transceivers.find((tr) => tr.mid === '1');
  cam.sender.getParameters = () => ({ encodings: encodings.map((e) => ({ ...e })) });
  cam.sender.setParameters = async (p) => { encodings = p.encodings; };
  const sid = sidOf(INITIATE);
  fromFocus(`<jingle xmlns="urn:xmpp:jingle:1" action="session-info" sid="${sid}"><send-layers xmlns="urn:parley:focus:0" source="camera" rids="q"/></jingle>`, 'f2');
  await settle();
  assert.equal(reply(sent, 'f2').attrs.type, 'result');
  assert.deepEqual(encodings.map((e) => [e.rid, e.active]), [['q', true], ['h', false], ['f', false]]);
  fromFocus(`<jingle xmlns="urn:xmpp:jingle:1" action="session-info" sid="${sid}"><send-layers xmlns="urn:parley:focus:0" source="camera" rids="q,h,f"/></jingle>`, 'f3');
  await settle();
  assert.deepEqual(encodings.map((e) => e.active), [true, true, true]);
});

test('a send quality change or a new camera keeps the layers the focus paused (send-layers), until it asks for them', async () => {
  const { conf, fromFocus } = await setup();
  fromFocus(withScreen(), 'f1');
  await settle();
  const pc = FakePC.made.at(-1);
  let encodings = ['q', 'h', 'f'].map((rid) => ({ rid, active: true }));
  const cam = pc.transceivers.find((tr) => tr.mid === '1');
  cam.sender.getParameters = () => ({ encodings: encodings.map((e) => ({ ...e })) });
  cam.sender.setParameters = async (p) => { encodings = p.encodings; };
  const active = () => encodings.map((e) => [e.rid, e.active]);
  const sid = sidOf(INITIATE);
  fromFocus(`<jingle xmlns="urn:xmpp:jingle:1" action="session-info" sid="${sid}"><send-layers xmlns="urn:parley:focus:0" source="camera" rids="q"/></jingle>`, 'f2');
  await settle();
  assert.deepEqual(active(), [['q', true], ['h', false], ['f', false]]);
  // The user lowers, then raises, the send quality: h and f stay paused.
  conf.setSendQuality('medium');
  await settle();
  assert.deepEqual(active(), [['q', true], ['h', false], ['f', false]]);
  conf.setSendQuality('high');
  await settle();
  assert.deepEqual(active(), [['q', true], ['h', false], ['f', false]], 'setSendQuality turned on layers the focus paused');
  // Another camera (tuneEncodings again, here a 1280x720 one): still paused.
  cam.sender.track = { kind: 'video', getSettings: () => ({ width: 1280, height: 720 }) };
  await tuneEncodings(conf, pc);
  assert.deepEqual(active(), [['q', true], ['h', false], ['f', false]], 'a new camera turned on layers the focus paused');
  assert.deepEqual(encodings.map((e) => e.scaleResolutionDownBy), [4, 2, 1], 'the sizes follow the new camera');
  // The focus wants h again; the send quality still caps it.
  conf.setSendQuality('low');
  await settle();
  fromFocus(`<jingle xmlns="urn:xmpp:jingle:1" action="session-info" sid="${sid}"><send-layers xmlns="urn:parley:focus:0" source="camera" rids="q,h"/></jingle>`, 'f3');
  await settle();
  assert.deepEqual(active(), [['q', true], ['h', false], ['f', false]]);
  conf.setSendQuality('high');
  await settle();
  assert.deepEqual(active(), [['q', true], ['h', true], ['f', false]]);
  // A new session starts with every layer the picture allows.
  fromFocus(withScreen(), 'f4');
  await settle();
  const pc2 = FakePC.made.at(-1);
  assert.notEqual(pc2, pc);
  encodings = ['q', 'h', 'f'].map((rid) => ({ rid, active: false }));
  const cam2 = pc2.transceivers.find((tr) => tr.mid === '1');
  cam2.sender.getParameters = () => ({ encodings: encodings.map((e) => ({ ...e })) });
  cam2.sender.setParameters = async (p) => { encodings = p.encodings; };
  await tuneEncodings(conf, pc2);
  assert.deepEqual(active(), [['q', true], ['h', true], ['f', true]]);
});
