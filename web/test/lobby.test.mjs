// Tests of the lobby: the newcomer's side (muc.js Room) and the
// moderator's (lobby.js), and ending a meeting, against a scripted room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XmppClient } from '../static/lib/xmpp.js';
import { Room, JoinError, NS } from '../static/lib/muc.js';
import { Lobby, endMeeting, parseKnock, setRoomSwitches, getRoomSwitches } from '../static/lib/lobby.js';
import { parse, child, textOf } from '../static/lib/xml.js';
import { FakeServer, FakeClock, settle, until } from './fakes.mjs';

const ROOM = 'arena@conference.localhost';

async function online() {
  const server = new FakeServer();
  const clock = new FakeClock();
  const client = new XmppClient({ url: 'ws://test', domain: 'localhost', WebSocket: server.WebSocket, clock, pingIntervalMs: 0, timeoutMs: 5000 });
  await client.connect();
  return { server, clock, client };
}

const waiting = `<message xmlns="jabber:client" type="normal" from="${ROOM}"><waiting xmlns="${NS.lobby}" id="k1" nick="gus"/></message>`;

test('a knocking join waits past its timeout, then enters when admitted', async () => {
  const { server, clock, client } = await online();
  let joinPresence = null;
  server.onStanza = (el, ws) => {
    if (el.name === 'presence') {
      joinPresence = { el, ws };
      ws.deliver(waiting);
    }
  };
  const room = new Room({ client, room: ROOM, nick: 'gus' });
  const waits = [];
  room.on('waiting', (w) => waits.push(w));
  let settled = null;
  room.join().then((o) => (settled = o), (e) => (settled = e));
  await until(() => waits.length > 0);
  assert.deepEqual(waits, [{ id: 'k1' }]);
  await clock.advance(60000); // far past timeoutMs: a lobby has no timeout
  assert.equal(settled, null);
  joinPresence.ws.deliver(`<presence xmlns="jabber:client" from="${ROOM}/gus"><identity xmlns="${NS.identity}" kind="token" id="u-1" name="Gus Grant"/><x xmlns="${NS.user}"><item affiliation="none" role="participant"/><status code="110"/></x></presence>`);
  await settle();
  assert.equal(settled.nick, 'gus');
  assert.equal(settled.displayName, 'Gus Grant', 'the token\'s verified name is shown');
  assert.deepEqual(settled.identity, { kind: 'token', id: 'u-1', name: 'Gus Grant', avatar: '', moderator: false });
});

test('a denied knock rejects the join with not-allowed and the moderator\'s reason', async () => {
  const { server, client } = await online();
  server.onStanza = (el, ws) => {
    if (el.name !== 'presence') return;
    ws.deliver(waiting);
    ws.deliver(`<presence xmlns="jabber:client" type="error" from="${ROOM}/gus"><error type="cancel"><not-allowed xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">the match is full</text></error><denied xmlns="${NS.lobby}" id="k1"/></presence>`);
  };
  const err = await new Room({ client, room: ROOM, nick: 'gus' }).join().then(() => null, (e) => e);
  assert.ok(err instanceof JoinError);
  assert.equal(err.condition, 'not-allowed');
  assert.match(err.message, /the match is full/);
});

test('a moderator sees knocks with names, admits and denies', async () => {
  const { server, client } = await online();
  const sent = [];
  server.onStanza = (el, ws) => {
    sent.push(el);
    if (el.name === 'iq') ws.deliver(`<iq xmlns="jabber:client" type="result" id="${el.attrs.id}" from="${ROOM}"/>`);
  };
  const lobby = new Lobby(client, ROOM);
  const events = [];
  lobby.on('knock', (k) => events.push(['knock', k]));
  lobby.on('decided', (d) => events.push(['decided', d]));
  const ws = server.last;
  ws.deliver(`<message xmlns="jabber:client" type="normal" from="${ROOM}"><knock xmlns="${NS.lobby}" id="k1" nick="gus" name="Gus Grant" jid="tok-1@localhost/r" kind="token" since="2026-12-07T03:04:05Z"/></message>`);
  ws.deliver(`<message xmlns="jabber:client" type="normal" from="${ROOM}"><knock xmlns="${NS.lobby}" id="k2" nick="eve" name="eve" jid="guest-2@localhost/r" kind="guest" since="2026-12-07T03:04:06Z"/></message>`);
  ws.deliver(`<message xmlns="jabber:client" type="normal" from="other@conference.localhost"><knock xmlns="${NS.lobby}" id="k9" nick="x"/></message>`);
  await settle();
  assert.deepEqual([...lobby.knocks.keys()], ['k1', 'k2']);
  assert.equal(lobby.knocks.get('k1').name, 'Gus Grant');
  assert.equal(lobby.knocks.get('k1').since.toISOString(), '2026-12-07T03:04:05.000Z');
  await lobby.admit('k1');
  await lobby.deny('k2', 'not today');
  const [admit, deny] = sent.filter((e) => e.name === 'iq');
  assert.equal(admit.attrs.to, ROOM);
  assert.equal(admit.children[0].name, 'admit');
  assert.equal(admit.children[0].attrs.id, 'k1');
  assert.equal(deny.children[0].name, 'deny');
  assert.equal(textOf(child(deny.children[0], 'reason')), 'not today');
  ws.deliver(`<message xmlns="jabber:client" type="normal" from="${ROOM}"><decided xmlns="${NS.lobby}" id="k1" nick="gus" outcome="admitted" by="Host"/></message>`);
  await settle();
  assert.deepEqual([...lobby.knocks.keys()], ['k2']);
  assert.deepEqual(events.at(-1), ['decided', { id: 'k1', nick: 'gus', outcome: 'admitted', by: 'Host' }]);
  assert.equal(parseKnock(parse('<message xmlns="jabber:client"><body>hi</body></message>')), null);
  lobby.close();
});

test('ending the meeting: the request, and everyone told why', async () => {
  const { server, client } = await online();
  const iqs = [];
  server.onStanza = (el, ws) => {
    if (el.name === 'presence') {
      ws.deliver(`<presence xmlns="jabber:client" from="${ROOM}/me"><x xmlns="${NS.user}"><item affiliation="owner" role="moderator"/><status code="110"/></x></presence>`);
    } else if (el.name === 'iq') {
      iqs.push(el);
      ws.deliver(`<iq xmlns="jabber:client" type="result" id="${el.attrs.id}" from="${ROOM}"/>`);
      ws.deliver(`<presence xmlns="jabber:client" type="unavailable" from="${ROOM}/me"><x xmlns="${NS.user}"><item affiliation="none" role="none"/><destroy><reason>time is up</reason></destroy><status code="110"/></x><ended xmlns="${NS.room}" by="me"><reason>time is up</reason></ended></presence>`);
    }
  };
  const room = new Room({ client, room: ROOM, nick: 'me' });
  await room.join();
  const removed = new Promise((resolve) => room.on('removed', resolve));
  await endMeeting(client, ROOM, 'time is up');
  assert.equal(iqs[0].children[0].name, 'end');
  assert.equal(iqs[0].children[0].attrs.xmlns ?? iqs[0].children[0].ns, NS.room);
  assert.deepEqual(await removed, { kind: 'destroyed', text: 'time is up', ended: true, by: 'me' });
});

test('a meeting ended without a reason gives none, not the <destroy/> words meant for plain clients', async () => {
  const { server, client } = await online();
  server.onStanza = (el, ws) => {
    if (el.name !== 'presence') return;
    ws.deliver(`<presence xmlns="jabber:client" from="${ROOM}/me"><x xmlns="${NS.user}"><item affiliation="none" role="participant"/><status code="110"/></x></presence>`);
    ws.deliver(`<presence xmlns="jabber:client" type="unavailable" from="${ROOM}/me"><x xmlns="${NS.user}"><item affiliation="none" role="none"/><destroy><reason>the meeting has ended</reason></destroy><status code="110"/></x><ended xmlns="${NS.room}" by="Host"/></presence>`);
  };
  const room = new Room({ client, room: ROOM, nick: 'me' });
  const removed = new Promise((resolve) => room.on('removed', resolve));
  await room.join();
  assert.deepEqual(await removed, { kind: 'destroyed', text: '', ended: true, by: 'Host' });
});

test('setRoomSwitches submits the lobby and guest fields of the room form', async () => {
  const { server, client } = await online();
  const iqs = [];
  server.onStanza = (el, ws) => {
    iqs.push(el);
    ws.deliver(`<iq xmlns="jabber:client" type="result" id="${el.attrs.id}" from="${ROOM}"/>`);
  };
  await setRoomSwitches(client, ROOM, { lobby: true, guests: false });
  const fieldsOf = (st) => {
    const form = child(child(st, 'query', NS.owner), 'x', NS.data);
    return Object.fromEntries(form.children.filter((c) => c.name === 'field').map((f) => [f.attrs.var, textOf(child(f, 'value'))]));
  };
  assert.deepEqual(fieldsOf(iqs[0]), { FORM_TYPE: 'http://jabber.org/protocol/muc#roomconfig', 'parley#lobby': '1', 'parley#guests': '0' });
  await setRoomSwitches(client, ROOM, { lastN: 3 });
  assert.deepEqual(fieldsOf(iqs[1]), { FORM_TYPE: 'http://jabber.org/protocol/muc#roomconfig', 'parley#last-n': '3' });
  await setRoomSwitches(client, ROOM, { lastN: 0 });
  assert.deepEqual(fieldsOf(iqs[2]), { FORM_TYPE: 'http://jabber.org/protocol/muc#roomconfig', 'parley#last-n': '0' });
});

test('getRoomSwitches reads the lobby and guest fields of the room form', async () => {
  const { server, client } = await online();
  const iqs = [];
  const form = (lobby, guests, lastN) => `<iq xmlns="jabber:client" type="result" id="ID" from="${ROOM}"><query xmlns="${NS.owner}"><x xmlns="${NS.data}" type="form">`
    + `<field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/muc#roomconfig</value></field>`
    + `<field var="parley#lobby" type="boolean"><value>${lobby}</value></field>`
    + `<field var="parley#guests" type="boolean"><value>${guests}</value></field>`
    + (lastN === undefined ? '' : `<field var="parley#last-n" type="text-single"><value>${lastN}</value></field>`) + '</x></query></iq>';
  let answer = form('1', '0', '4');
  server.onStanza = (el, ws) => {
    iqs.push(el);
    ws.deliver(answer.replace('id="ID"', `id="${el.attrs.id}"`));
  };
  assert.deepEqual(await getRoomSwitches(client, ROOM), { lobby: true, guests: false, lastN: 4 });
  assert.equal(iqs[0].attrs.type, 'get');
  assert.ok(child(iqs[0], 'query', NS.owner));
  answer = form('false', 'true'); // a server without the field: no cap
  assert.deepEqual(await getRoomSwitches(client, ROOM), { lobby: false, guests: true, lastN: 0 });
  answer = form('false', 'true', 'many');
  assert.deepEqual(await getRoomSwitches(client, ROOM), { lobby: false, guests: true, lastN: 0 });
  server.onStanza = (el, ws) => ws.deliver(`<iq xmlns="jabber:client" type="error" id="${el.attrs.id}" from="${ROOM}"><error type="auth"><forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`);
  await assert.rejects(getRoomSwitches(client, ROOM), /forbidden/);
});
