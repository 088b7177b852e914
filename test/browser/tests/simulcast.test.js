// Simulcast from both engines: the SFU's offer asks for three camera layers
// by rid (docs/SIGNALLING.md), and Chromium and Firefox, as answerers, send
// at least two of them: the fake camera is 640x360, for which libwebrtc
// encodes two layers (the client sends them as 320x180 and 640x360 and
// turns the third off). getStats() of the camera's sender shows an
// outbound-rtp per rid with framesEncoded growing; the other participant
// still decodes the video, in the layer its tile asks for. The settings'
// "video quality you send" set to low leaves the 180-line layer alone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley, sleep } from '../lib/parley.js';
import { join, mesh, waitForMedia, closeAll, diagnose, stalledOver, waitUntil } from '../lib/browsers.js';

const parley = await startParley();
const people = [];
after(async () => {
  await closeAll(people);
  await parley.stop();
});

/**
 * layersSent reads what the page's camera sender sends, by rid: frames
 * encoded and the frame size. The camera's own sender only: the screen's
 * m-line has rids too, with nothing encoded until a share starts.
 * @param {import('../lib/browsers.js').Participant} p
 * @returns {Promise<Record<string, {frames: number, width: number, height: number}>>}
 */
async function layersSent(p) {
  return p.page.evaluate(async () => {
    const pc = /** @type {any} */ (window).parley?.pc;
    const out = {};
    const cam = pc?.getTransceivers().find((t) => t.sender.track?.kind === 'video');
    if (!cam) return out;
    (await cam.sender.getStats()).forEach((s) => {
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
  // does: the SFU forwards the layer that fills it, 320x180.
  await setHeights(180);
  // A browser turns its upper layers on as its bandwidth estimate grows:
  // wait for two, within a bound.
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
  // The 180-pixel tile gets the 180-line layer; a 720-pixel one the top.
  await waitHeights(180);
  await setHeights(720);
  await waitHeights(360);
  const still = await stalledOver(people, expected, 2000);
  assert.deepEqual(still, [], `media stalled after the switch up:\n${still.join('\n')}\n${await diagnose(people)}`);

  // "Video quality you send: Low" in the settings: each browser then
  // encodes its 180-line layer alone, and the other decodes it in the big
  // tile; back to High, the top layer comes back.
  const sendQuality = async (q) => {
    for (const p of people) {
      await p.page.click('#open-settings');
      await p.page.waitForFunction(() => /** @type {HTMLDialogElement} */ (document.getElementById('settings')).open, { timeout: 10_000 });
      await p.page.select('#settings-send-quality', q);
      await p.page.evaluate(() => /** @type {HTMLDialogElement} */ (document.getElementById('settings')).close());
    }
  };
  const growingRids = async (p) => {
    const a = await layersSent(p);
    await sleep(2000);
    const b = await layersSent(p);
    return Object.keys(b).filter((rid) => b[rid].frames > (a[rid]?.frames ?? 0)).sort();
  };
  await sendQuality('low');
  for (const p of people) {
    let rids = [];
    await waitUntil(async () => (rids = await growingRids(p)).join() === 'q', 30_000, () => `${p.name} (${p.kind}) with send quality low encodes ${rids}`);
  }
  await waitHeights(180);
  assert.equal(await people[0].page.evaluate(() => localStorage.getItem('parley.sendQuality')), 'low');
  await sendQuality('high');
  await waitHeights(360);
});

/**
 * setHeights makes every page show every camera in a tile this tall.
 * @param {number} h
 */
async function setHeights(h) {
  for (const p of people) {
    await p.page.evaluate((h) => {
      const call = /** @type {any} */ (window).parley.call;
      const heights = {};
      for (const part of call.participants.values()) {
        for (const t of part.tracks.values()) if (t.source === 'camera') heights[t.trackId] = h;
      }
      call.setReceiveVideo({ heights });
    }, h);
  }
}

/**
 * waitHeights waits until every page decodes the other's camera at h lines.
 * @param {number} h
 */
async function waitHeights(h) {
  let got = [];
  await waitUntil(async () => {
    got = await Promise.all(people.map((p) => p.page.evaluate(async () => {
      const pc = /** @type {any} */ (window).parley.pc;
      let height = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && s.frameHeight) height = s.frameHeight;
      });
      return height;
    })));
    return got.every((x) => x === h);
  }, 20_000, () => `decoded heights ${JSON.stringify(got)}, want ${h} everywhere`);
}
