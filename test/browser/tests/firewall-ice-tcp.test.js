// Issue 4, "UDP blocked between client and server: a call works over ICE-TCP
// on the one port". A Chromium and a Firefox participant, each in a network
// namespace of its own (lib/netns.js), reach parley over HTTPS at a
// non-loopback address; every UDP packet between either namespace and the
// server is blackholed before they open the page.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openWorld } from '../lib/netns.js';
import { join, mesh, waitForMedia, stalledOver, closeAll, diagnose, selectedPair, waitUntil } from '../lib/browsers.js';

const world = await openWorld({ clients: 2 });
const { parley } = world;
const people = [];
after(async () => {
  await closeAll(people);
  await world.close();
});

test('UDP blocked: Chromium and Firefox call over ICE-TCP on the one port', async () => {
  for (const c of world.clients) c.block('udp');
  const [nsCr, nsFf] = world.clients;
  // The web client also gets TURN servers over XEP-0215, and a browser may
  // then pick TURN/TCP instead (seen with Chromium). ?turn=udp leaves only
  // TURN over UDP, which the firewall stops: ICE-TCP is the one way left.
  const opts = { insecureCerts: true, query: 'turn=udp' };
  people.push(await join(parley.base, 'tcponly', 'cr', 'chromium', { ...opts, netns: nsCr }));
  people.push(await join(parley.base, 'tcponly', 'ff', 'firefox', { ...opts, netns: nsFf }));
  const expected = mesh(['cr', 'ff']);
  const firstFrame = await waitForMedia(people, expected, 90_000).catch(async (e) => {
    throw new Error(`${e.message}\nparley log:\n${parley.logTail()}`);
  });
  const bad = await stalledOver(people, expected, 2000);
  assert.deepEqual(bad, [], `media stalled:\n${bad.join('\n')}\n${await diagnose(people)}`);

  for (const p of people) {
    const pair = await waitUntil(() => selectedPair(p), 10_000, () => `${p.name} has no selected candidate pair`);
    assert.equal(pair.localProtocol, 'tcp', `${p.name}'s selected pair: ${JSON.stringify(pair)}`);
    assert.equal(pair.remoteProtocol, 'tcp', `${p.name}'s selected pair: ${JSON.stringify(pair)}`);
    assert.equal(pair.remoteAddress, parley.host, `${p.name}'s selected pair: ${JSON.stringify(pair)}`);
    assert.equal(pair.remotePort, parley.port, `${p.name} is not on the one port: ${JSON.stringify(pair)}`);
  }
  console.log(JSON.stringify({ measure: 'join-to-first-frame-ms', scenario: 'UDP blocked, ICE-TCP, chromium + firefox in namespaces', values: Object.fromEntries(firstFrame) }));
});
