// Issue 4, "a client forced to relay (iceTransportPolicy 'relay') with only
// TURN over TCP or TLS on the one port: the call works". A Chromium and a
// Firefox participant, each in a network namespace of its own
// (lib/netns.js), with every UDP packet to and from the server dropped,
// open the room with ?ice=relay&turn=tcp, then (new browsers, new room)
// with ?ice=relay&turn=tls. The web client gets the TURN servers and
// credentials over XEP-0215; parley's certificate is the test's own for the
// server address (its only trust is the browsers' "accept insecure
// certificates"), which is also what makes parley offer turns:.
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
for (const c of world.clients) c.block('udp');

for (const transport of ['tcp', 'tls']) {
  test(`relay only, TURN over ${transport.toUpperCase()} on the one port: Chromium and Firefox call`, async () => {
    await closeAll(people.splice(0));
    const room = `relay-${transport}`;
    const opts = { insecureCerts: true, query: `ice=relay&turn=${transport}` };
    people.push(await join(parley.base, room, 'cr', 'chromium', { ...opts, netns: world.clients[0] }));
    people.push(await join(parley.base, room, 'ff', 'firefox', { ...opts, netns: world.clients[1] }));
    const expected = mesh(['cr', 'ff']);
    const firstFrame = await waitForMedia(people, expected, 90_000).catch(async (e) => {
      throw new Error(`${e.message}\nparley log:\n${parley.logTail(30)}`);
    });
    const bad = await stalledOver(people, expected, 2000);
    assert.deepEqual(bad, [], `media stalled:\n${bad.join('\n')}\n${await diagnose(people)}`);
    for (const p of people) {
      const pair = await waitUntil(() => selectedPair(p), 10_000, () => `${p.name} has no selected candidate pair`);
      assert.equal(pair.localType, 'relay', `${p.name}'s selected pair: ${JSON.stringify(pair)}`);
      assert.equal(pair.relayProtocol, transport, `${p.name}'s selected pair: ${JSON.stringify(pair)}`);
    }
    console.log(JSON.stringify({ measure: 'join-to-first-frame-ms', scenario: `UDP blocked, relay only over TURN/${transport.toUpperCase()}, chromium + firefox in namespaces`, values: Object.fromEntries(firstFrame) }));
  });
}
