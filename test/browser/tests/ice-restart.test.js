// ICE restart in real browsers: a Chromium and a Firefox in a call each
// ask for an ICE restart (what the page does when its network changes or
// its connection fails); the focus answers with transport-replace, the
// browser with transport-accept, and media flows both ways again in the
// same session, without a new peer connection or a reload.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley, sleep } from '../lib/parley.js';
import { join, mesh, waitForMedia, stalledOver, closeAll, diagnose, waitUntil } from '../lib/browsers.js';

const parley = await startParley();
const people = [];
after(async () => {
  await closeAll(people);
  await parley.stop();
});

/** restartState reads what the page knows of its session. */
const restartState = (p) => p.page.evaluate(() => {
  const conf = window.parley.call.conference;
  const sdp = conf.pc?.remoteDescription?.sdp ?? '';
  return { restarts: conf.restarts, sid: conf.sid, pc: conf.pc === window.__pcBefore, ufrag: /a=ice-ufrag:(\S+)/.exec(sdp)?.[1] ?? '' };
});

test('a Chromium and a Firefox restart ICE in turn and keep receiving each other', async () => {
  for (const [name, kind] of [['cr', 'chromium'], ['ff', 'firefox']]) {
    people.push(await join(parley.base, 'restart', name, kind));
  }
  const expected = mesh(people.map((p) => p.name));
  await waitForMedia(people, expected, 90_000);
  for (const p of people) await p.page.evaluate(() => { window.__pcBefore = window.parley.call.conference.pc; window.__noReload = 1; });

  for (const p of people) {
    const before = await restartState(p);
    await p.page.evaluate(() => window.parley.call.restartIce('test'));
    await waitUntil(async () => (await restartState(p)).restarts === before.restarts + 1, 20_000,
      async () => `${p.name} never applied a transport-replace: ${JSON.stringify(await restartState(p))}\n${await diagnose(people)}`);
    const now = await restartState(p);
    assert.equal(now.sid, before.sid, `${p.name}: the restart changed the session`);
    assert.ok(now.pc, `${p.name}: the restart made a new peer connection`);
    assert.notEqual(now.ufrag, before.ufrag, `${p.name}: the SFU's ICE credentials did not change`);
    // Media flows in the restarted ICE session: counters grow over 2 s,
    // measured from a second after the restart was applied.
    await sleep(1000);
    const bad = await stalledOver(people, expected, 2000);
    assert.deepEqual(bad, [], `after ${p.name}'s restart, media stalled:\n${bad.join('\n')}\n${await diagnose(people)}`);
  }
  const marks = await Promise.all(people.map((p) => p.page.evaluate(() => window.__noReload)));
  assert.deepEqual(marks, [1, 1], 'a page reloaded');
});
