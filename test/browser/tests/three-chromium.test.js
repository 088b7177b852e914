// Scenario (a): three Chromium participants see and hear each other.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley, sleep } from '../lib/parley.js';
import { join, mesh, waitForMedia, sampleAll, stalled, closeAll, diagnose } from '../lib/browsers.js';

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
  console.log(JSON.stringify({ measure: 'join-to-first-frame-ms', scenario: '3 chromium', values: Object.fromEntries(firstFrame), lastJoiner: firstFrame.get('cat') }));
});
