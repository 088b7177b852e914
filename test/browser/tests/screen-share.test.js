// Screen sharing through the protocol library (web/static/lib/call.js):
// a Chromium and a Firefox participant each share a "screen" (a canvas
// track, drawn continuously; getDisplayMedia needs a person to pick) as a
// second video beside the camera. The other decodes it as a track whose
// source is 'screen', while the sharer's camera goes on; stopping takes
// the track away.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley, sleep } from '../lib/parley.js';
import { join, mesh, waitForMedia, closeAll, diagnose, waitUntil } from '../lib/browsers.js';

const parley = await startParley();
const people = [];
after(async () => {
  await closeAll(people);
  await parley.stop();
});

/**
 * startSharing makes a canvas track in the page and shares it.
 * @param {import('../lib/browsers.js').Participant} p
 */
async function startSharing(p) {
  await p.page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const canvas = document.createElement('canvas');
    canvas.width = 1280;
    canvas.height = 720;
    const ctx = canvas.getContext('2d');
    let n = 0;
    w.__screenTimer = setInterval(() => {
      ctx.fillStyle = `hsl(${(n * 7) % 360} 60% 50%)`;
      ctx.fillRect(0, 0, 1280, 720);
      ctx.fillStyle = '#fff';
      ctx.font = '64px sans-serif';
      ctx.fillText(`slide ${n++}`, 100, 200);
    }, 100);
    const track = canvas.captureStream(10).getVideoTracks()[0];
    w.__screen = track;
    await w.parley.call.shareScreen(track);
  });
}

/**
 * screenFrames reads, in p's page, framesDecoded of from's screen track,
 * and of from's camera, or null for a track p does not have.
 * @param {import('../lib/browsers.js').Participant} p
 * @param {string} from
 */
async function framesFrom(p, from) {
  return p.page.evaluate(async (nick) => {
    const part = /** @type {any} */ (window).parley.call.participants.get(nick);
    const out = { screen: /** @type {number|null} */ (null), camera: /** @type {number|null} */ (null) };
    if (!part) return out;
    for (const t of part.tracks.values()) {
      if (t.kind !== 'video') continue;
      let frames = 0;
      (await t.receiver.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp') frames += s.framesDecoded ?? 0;
      });
      out[t.source] = frames;
    }
    return out;
  }, from);
}

/**
 * decodesScreen waits until rx decodes tx's screen and camera, both growing.
 * @param {import('../lib/browsers.js').Participant} rx
 * @param {import('../lib/browsers.js').Participant} tx
 */
async function decodesScreen(rx, tx) {
  let a = await framesFrom(rx, tx.name);
  await waitUntil(async () => {
    await sleep(1000);
    const b = await framesFrom(rx, tx.name);
    const ok = a.screen !== null && b.screen !== null && b.screen > a.screen && b.camera !== null && a.camera !== null && b.camera > a.camera;
    a = b;
    return ok;
  }, 45_000, async () => `${rx.name} does not decode ${tx.name}'s screen and camera: ${JSON.stringify(a)}\n${await diagnose([rx, tx])}`);
}

for (const [sharer, viewer] of [['cr', 'ff'], ['ff', 'cr']]) {
  test(`a screen shared from ${sharer === 'cr' ? 'Chromium' : 'Firefox'} is decoded by the other as a second video`, async () => {
    if (people.length === 0) {
      people.push(await join(parley.base, 'screens', 'cr', 'chromium'));
      people.push(await join(parley.base, 'screens', 'ff', 'firefox'));
      await waitForMedia(people, mesh(['cr', 'ff']), 90_000);
    }
    const tx = people.find((p) => p.name === sharer);
    const rx = people.find((p) => p.name === viewer);
    await startSharing(tx);
    await decodesScreen(rx, tx);
    const sources = await rx.page.evaluate((nick) =>
      [.../** @type {any} */ (window).parley.call.participants.get(nick).tracks.values()].map((t) => t.source).sort(), sharer);
    assert.deepEqual(sources, ['audio', 'camera', 'screen']);

    await tx.page.evaluate(async () => {
      const w = /** @type {any} */ (window);
      await w.parley.call.stopScreenShare();
      clearInterval(w.__screenTimer);
      w.__screen.stop();
    });
    await waitUntil(async () => (await framesFrom(rx, sharer)).screen === null, 20_000,
      async () => `${viewer} still has ${sharer}'s screen: ${await diagnose([rx])}`);
    const cam = await framesFrom(rx, sharer);
    await sleep(1000);
    assert.ok((await framesFrom(rx, sharer)).camera > cam.camera, `${viewer} lost ${sharer}'s camera with the screen`);
  });
}
