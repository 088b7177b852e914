// Issue 4, "the one port serves HTTPS, WebSocket, ICE-TCP and TURN at once
// under load". With UDP blocked between the client namespaces and the
// server (lib/netns.js), a Chromium participant on ICE-TCP and a Firefox one
// relayed over TURN/TCP (?ice=relay&turn=tcp) share a call on parley's one
// TLS port, while this process, in rounds, hits the same port with
// concurrent HTTPS fetches, XMPP logins over secure WebSocket (SASL
// ANONYMOUS, bind) and TURN allocations over TCP and over TLS (allocate with
// TURN REST credentials, then delete). Every request of every round must
// succeed, and media must flow both ways in every round.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws'; // puppeteer-core's own dependency
import { sleep, getTLS } from '../lib/parley.js';
import { openWorld, DOMAIN } from '../lib/netns.js';
import { join, mesh, waitForMedia, sampleAll, stalled, closeAll, diagnose, selectedPair, waitUntil } from '../lib/browsers.js';

const TURN_SECRET = 'firewall-load-test-secret';
const ROUNDS = 5;
const ROUND_MS = 3000;
const PER_ROUND = { https: 100, xmpp: 20, turnTCP: 10, turnTLS: 10 };

const world = await openWorld({ clients: 2, args: ['--turn-secret', TURN_SECRET] });
const { parley } = world;
const people = [];
after(async () => {
  await closeAll(people);
  await world.close();
});

test('HTTPS, WebSocket, ICE-TCP and TURN on the one port at once, under load', async () => {
  for (const c of world.clients) c.block('udp');
  // turn=udp: cr's only TURN server is one UDP cannot reach, so it must use ICE-TCP.
  people.push(await join(parley.base, 'load', 'cr', 'chromium', { netns: world.clients[0], insecureCerts: true, query: 'turn=udp' }));
  people.push(await join(parley.base, 'load', 'ff', 'firefox', { netns: world.clients[1], insecureCerts: true, query: 'ice=relay&turn=tcp' }));
  const expected = mesh(['cr', 'ff']);
  await waitForMedia(people, expected, 90_000);
  const cr = await waitUntil(() => selectedPair(people[0]), 10_000, () => 'cr has no selected pair');
  const ff = await waitUntil(() => selectedPair(people[1]), 10_000, () => 'ff has no selected pair');
  assert.equal(cr.localProtocol, 'tcp', `cr is not on ICE-TCP: ${JSON.stringify(cr)}`);
  assert.equal(cr.remotePort, parley.port, `cr is not on the one port: ${JSON.stringify(cr)}`);
  assert.equal(ff.localType, 'relay', `ff is not relayed: ${JSON.stringify(ff)}`);
  assert.equal(ff.relayProtocol, 'tcp', `ff is not on TURN/TCP: ${JSON.stringify(ff)}`);

  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = await sampleAll(people);
    const started = performance.now();
    const results = await Promise.all([
      ...times(PER_ROUND.https, (i) => timed('https', () => httpsFetch(i))),
      ...times(PER_ROUND.xmpp, () => timed('xmpp', xmppLogin)),
      ...times(PER_ROUND.turnTCP, (i) => timed('turn-tcp', () => turnAllocate('tcp', `r${r}t${i}`))),
      ...times(PER_ROUND.turnTLS, (i) => timed('turn-tls', () => turnAllocate('tls', `r${r}s${i}`))),
    ]);
    await sleep(Math.max(0, ROUND_MS - (performance.now() - started)));
    const bad = stalled(before, await sampleAll(people), expected);
    const failed = results.filter((x) => x.error).map((x) => `${x.kind}: ${x.error}`);
    assert.deepEqual(failed, [], `round ${r}: requests failed\nparley log:\n${parley.logTail(20)}`);
    assert.deepEqual(bad, [], `round ${r}: media stalled under load:\n${bad.join('\n')}\n${await diagnose(people)}`);
    rounds.push(summarize(results));
  }
  console.log(JSON.stringify({ measure: 'one-port-load', perRound: PER_ROUND, roundMs: ROUND_MS, maxMsByKind: mergeMax(rounds) }));
});

/** @template T @param {number} n @param {(i: number) => T} f */
function times(n, f) {
  return Array.from({ length: n }, (_, i) => f(i));
}

/** timed runs one request and never throws: {kind, ms, error}. */
async function timed(kind, f) {
  const t0 = performance.now();
  try {
    await f();
    return { kind, ms: performance.now() - t0, error: '' };
  } catch (e) {
    return { kind, ms: performance.now() - t0, error: e.message };
  }
}

function summarize(results) {
  const max = {};
  for (const r of results) max[r.kind] = Math.max(max[r.kind] ?? 0, Math.round(r.ms));
  return max;
}

function mergeMax(rounds) {
  const out = {};
  for (const m of rounds) for (const [k, v] of Object.entries(m)) out[k] = Math.max(out[k] ?? 0, v);
  return out;
}

/** httpsFetch gets the web client's page or /health, verifying parley's certificate. */
async function httpsFetch(i) {
  const url = i % 2 ? `${parley.base}/health` : `${parley.base}/load`;
  const { status, body } = await getTLS(url, world.cert.pem);
  if (status !== 200 || body.length === 0) throw new Error(`${url}: status ${status}, ${body.length} bytes`);
}

/**
 * xmppLogin opens XMPP over secure WebSocket (RFC 7395), logs in with SASL
 * ANONYMOUS, binds a resource and closes.
 */
function xmppLogin() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${parley.base.replace('https', 'wss')}/xmpp-websocket`, 'xmpp', { ca: world.cert.pem });
    const open = `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="${DOMAIN}" version="1.0"/>`;
    let step = 'features';
    const timer = setTimeout(() => fail(new Error(`no answer in 10 s (at ${step})`)), 10_000);
    const fail = (e) => {
      clearTimeout(timer);
      ws.terminate();
      reject(e);
    };
    ws.on('error', fail);
    ws.on('open', () => ws.send(open));
    ws.on('message', (data) => {
      const m = String(data);
      if (/<failure|<stream:error|<error/.test(m)) return fail(new Error(`at ${step}: ${m.slice(0, 300)}`));
      if (step === 'features' && /ANONYMOUS/.test(m)) {
        step = 'auth';
        ws.send('<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="ANONYMOUS"/>');
      } else if (step === 'auth' && /<success/.test(m)) {
        step = 'bind-features';
        ws.send(open);
      } else if (step === 'bind-features' && /urn:ietf:params:xml:ns:xmpp-bind/.test(m)) {
        step = 'bind';
        ws.send('<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></iq>');
      } else if (step === 'bind' && /type=["']result["']/.test(m) && /<jid>/.test(m)) {
        clearTimeout(timer);
        ws.send('<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>');
        ws.close();
        resolve();
      }
    });
  });
}

// --- a minimal TURN client (RFC 5766 Allocate and Refresh, RFC 5389 long-term credentials)

const COOKIE = 0x2112a442;
const ATTR = { USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009, LIFETIME: 0x000d, REALM: 0x0014, NONCE: 0x0015, XOR_RELAYED_ADDRESS: 0x0016, REQUESTED_TRANSPORT: 0x0019 };

/**
 * stunMessage encodes a request; with key, MESSAGE-INTEGRITY is appended.
 * @param {number} type
 * @param {[number, Buffer][]} attrs
 * @param {Buffer} [key]
 */
function stunMessage(type, attrs, key) {
  const body = [];
  for (const [t, v] of attrs) {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(t, 0);
    h.writeUInt16BE(v.length, 2);
    body.push(h, v, Buffer.alloc((4 - (v.length % 4)) % 4));
  }
  let payload = Buffer.concat(body);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt32BE(COOKIE, 4);
  crypto.randomFillSync(header, 8, 12);
  if (!key) {
    header.writeUInt16BE(payload.length, 2);
    return Buffer.concat([header, payload]);
  }
  header.writeUInt16BE(payload.length + 24, 2); // the length covers MESSAGE-INTEGRITY
  const mac = crypto.createHmac('sha1', key).update(Buffer.concat([header, payload])).digest();
  const mi = Buffer.alloc(4);
  mi.writeUInt16BE(ATTR.MESSAGE_INTEGRITY, 0);
  mi.writeUInt16BE(20, 2);
  payload = Buffer.concat([payload, mi, mac]);
  return Buffer.concat([header, payload]);
}

/** parseStun decodes a whole message: {type, attrs: Map<type, Buffer>}. */
function parseStun(buf) {
  const attrs = new Map();
  for (let o = 20; o + 4 <= buf.length;) {
    const t = buf.readUInt16BE(o);
    const l = buf.readUInt16BE(o + 2);
    attrs.set(t, buf.subarray(o + 4, o + 4 + l));
    o += 4 + l + ((4 - (l % 4)) % 4);
  }
  return { type: buf.readUInt16BE(0), attrs };
}

/** stunStream yields whole STUN messages read from a byte stream (TURN over TCP/TLS). */
function stunReader(sock) {
  let buf = Buffer.alloc(0);
  const waiting = [];
  let ended = null;
  const pump = () => {
    while (waiting.length && buf.length >= 20 && buf.length >= 20 + buf.readUInt16BE(2)) {
      const n = 20 + buf.readUInt16BE(2);
      waiting.shift().resolve(parseStun(buf.subarray(0, n)));
      buf = buf.subarray(n);
    }
    if (ended) for (const w of waiting.splice(0)) w.reject(ended);
  };
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    pump();
  });
  sock.on('error', (e) => { ended = e; pump(); });
  sock.on('close', () => { ended ??= new Error('connection closed'); pump(); });
  return () => new Promise((resolve, reject) => {
    waiting.push({ resolve, reject });
    pump();
  });
}

function errorCode(msg) {
  const v = msg.attrs.get(ATTR.ERROR_CODE);
  return v ? v[2] * 100 + v[3] : 0;
}

/**
 * turnAllocate allocates a UDP relay over TURN/TCP or TURN/TLS on the one
 * port with TURN REST credentials (parley's secret), checks the relayed
 * address, and deletes the allocation (Refresh, LIFETIME 0).
 * @param {'tcp'|'tls'} transport
 * @param {string} user
 */
async function turnAllocate(transport, user) {
  const sock = transport === 'tls'
    ? tls.connect({ host: parley.host, port: parley.port, servername: DOMAIN, ca: world.cert.pem, ALPNProtocols: ['stun.turn'] })
    : net.connect({ host: parley.host, port: parley.port });
  const timer = setTimeout(() => sock.destroy(new Error('no answer in 10 s')), 10_000);
  try {
    const next = stunReader(sock);
    const transportUDP = Buffer.from([17, 0, 0, 0]);
    sock.write(stunMessage(0x0003, [[ATTR.REQUESTED_TRANSPORT, transportUDP]]));
    const challenge = await next();
    if (errorCode(challenge) !== 401) throw new Error(`Allocate without credentials: type ${challenge.type.toString(16)}, error ${errorCode(challenge)}`);
    const realm = challenge.attrs.get(ATTR.REALM);
    const nonce = challenge.attrs.get(ATTR.NONCE);
    const username = `${Math.floor(Date.now() / 1000) + 600}:${user}`;
    const password = crypto.createHmac('sha1', TURN_SECRET).update(username).digest('base64');
    const key = crypto.createHash('md5').update(`${username}:${realm}:${password}`).digest();
    const auth = [[ATTR.USERNAME, Buffer.from(username)], [ATTR.REALM, realm], [ATTR.NONCE, nonce]];
    sock.write(stunMessage(0x0003, [[ATTR.REQUESTED_TRANSPORT, transportUDP], ...auth], key));
    const allocated = await next();
    if (allocated.type !== 0x0103 || !allocated.attrs.get(ATTR.XOR_RELAYED_ADDRESS)) {
      throw new Error(`Allocate: type ${allocated.type.toString(16)}, error ${errorCode(allocated)}`);
    }
    sock.write(stunMessage(0x0004, [[ATTR.LIFETIME, Buffer.alloc(4)], ...auth], key));
    const refreshed = await next();
    if (refreshed.type !== 0x0104) throw new Error(`Refresh (delete): type ${refreshed.type.toString(16)}, error ${errorCode(refreshed)}`);
  } finally {
    clearTimeout(timer);
    sock.destroy();
  }
}
