// Tests of web/static/lib/xmpp.js against a scripted server (fakes.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XmppClient, StanzaError, TimeoutError, DisconnectedError, AuthError, JINGLE_FEATURES, iq, browserName } from '../static/lib/xmpp.js';
import { x, children, attr, parse } from '../static/lib/xml.js';
import { FakeServer, FakeClock, settle } from './fakes.mjs';

function setup(opts = {}) {
  const server = new FakeServer();
  const clock = new FakeClock();
  const client = new XmppClient({ url: 'ws://test/xmpp-websocket', domain: 'localhost', WebSocket: server.WebSocket, clock, pingIntervalMs: 0, ...opts });
  const events = [];
  for (const e of ['online', 'offline', 'reconnecting', 'failed']) client.on(e, (...a) => events.push([e, ...a]));
  return { server, clock, client, events };
}

/** answer makes the server reply to the next stanza the client sends. */
function nextStanza(server) {
  return new Promise((resolve) => {
    server.onStanza = (el, ws) => {
      server.onStanza = null;
      resolve({ el, ws });
    };
  });
}

test('connect logs in as a guest and binds', async () => {
  const { client, events, server } = setup();
  const jid = await client.connect();
  assert.equal(jid, 'guest1@localhost/r1');
  assert.equal(client.state, 'online');
  assert.deepEqual(events, [['online', jid, false]]);
  assert.match(server.last.sent[1], /^<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="ANONYMOUS">=<\/auth>$/);
});

test('a refused domain is learned from the stream header when allowed', async () => {
  const { client, server } = setup({ domain: '127.0.0.1', learnDomain: true });
  await client.connect();
  assert.equal(client.domain, 'localhost');
  assert.equal(server.sockets.length, 2);

  const strict = setup({ domain: '127.0.0.1' });
  await assert.rejects(strict.client.connect(), /host-unknown/);
});

test('a refused login is an AuthError and is not retried', async () => {
  const { client, server, clock } = setup();
  server.failAuth = true;
  await assert.rejects(client.connect(), (err) => err instanceof AuthError && err.condition === 'not-authorized');
  await clock.advance(60_000);
  assert.equal(server.sockets.length, 1);
});

test('requests resolve with results and reject with errors, timeouts and spoofs ignored', async () => {
  const { client, server, clock } = setup();
  await client.connect();

  let got = nextStanza(server);
  const ok = client.request(iq('get', 'room@conference.localhost', x('query', { xmlns: 'urn:test' })));
  let { el, ws } = await got;
  // An answer from someone else with the same id must not count.
  ws.deliver(`<iq xmlns="jabber:client" type="result" id="${el.attrs.id}" from="mallory@localhost/x"/>`);
  await settle();
  ws.deliver(`<iq xmlns="jabber:client" type="result" id="${el.attrs.id}" from="room@conference.localhost"><query xmlns="urn:test">yes</query></iq>`);
  const res = await ok;
  assert.equal(children(res)[0].text, 'yes');

  got = nextStanza(server);
  const refused = client.request(iq('set', 'room@conference.localhost', x('query', { xmlns: 'urn:test' })));
  ({ el, ws } = await got);
  ws.deliver(`<iq xmlns="jabber:client" type="error" id="${el.attrs.id}" from="room@conference.localhost"><error type="auth"><forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">no way</text></error></iq>`);
  await assert.rejects(refused, (err) => err instanceof StanzaError && err.condition === 'forbidden' && err.type === 'auth' && err.text === 'no way');

  const slow = client.request(iq('get', 'localhost', x('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
  await clock.advance(4999);
  let settled = false;
  slow.catch(() => {}).finally(() => (settled = true));
  await settle();
  assert.equal(settled, false, 'timed out early');
  await clock.advance(1);
  await assert.rejects(slow, TimeoutError);
});

test('incoming requests: disco#info lists the Jingle features, ping answers, unknown ones are refused', async () => {
  const { client, server } = setup();
  await client.connect();
  const ws = server.last;
  const replies = [];
  server.onStanza = (el) => replies.push(el);
  ws.deliver('<iq xmlns="jabber:client" type="get" id="d1" from="focus.localhost"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>');
  ws.deliver('<iq xmlns="jabber:client" type="get" id="p1" from="localhost"><ping xmlns="urn:xmpp:ping"/></iq>');
  ws.deliver('<iq xmlns="jabber:client" type="set" id="u1" from="someone@localhost/x"><thing xmlns="urn:unknown"/></iq>');
  ws.deliver('<iq xmlns="jabber:client" type="set" id="d2" from="focus.localhost"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>');
  client.handleIq('urn:test', 'boom', () => {
    throw new StanzaError('not-acceptable', 'modify', 'bad thing');
  });
  ws.deliver('<iq xmlns="jabber:client" type="set" id="b1" from="someone@localhost/x"><boom xmlns="urn:test"/></iq>');
  await settle();
  const byId = Object.fromEntries(replies.map((r) => [r.attrs.id, r]));
  const disco = byId.d1;
  assert.equal(disco.attrs.type, 'result');
  assert.equal(disco.attrs.to, 'focus.localhost');
  const features = children(children(disco)[0], 'feature').map((f) => attr(f, 'var'));
  for (const f of JINGLE_FEATURES) assert.ok(features.includes(f), `missing ${f}`);
  assert.equal(byId.p1.attrs.type, 'result');
  const cond = (r) => children(children(r, 'error')[0]).map((c) => c.name);
  assert.deepEqual([byId.u1.attrs.type, cond(byId.u1)], ['error', ['service-unavailable']]);
  assert.deepEqual([byId.d2.attrs.type, cond(byId.d2)], ['error', ['bad-request']]);
  assert.deepEqual([byId.b1.attrs.type, cond(byId.b1)], ['error', ['not-acceptable', 'text']]);
});

test('our capabilities (XEP-0115) hash our disco#info answer, which the node#ver query gets too', async () => {
  const { client, server } = setup();
  await client.connect();
  const c = await client.caps();
  assert.ok(c);
  assert.deepEqual([c.ns, attr(c, 'hash'), attr(c, 'node')], ['http://jabber.org/protocol/caps', 'sha-1', 'https://parley.dev/web']);
  const ws = server.last;
  const replies = [];
  server.onStanza = (el) => replies.push(el);
  const node = `https://parley.dev/web#${attr(c, 'ver')}`;
  ws.deliver(`<iq xmlns="jabber:client" type="get" id="n1" from="focus.localhost"><query xmlns="http://jabber.org/protocol/disco#info" node="${node}"/></iq>`);
  ws.deliver('<iq xmlns="jabber:client" type="get" id="n2" from="focus.localhost"><query xmlns="http://jabber.org/protocol/disco#info" node="urn:other"/></iq>');
  await settle();
  const [answer, other] = ['n1', 'n2'].map((id) => replies.find((r) => r.attrs.id === id));
  assert.equal(other.attrs.type, 'error');
  const q = children(answer)[0];
  assert.equal(attr(q, 'node'), node);
  // XEP-0115 §5.1, as the focus computes it (internal/focus/caps.go).
  const ids = children(q, 'identity').map((i) => `${attr(i, 'category')}/${attr(i, 'type')}//${attr(i, 'name')}`).sort();
  const feats = children(q, 'feature').map((f) => attr(f, 'var')).sort();
  assert.ok(feats.includes('http://jabber.org/protocol/caps'));
  const { createHash } = await import('node:crypto');
  const want = createHash('sha1').update([...ids, ...feats].map((v) => `${v}<`).join('')).digest('base64');
  assert.equal(attr(c, 'ver'), want);
});

test('a dropped connection fails pending requests and reconnects with growing, capped backoff', async () => {
  const { client, server, clock, events } = setup({ backoffInitialMs: 1000, backoffMaxMs: 4000 });
  await client.connect();
  const pending = client.request(iq('get', 'localhost', x('ping', { xmlns: 'urn:xmpp:ping' })));
  server.refuseConnections = true;
  server.last.serverClose(1006);
  await assert.rejects(pending, DisconnectedError);
  await settle();
  assert.equal(client.state, 'reconnecting');
  const delays = () => events.filter((e) => e[0] === 'reconnecting').map((e) => e[1].delayMs);
  assert.deepEqual(delays(), [1000]);
  assert.throws(() => client.send(x('presence', { xmlns: 'jabber:client' })), DisconnectedError);
  for (let i = 0; i < 4; i++) await clock.advance(clock.pending()[0]);
  assert.deepEqual(delays(), [1000, 2000, 4000, 4000, 4000]);
  server.refuseConnections = false;
  await clock.advance(4000);
  await settle();
  assert.equal(client.state, 'online');
  assert.deepEqual(events.filter((e) => e[0] === 'online').map((e) => e[2]), [false, true]);
  assert.equal(client.jid, `guest2@localhost/r2`);
});

test('unreadable XML from the server drops the connection; close() ends it for good', async () => {
  const { client, server, clock, events } = setup();
  await client.connect();
  server.last.deliver('<message xmlns="jabber:client"><body>unterminated');
  await settle();
  assert.equal(events.filter((e) => e[0] === 'offline').length, 1);
  await clock.advance(2000);
  assert.equal(client.state, 'online');
  await client.close();
  assert.equal(parse(server.last.sent.at(-1)).name, 'close');
  await clock.advance(60_000);
  assert.equal(client.state, 'closed');
  assert.equal(server.sockets.length, 2);
});

test('a quiet connection is pinged and dropped when the server stops answering', async () => {
  const { client, server, clock, events } = setup({ pingIntervalMs: 10_000, timeoutMs: 3000 });
  await client.connect();
  const pings = [];
  server.onStanza = (el) => pings.push(el);
  await clock.advance(10_000);
  assert.equal(pings.length, 1, 'no ping after 10 s of silence');
  assert.equal(children(pings[0])[0].name, 'ping');
  await clock.advance(3000);
  assert.deepEqual(events.filter((e) => e[0] === 'offline').map((e) => e[1]), ['the server stopped answering']);
});

test('browserName names the browser for the server logs', () => {
  assert.equal(browserName('Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0'), 'Firefox 140');
  assert.equal(browserName('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36'), 'Chrome 156');
  assert.equal(browserName('Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0'), 'Edge 130');
  assert.equal(browserName('Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15'), 'Safari 18');
  assert.equal(browserName(''), '');
});
