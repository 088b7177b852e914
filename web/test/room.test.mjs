// The meeting room's logic that needs no page: member state in presence,
// reactions, private messages and moderator requests (RoomExtras), the
// debug file's redaction, chat links, room names, moderator rights, the
// camera/screen split and connection quality.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomExtras, stateElement, readState, NS_ROOM } from '../static/lib/roomextras.js';
import { redact, DebugRecorder, browserName } from '../static/lib/debuginfo.js';
import { serialize, parse, x } from '../static/lib/xml.js';
import { Emitter } from '../static/lib/emitter.js';
import { splitLinks } from '../static/ui/links.js';
import { generateRoomName, roomFromInput } from '../static/ui/roomname.js';
import { canModerate, newMember, splitVideos } from '../static/ui/callstate.js';
import { quality } from '../static/ui/monitor.js';

test('member state goes into presence and comes back; bad values fall back', () => {
  const el = stateElement({ audio: 'muted', video: 'off', hand: 1765000000000, screen: true });
  const xml = serialize(el);
  assert.equal(xml, `<state xmlns="${NS_ROOM}" audio="muted" video="off" hand="1765000000000" screen="1"/>`);
  assert.deepEqual(readState([parse(xml)]), { audio: 'muted', video: 'off', hand: 1765000000000, screen: true });
  assert.deepEqual(readState([]), { audio: 'on', video: 'on', hand: null, screen: false });
  assert.deepEqual(readState([parse(`<state xmlns="${NS_ROOM}" audio="loud" video="" hand="soon"/>`)]), { audio: 'on', video: 'on', hand: null, screen: false });
  assert.deepEqual(readState([parse('<state xmlns="urn:other" audio="muted"/>')]).audio, 'on', 'another namespace counts');
});

class FakeClient extends Emitter {
  constructor() {
    super();
    this.sent = [];
    this.n = 0;
  }
  send(el) { this.sent.push(serialize(el)); }
  newId() { return `id${++this.n}`; }
}

function setup() {
  const client = new FakeClient();
  const extras = [];
  const room = {
    jid: 'team@conference.localhost', state: 'in',
    occupants: new Map([['mod', { role: 'moderator' }], ['ann', { role: 'participant' }]]),
    setExtras: (els) => extras.push(els.map(serialize)),
  };
  const rx = new RoomExtras({ client, room });
  const events = [];
  for (const e of ['reaction', 'private', 'request', 'sendFailed']) rx.on(e, (...a) => events.push([e, ...a]));
  const deliver = (xml) => client.emit('message', parse(xml));
  return { client, room, rx, events, extras, deliver };
}

test('RoomExtras publishes state, sends reactions and private messages, and reads them', () => {
  const { client, rx, events, extras, deliver } = setup();
  rx.publish({ audio: 'muted' });
  rx.publish({ hand: 5 });
  assert.deepEqual(extras.at(-1), [`<state xmlns="${NS_ROOM}" audio="muted" video="on" hand="5"/>`]);
  rx.react('👍');
  assert.throws(() => rx.react('<b>'), RangeError);
  rx.sendPrivate('ann', 'hi');
  assert.match(client.sent[0], /^<message xmlns="jabber:client" to="team@conference.localhost" type="groupchat" id="id1"><reaction xmlns="urn:parley:room:1">👍<\/reaction><\/message>$/);
  assert.match(client.sent[1], /to="team@conference.localhost\/ann" type="chat" id="id2"><body>hi<\/body><x xmlns="http:\/\/jabber.org\/protocol\/muc#user"\/>/);

  deliver(`<message xmlns="jabber:client" from="team@conference.localhost/ann" type="groupchat"><reaction xmlns="${NS_ROOM}">🎉</reaction></message>`);
  deliver(`<message xmlns="jabber:client" from="team@conference.localhost/ann" type="groupchat"><reaction xmlns="${NS_ROOM}">💩</reaction></message>`);
  deliver(`<message xmlns="jabber:client" from="team@conference.localhost/ann" type="chat" id="p1"><body>psst</body></message>`);
  deliver(`<message xmlns="jabber:client" from="elsewhere@conference.localhost/ann" type="chat"><body>not this room</body></message>`);
  deliver(`<message xmlns="jabber:client" from="team@conference.localhost/ann" type="error" id="id2"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`);
  deliver(`<message xmlns="jabber:client" from="team@conference.localhost/ann" type="error" id="unknown"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`);
  assert.deepEqual(events, [
    ['reaction', 'ann', '🎉'],
    ['private', { id: 'p1', nick: 'ann', body: 'psst', self: false }],
    ['sendFailed', 'id2', 'item-not-found'],
  ]);
});

test('RoomExtras follows requests from moderators only, and refuses to send outside the room', () => {
  const { room, rx, events, deliver } = setup();
  const req = (from, action) => deliver(`<message xmlns="jabber:client" from="team@conference.localhost/${from}" type="chat"><request xmlns="${NS_ROOM}" action="${action}"/></message>`);
  req('mod', 'mute');
  req('ann', 'mute');
  req('mod', 'explode');
  req('nobody', 'lower-hand');
  assert.deepEqual(events, [['request', 'mod', 'mute']]);
  room.state = 'out';
  assert.throws(() => rx.sendPrivate('ann', 'x'), /not in the room/);
});

test('the debug trace keeps no password, token or SASL secret', () => {
  const cases = [
    ['<presence><x xmlns="http://jabber.org/protocol/muc"><password>open sesame</password></x></presence>', 'open sesame'],
    ['<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGFsaWNlAHNlY3JldA==</auth>', 'AGFsaWNl'],
    ['<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">Yz1iaXdzLHI9</response>', 'Yz1i'],
    ['<service host="h" type="turn" username="1:a" password="s3cr3t"/>', 's3cr3t'],
    ["<service host='h' type='turn' password='s3cr3t'/>", 's3cr3t'],
    ['<iq><token xmlns="urn:x">eyJhbGciOi</token></iq>', 'eyJhbGciOi'],
    ['wss://h/xmpp-websocket?room=a&token=eyJabc&x=1', 'eyJabc'],
  ];
  for (const [xml, secret] of cases) {
    const out = redact(xml);
    assert.ok(!out.includes(secret), `${secret} left in ${out}`);
    assert.ok(out.includes('[redacted]'), out);
  }
  assert.equal(redact('<message><body>my password is fine</body></message>'), '<message><body>my password is fine</body></message>');
  const r = new DebugRecorder();
  r.addTrace('out', cases[0][0]);
  r.addStats([{ type: 'inbound-rtp', id: 'a' }, { type: 'codec', id: 'c' }], 1000);
  r.addStats([{ type: 'outbound-rtp', id: 'b' }], 1000 + 6 * 60_000);
  const file = r.build({ userAgent: 'ua', browser: 'b', room: 'r', candidates: null, status: {} });
  assert.equal(file.stats.length, 1, 'statistics older than five minutes are kept');
  assert.deepEqual(file.stats[0].reports.map((s) => s.type), ['outbound-rtp']);
  assert.ok(!JSON.stringify(file).includes('open sesame'));
  assert.equal(browserName('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'), 'Firefox 128.0');
  assert.equal(browserName('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36'), 'Chrome 131.0.0.0');
});

test('chat links: only http(s), trailing punctuation outside, the rest plain text', () => {
  assert.deepEqual(splitLinks('see https://example.org/a?b=1. and www.x.org!'), [
    { text: 'see ' }, { text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' }, { text: '. and ' },
    { text: 'www.x.org', href: 'https://www.x.org/' }, { text: '!' },
  ]);
  assert.deepEqual(splitLinks('javascript:alert(1) <a href="https://x">'), [{ text: 'javascript:alert(1) <a href="' }, { text: 'https://x', href: 'https://x/' }, { text: '">' }]);
  assert.deepEqual(splitLinks('no links'), [{ text: 'no links' }]);
});

test('room names: generated ones are readable and vary; links to this site give their room', () => {
  let i = 0;
  const seq = [0, 0.5, 0.99];
  assert.equal(generateRoomName(() => seq[i++ % 3]), 'amber-meadow-whistles');
  const names = new Set(Array.from({ length: 50 }, () => generateRoomName()));
  assert.ok(names.size > 40, `only ${names.size} different names in 50`);
  for (const n of names) assert.match(n, /^[a-z]+-[a-z]+-[a-z]+$/);
  assert.equal(roomFromInput('  Weekly Sync ', 'https://meet.example'), 'Weekly Sync');
  assert.equal(roomFromInput('https://meet.example/team-a?x=1', 'https://meet.example'), 'team-a');
  assert.equal(roomFromInput('https://evil.example/team-a', 'https://meet.example'), '');
  assert.equal(roomFromInput('!!!', 'https://meet.example'), '');
});

test("moderator controls show only where the room's permissions grant them", () => {
  const all = ['mute_others', 'ask_unmute', 'kick', 'grant_roles', 'end_meeting', 'admit_lobby'];
  const me = { ...newMember('me', 'Me', true), role: 'moderator', affiliation: 'owner', permissions: all };
  const ann = newMember('ann', 'Ann', false);
  assert.deepEqual(canModerate(me, ann), { mute: true, askUnmute: false, kick: true, promote: true, lowerHand: false });
  ann.state = { ...ann.state, hand: 3, audio: 'muted' };
  assert.deepEqual(canModerate(me, ann), { mute: false, askUnmute: true, kick: true, promote: true, lowerHand: true });
  // Muted at the server while its client still says on: ask, never mute again.
  const bo = { ...newMember('bo', 'Bo', false), muted: ['audio'] };
  assert.deepEqual(canModerate(me, bo), { mute: false, askUnmute: true, kick: true, promote: true, lowerHand: false });
  const otherMod = { ...newMember('m2', 'M2', false), role: 'moderator' };
  assert.equal(canModerate(me, otherMod).promote, false, 'already a moderator');
  const admin = { ...newMember('ad', 'Ad', false), role: 'moderator', affiliation: 'admin' };
  assert.equal(canModerate(me, admin).kick, false, 'an admin cannot be kicked');
  // Each control follows its own permission.
  const only = (p) => canModerate({ ...me, permissions: [p] }, newMember('cy', 'Cy', false));
  assert.deepEqual(only('mute_others'), { mute: true, askUnmute: false, kick: false, promote: false, lowerHand: false });
  assert.deepEqual(only('kick'), { mute: false, askUnmute: false, kick: true, promote: false, lowerHand: false });
  assert.deepEqual(only('grant_roles'), { mute: false, askUnmute: false, kick: false, promote: true, lowerHand: false });
  const plain = { ...newMember('pat', 'Pat', true), permissions: ['join', 'publish_audio', 'chat'] };
  assert.deepEqual(canModerate(plain, ann), { mute: false, askUnmute: false, kick: false, promote: false, lowerHand: false });
  assert.deepEqual(canModerate(me, me), { mute: false, askUnmute: false, kick: false, promote: false, lowerHand: false });
});

test('camera and screen are told apart by source; quality grades loss and delay', () => {
  const t = (source, id) => ({ source, kind: 'video', track: { id } });
  assert.deepEqual(splitVideos([t('camera', 'c'), t('screen', 's')]), { camera: t('camera', 'c'), screen: t('screen', 's') });
  assert.deepEqual(splitVideos([t('screen', 's')]), { camera: null, screen: t('screen', 's') });
  assert.deepEqual(splitVideos([]), { camera: null, screen: null });
  assert.equal(quality(0, 0.05), 'good');
  assert.equal(quality(0.05, 0.05), 'fair');
  assert.equal(quality(0, 0.3), 'fair');
  assert.equal(quality(0.2, null), 'poor');
  assert.equal(quality(0, 0.6), 'poor');
});

test('tile view picks the columns that make tiles largest', async () => {
  const { bestColumns } = await import('../static/ui/tiles.js');
  assert.equal(bestColumns(3, 374, 680), 1, 'a phone held upright stacks three tiles');
  assert.equal(bestColumns(3, 1264, 660), 2);
  assert.equal(bestColumns(1, 1264, 660), 1);
  assert.equal(bestColumns(9, 1264, 660), 3);
  assert.equal(bestColumns(16, 1900, 960), 4);
});
