// Tests of web/static/lib/extdisco.js: XEP-0215 services as RTCIceServer
// entries, against answers shaped like parley's (internal/xmpp/extdisco.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XmppClient } from '../static/lib/xmpp.js';
import { fetchServices, parseServices, toIceServers, refreshDelay, apartFromMedia } from '../static/lib/extdisco.js';
import { parse, children } from '../static/lib/xml.js';
import { FakeServer, FakeClock } from './fakes.mjs';

const EXPIRES = '2026-11-21T12:00:00Z';
const SERVICES = `<services xmlns="urn:xmpp:extdisco:2">
  <service type="stun" host="meet.example.org" port="443" transport="udp"/>
  <service type="turn" host="meet.example.org" port="443" transport="udp" restricted="1" username="1763726400:alice" password="p/w+=" expires="${EXPIRES}"/>
  <service type="turn" host="meet.example.org" port="443" transport="tcp" restricted="1" username="1763726400:alice" password="p/w+=" expires="${EXPIRES}"/>
  <service type="turns" host="2001:db8::1" port="443" transport="tcp" restricted="1" username="1763726400:alice" password="p/w+=" expires="${EXPIRES}"/>
  <service type="ftp" host="x" port="21"/>
  <service type="turn" port="443"/>
  <service type="turn" host="y" port="70000"/>
</services>`;

test('services become ICE servers with their credentials; unusable ones are left out', () => {
  const services = parseServices(parse(SERVICES));
  assert.equal(services.length, 4);
  assert.equal(services[1].expires, Date.parse(EXPIRES));
  assert.deepEqual(toIceServers(services), [
    { urls: 'stun:meet.example.org:443' },
    { urls: 'turn:meet.example.org:443?transport=udp', username: '1763726400:alice', credential: 'p/w+=' },
    { urls: 'turn:meet.example.org:443?transport=tcp', username: '1763726400:alice', credential: 'p/w+=' },
    { urls: 'turns:[2001:db8::1]:443?transport=tcp', username: '1763726400:alice', credential: 'p/w+=' },
  ]);
});

test('a TURN transport filter keeps only those relays and drops STUN', () => {
  const services = parseServices(parse(SERVICES));
  assert.deepEqual(toIceServers(services, ['tcp']).map((s) => s.urls), ['turn:meet.example.org:443?transport=tcp']);
  assert.deepEqual(toIceServers(services, ['tls', 'udp']).map((s) => s.urls),
    ['turn:meet.example.org:443?transport=udp', 'turns:[2001:db8::1]:443?transport=tcp']);
});

test('credentials are fetched again before they expire, never in a tight loop', () => {
  const services = parseServices(parse(SERVICES));
  const now = Date.parse(EXPIRES) - 10 * 3600_000;
  assert.equal(refreshDelay(services, now), 8 * 3600_000);
  assert.equal(refreshDelay(services, Date.parse(EXPIRES) - 1000), 60_000);
  assert.equal(refreshDelay(services.slice(0, 1), now), null);
});

test('fetchServices asks the domain and reads its answer; an error rejects', async () => {
  const server = new FakeServer();
  const client = new XmppClient({ url: 'ws://test', domain: 'localhost', WebSocket: server.WebSocket, clock: new FakeClock(), pingIntervalMs: 0 });
  await client.connect();
  let answer = 'result';
  const asked = [];
  server.onStanza = (el, ws) => {
    if (el.name !== 'iq') return;
    asked.push(el);
    ws.deliver(answer === 'result'
      ? `<iq xmlns="jabber:client" type="result" id="${el.attrs.id}" from="localhost">${SERVICES}</iq>`
      : `<iq xmlns="jabber:client" type="error" id="${el.attrs.id}" from="localhost"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`);
  };
  const services = await fetchServices(client);
  assert.equal(services.length, 4);
  assert.equal(asked[0].attrs.to, 'localhost');
  assert.equal(asked[0].attrs.type, 'get');
  assert.equal(children(asked[0], 'services', 'urn:xmpp:extdisco:2').length, 1);
  answer = 'error';
  await assert.rejects(fetchServices(client), /service-unavailable/);
});

test('STUN and TURN over UDP on the media server\'s own port are left out of its connection; TCP and TLS stay', () => {
  const offer = ['v=0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'a=candidate:1 1 udp 2130706431 203.0.113.7 443 typ host',
    'a=candidate:2 1 tcp 1671430143 203.0.113.7 443 typ host tcptype passive', ''].join('\r\n');
  const cred = { username: 'u', credential: 'p' };
  const servers = [
    { urls: 'stun:203.0.113.7:443' },
    { urls: 'turn:meet.example.org:443?transport=udp', ...cred },
    { urls: ['turn:203.0.113.7:443?transport=udp', 'turn:203.0.113.7:443?transport=tcp'], ...cred },
    { urls: 'turns:meet.example.org:443?transport=tcp', ...cred },
    { urls: 'turn:198.51.100.1:443?transport=udp', ...cred }, // another address: another relay
    { urls: 'stun:meet.example.org:3478' }, // another port
  ];
  assert.deepEqual(apartFromMedia(servers, offer), [
    { urls: 'turn:203.0.113.7:443?transport=tcp', ...cred },
    { urls: 'turns:meet.example.org:443?transport=tcp', ...cred },
    { urls: 'turn:198.51.100.1:443?transport=udp', ...cred },
    { urls: 'stun:meet.example.org:3478' },
  ]);
  // No candidate in the offer (all trickled later): nothing to compare, all kept.
  assert.deepEqual(apartFromMedia(servers, 'v=0\r\n'), servers);
});
