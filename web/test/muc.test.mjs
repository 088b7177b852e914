// Tests of web/static/lib/muc.js against a scripted room (fakes.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XmppClient } from '../static/lib/xmpp.js';
import { Room, JoinError } from '../static/lib/muc.js';
import { children, attr } from '../static/lib/xml.js';
import { FakeServer, FakeClock, settle } from './fakes.mjs';

const ROOM = 'team@conference.localhost';
const presence = (nick, inner, type = '') =>
  `<presence xmlns="jabber:client" from="${ROOM}/${nick}"${type ? ` type="${type}"` : ''}><x xmlns="http://jabber.org/protocol/muc#user">${inner}</x></presence>`;

/**
 * A scripted room: others already inside, then our self-presence with the
 * given status codes; nicks in taken get a conflict.
 */
function scriptRoom(server, { others = [], codes = ['110'], taken = [] } = {}) {
  const seen = [];
  server.onStanza = (el, ws) => {
    seen.push(el);
    if (el.name === 'presence' && !el.attrs.type) {
      const nick = el.attrs.to.split('/')[1];
      if (taken.includes(nick)) {
        ws.deliver(`<presence xmlns="jabber:client" from="${ROOM}/${nick}" type="error"><error type="cancel"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>`);
        return;
      }
      for (const o of others) ws.deliver(presence(o, '<item affiliation="none" role="participant"/>').replace('<x ', `<nick xmlns="http://jabber.org/protocol/nick">${o.toUpperCase()}</nick><x `));
      ws.deliver(presence(nick, `<item affiliation="owner" role="moderator"/>${codes.map((c) => `<status code="${c}"/>`).join('')}`));
    } else if (el.name === 'presence' && el.attrs.type === 'unavailable') {
      ws.deliver(presence(el.attrs.to.split('/')[1], '<item affiliation="owner" role="none"/><status code="110"/>', 'unavailable'));
    } else if (el.name === 'iq') {
      ws.deliver(`<iq xmlns="jabber:client" type="result" id="${el.attrs.id}" from="${ROOM}"/>`);
    }
  };
  return seen;
}

async function setup(roomOpts) {
  const server = new FakeServer();
  const clock = new FakeClock();
  const client = new XmppClient({ url: 'ws://test', domain: 'localhost', WebSocket: server.WebSocket, clock, pingIntervalMs: 0 });
  await client.connect();
  const seen = scriptRoom(server, roomOpts);
  const room = new Room({ client, room: ROOM, nick: 'me', displayName: 'Me Myself' });
  const events = [];
  for (const e of ['joined', 'left', 'changed', 'message', 'removed', 'rejoined']) room.on(e, (...a) => events.push([e, ...a]));
  return { server, clock, client, room, seen, events };
}

test('creating a room makes it an instant room; others and self become occupants', async () => {
  const { room, seen, events } = await setup({ others: ['ann'], codes: ['110', '201'] });
  const self = await room.join();
  assert.equal(self.nick, 'me');
  assert.equal(self.role, 'moderator');
  const join = seen[0];
  assert.equal(join.attrs.to, `${ROOM}/me`);
  assert.deepEqual(children(join).map((k) => `${k.ns} ${k.name}`), ['http://jabber.org/protocol/muc x', 'http://jabber.org/protocol/nick nick', 'http://jabber.org/protocol/caps c']);
  const owner = seen[1];
  assert.equal(owner.attrs.type, 'set');
  const form = children(children(owner)[0])[0];
  assert.deepEqual([children(owner)[0].ns, form.ns, attr(form, 'type')], ['http://jabber.org/protocol/muc#owner', 'jabber:x:data', 'submit']);
  assert.deepEqual(events.map((e) => [e[0], e[1].nick]), [['joined', 'ann'], ['joined', 'me']]);
  assert.equal(room.occupants.get('ann').displayName, 'ANN');
});

test('joining an existing room sends no configuration', async () => {
  const { room, seen } = await setup({ others: ['ann'] });
  await room.join();
  assert.deepEqual(seen.map((s) => s.name), ['presence']);
});

test('a taken nick is retried with a suffix; other refusals are JoinErrors', async () => {
  const { room } = await setup({ taken: ['me', 'me (2)'] });
  const self = await room.join();
  assert.equal(self.nick, 'me (3)');

  const { server, client } = await setup();
  server.onStanza = (el, ws) => ws.deliver(`<presence xmlns="jabber:client" from="${el.attrs.to}" type="error"><error type="auth"><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>`);
  const locked = new Room({ client, room: ROOM, nick: 'me' });
  await assert.rejects(locked.join(), (err) => err instanceof JoinError && err.condition === 'not-authorized');
});

test('groupchat messages, departures and being kicked', async () => {
  const { room, server, events } = await setup({ others: ['ann', 'bob'] });
  await room.join();
  const ws = server.last;
  ws.deliver(`<message xmlns="jabber:client" type="groupchat" from="${ROOM}/ann" id="m1"><body>hi &lt;all&gt;</body></message>`);
  ws.deliver(`<message xmlns="jabber:client" type="groupchat" from="${ROOM}/bob"><body>old</body><delay xmlns="urn:xmpp:delay" stamp="2026-01-02T03:04:05Z"/></message>`);
  ws.deliver(`<message xmlns="jabber:client" type="chat" from="${ROOM}/bob"><body>private, not groupchat</body></message>`);
  ws.deliver(`<message xmlns="jabber:client" type="groupchat" from="other@conference.localhost/x"><body>another room</body></message>`);
  ws.deliver(presence('bob', '<item affiliation="none" role="none"/>', 'unavailable'));
  ws.deliver(presence('me', '<item affiliation="none" role="none"><reason>spam</reason></item><status code="110"/><status code="307"/>', 'unavailable'));
  await settle();
  const msgs = events.filter((e) => e[0] === 'message').map((e) => e[1]);
  assert.deepEqual(msgs.map((m) => [m.nick, m.body]), [['ann', 'hi <all>'], ['bob', 'old']]);
  assert.equal(msgs[1].delayed.toISOString(), '2026-01-02T03:04:05.000Z');
  const left = events.filter((e) => e[0] === 'left').map((e) => [e[1].nick, e[2].kind]);
  assert.deepEqual(left, [['bob', 'left'], ['me', 'kicked'], ['ann', 'disconnected']]);
  const removed = events.filter((e) => e[0] === 'removed');
  assert.deepEqual(removed.map((e) => [e[1].kind, e[1].text]), [['kicked', 'spam']]);
  assert.equal(room.occupants.size, 0);
  assert.throws(() => room.say('still here?'), /not in the room/);
});

test('after a reconnection the room is joined again by itself', async () => {
  const { room, server, clock, events } = await setup({ others: ['ann'] });
  await room.join();
  server.last.serverClose(1006);
  await settle();
  assert.deepEqual(events.filter((e) => e[0] === 'left').map((e) => [e[1].nick, e[2].kind]), [['ann', 'disconnected']]);
  await clock.advance(2000);
  await settle();
  assert.equal(events.filter((e) => e[0] === 'rejoined').length, 1);
  assert.deepEqual([...room.occupants.keys()].sort(), ['ann', 'me']);
  assert.equal(server.received.filter((s) => s.name === 'presence').length, 2);
});

test('leave sends unavailable presence and stops rejoining', async () => {
  const { room, server, clock, events } = await setup();
  await room.join();
  await room.leave();
  assert.equal(server.received.at(-1).attrs.type, 'unavailable');
  assert.deepEqual(events.filter((e) => e[0] === 'removed').map((e) => e[1].kind), ['left']);
  server.last.serverClose(1006);
  await clock.advance(5000);
  assert.equal(server.received.filter((s) => s.name === 'presence' && !s.attrs.type).length, 1);
});

test('after a reconnection, our nick held by our dead session is retried until the server drops it', async () => {
  const taken = [];
  const { room, server, clock, events } = await setup({ others: ['ann'], taken });
  await room.join();
  taken.push('me'); // the old session still holds "me"
  server.last.serverClose(1006);
  const tries = () => server.received.filter((s) => s.name === 'presence' && !s.attrs.type).map((s) => s.attrs.to.split('/')[1]);
  // Reconnected (after the backoff), the rejoin is refused, and refused again.
  for (let i = 0; i < 20 && tries().length < 3; i++) await clock.advance(250);
  assert.deepEqual(tries(), ['me', 'me', 'me']);
  assert.equal(events.filter((e) => e[0] === 'rejoined').length, 0);
  taken.length = 0; // the server closed the ghost
  await clock.advance(2000);
  assert.equal(events.filter((e) => e[0] === 'rejoined').length, 1);
  assert.equal(room.nick, 'me');
  assert.equal(room.state, 'in');
});

test('a nick that stays taken after a reconnection is given up for "nick (2)"', async () => {
  const taken = [];
  const { room, server, clock, events } = await setup({ taken });
  await room.join();
  taken.push('me');
  server.last.serverClose(1006);
  await clock.advance(250);
  for (let i = 0; i < 200 && room.state !== 'in'; i++) await clock.advance(250);
  assert.equal(events.filter((e) => e[0] === 'rejoined').length, 1);
  assert.equal(room.nick, 'me (2)');
  const tries = server.received.filter((s) => s.name === 'presence' && !s.attrs.type).map((s) => s.attrs.to.split('/')[1]);
  assert.deepEqual(tries, ['me', ...Array(12).fill('me'), 'me (2)']);
});

test('the room\'s <perm/>: roles, permissions and mutes; mute, unmute and requests to unmute', async () => {
  const { room, server, seen, events } = await setup({ others: ['ann'] });
  await room.join();
  const unmuteAsks = [];
  room.on('unmuteAsked', (media, by) => unmuteAsks.push([media, by]));
  const ws = server.last;
  ws.deliver(`<presence xmlns="jabber:client" from="${ROOM}/ann"><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant"/></x>`
    + '<perm xmlns="urn:parley:perm:0" role="guest" allow="join publish_audio chat" muted="audio video"/></presence>');
  ws.deliver(`<message xmlns="jabber:client" type="normal" from="${ROOM}"><unmute xmlns="urn:parley:perm:0" media="audio" by="boss"/></message>`);
  ws.deliver(`<message xmlns="jabber:client" type="normal" from="${ROOM}/ann"><unmute xmlns="urn:parley:perm:0" media="audio" by="ann"/></message>`);
  await settle();
  const ann = room.occupants.get('ann');
  assert.equal(ann.permRole, 'guest');
  assert.deepEqual(ann.permissions, ['join', 'publish_audio', 'chat']);
  assert.deepEqual(ann.muted, ['audio', 'video']);
  assert.ok(events.some((e) => e[0] === 'changed' && e[1].nick === 'ann' && e[1].muted.length === 2));
  assert.deepEqual(room.self.permissions, [], 'a room without <perm/> gives none');
  // Only the room itself asks, not an occupant.
  assert.deepEqual(unmuteAsks, [[['audio'], 'boss']]);

  await room.mute('ann', ['audio']);
  await room.unmute(['audio']);
  const reqs = seen.filter((s) => s.name === 'iq').map((s) => children(s)[0]);
  assert.deepEqual(reqs.slice(-2).map((q) => [q.name, q.ns, attr(q, 'nick'), attr(q, 'media')]),
    [['mute', 'urn:parley:perm:0', 'ann', 'audio'], ['unmute', 'urn:parley:perm:0', undefined, 'audio']]);
});
