// Simulcast from both engines: the SFU's offer asks for three camera layers
// by rid (docs/SIGNALLING.md), and Chromium and Firefox, as answerers, send
// at least two of them (the fake camera is 640x360: browsers drop layers a
// small picture cannot fill, and the SFU pauses the ones nobody watches).
// getStats() shows an outbound-rtp per rid with framesEncoded growing; the
// other participant still decodes the video.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley, sleep } from '../lib/parley.js';
import { join, mesh, waitForMedia, closeAll, diagnose, stalledOver } from '../lib/browsers.js';

const parley = await startParley({ args: ['--simulcast'] });
const people = [];
after(async () => {
  await closeAll(people);
  await parley.stop();
});

/**
 * layersSent reads the page's outbound video by rid: frames encoded, and
 * the frame size.
 * @param {import('../lib/browsers.js').Participant} p
 * @returns {Promise<Record<string, {frames: number, width: number, height: number}>>}
 */
async function layersSent(p) {
  return p.page.evaluate(async () => {
    const pc = /** @type {any} */ (window).parley?.pc;
    const out = {};
    if (!pc) return out;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid) {
        out[s.rid] = { frames: s.framesEncoded ?? 0, width: s.frameWidth ?? 0, height: s.frameHeight ?? 0, limit: s.qualityLimitationReason, target: s.targetBitrate };
      }
    });
    return out;
  });
}

test('Chromium and Firefox each send at least two simulcast layers, and still see each other', async () => {
  people.push(await join(parley.base, 'layers', 'cr', 'chromium'));
  people.push(await join(parley.base, 'layers', 'ff', 'firefox'));
  const expected = mesh(['cr', 'ff']);
  await waitForMedia(people, expected, 90_000);
  // Each shows the other in a 180-pixel tile, as a grid of small tiles
  // does: the SFU forwards the half layer, and keeps the lowest one (the
  // top layer, watched by nobody, is paused).
  for (const p of people) {
    await p.page.evaluate(() => {
      const call = /** @type {any} */ (window).parley.call;
      const heights = {};
      for (const part of call.participants.values()) {
        for (const t of part.tracks.values()) if (t.source === 'camera') heights[t.trackId] = 180;
      }
      call.setReceiveVideo({ heights });
    });
  }
  // A browser turns its upper layers on as its bandwidth estimate grows
  // (Firefox starts with the lowest alone): wait for two, within a bound.
  for (const p of people) {
    let a = await layersSent(p);
    let b = a;
    let growing = [];
    const end = performance.now() + 45_000;
    while (growing.length < 2 && performance.now() < end) {
      await sleep(2000);
      b = await layersSent(p);
      growing = Object.keys(b).filter((rid) => b[rid].frames > (a[rid]?.frames ?? 0));
      a = b;
    }
    console.log(JSON.stringify({ measure: 'simulcast-layers', browser: p.kind, layers: b }));
    assert.ok(growing.length >= 2, `${p.name} (${p.kind}) encodes ${growing.length} layer(s): ${JSON.stringify(b)}\n${await diagnose([p])}`);
    assert.ok(growing.every((rid) => ['q', 'h', 'f'].includes(rid)), `unexpected rids ${growing}`);
  }
  const bad = await stalledOver(people, expected, 2000);
  assert.deepEqual(bad, [], `media stalled:\n${bad.join('\n')}\n${await diagnose(people)}`);
});
