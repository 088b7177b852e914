// Scenario (a): three Chromium participants see and hear each other.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley, sleep } from '../lib/parley.js';
import { join, mesh, waitForMedia, sampleAll, stalled, closeAll, diagnose, selectedPair } from '../lib/browsers.js';

const parley = await startParley();
const people = [];
after(async () => {
  await closeAll(people);
  await parley.stop();
});

test('three Chromium participants receive each other\'s audio and video', async () => {
  for (const name of ['ann', 'ben', 'cat']) people.push(await join(parley.base, 'trio', name, 'chromium'));
  const names = people.map((p) => p.name);
  const expected = mesh(names);
  const firstFrame = await waitForMedia(people, expected, 60_000);
  const s1 = await sampleAll(people);
  await sleep(2000);
  const s2 = await sampleAll(people);
  const bad = stalled(s1, s2, expected);
  assert.deepEqual(bad, [], `media stalled:\n${bad.join('\n')}\n${await diagnose(people)}\nparley log:\n${parley.logTail()}`);
  // Nothing blocks UDP here: every page talks to the SFU directly over
  // UDP. (parley's TURN shares the SFU's port, and Chromium takes every
  // datagram from a TURN server's address for TURN: offered TURN over UDP
  // on that port, its direct path failed and it waited a second for
  // ICE-TCP. The web library leaves such servers out: apartFromMedia.)
  const routes = await Promise.all(people.map(async (p) => [p.name, await selectedPair(p)]));
  for (const [name, r] of routes) {
    assert.deepEqual([r?.localProtocol, r?.localType], ['udp', 'host'], `${name}'s media path is not direct UDP: ${JSON.stringify(routes)}`);
  }
  console.log(JSON.stringify({ measure: 'join-to-first-frame-ms', scenario: '3 chromium', values: Object.fromEntries(firstFrame), lastJoiner: firstFrame.get('cat') }));
});
