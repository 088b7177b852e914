// Issue 13, "per subscriber, the SFU picks each forwarded layer from ...
// the largest size at which the subscriber shows that video (the client
// reports its tile sizes)". Three simulcast publishers (Chromium, Firefox,
// Chromium); each page reports its tiles' heights on its own (no test
// hook sets them). In speaker view the large tile gets the top layer (360
// lines) and the filmstrip's small tiles the lowest (180); pinning the
// other one swaps them. In tile view, a small window makes every tile
// small and every video steps down; a large one brings the top layer back.
// Chromium and Firefox each view.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley } from '../lib/parley.js';
import { join, mesh, waitForMedia, closeAll, diagnose, sample, waitUntil } from '../lib/browsers.js';

const parley = await startParley();
const people = [];
after(async () => {
  await closeAll(people);
  await parley.stop();
});

/**
 * decoded is the frame height p decodes of each other's camera now.
 * @param {import('../lib/browsers.js').Participant} p
 */
async function decoded(p) {
  const s = await sample(p);
  return Object.fromEntries(Object.entries(s).map(([nick, c]) => [nick, /** @type {any} */ (c.videoDetail)?.h ?? 0]));
}

/**
 * asked is what p last asked of its videos (the library's receive-video
 * state), for failure messages.
 * @param {import('../lib/browsers.js').Participant} p
 */
async function asked(p) {
  return p.page.evaluate(() => JSON.stringify(/** @type {any} */ (window).parley?.call?.conference?.receiveVideo ?? null));
}

/**
 * pinOnly makes p's speaker view show nick large (the tile's pin button).
 * @param {import('../lib/browsers.js').Participant} p
 * @param {string} nick
 */
async function pinOnly(p, nick) {
  const pressed = await p.page.evaluate(async (n) => {
    const button = document.querySelector(`.tile[data-nick="${n}"] .pin`);
    if (!button) return null;
    if (button.getAttribute('aria-pressed') !== 'true') button.click();
    await new Promise((r) => setTimeout(r, 50));
    return button.getAttribute('aria-pressed');
  }, nick);
  assert.equal(pressed, 'true', `${p.name} could not pin ${nick}`);
}

test('the large tile gets the top layer and the small ones the lowest, from the heights the page reports', async () => {
  for (const [name, kind] of [['cr', 'chromium'], ['ff', 'firefox'], ['cx', 'chromium']]) {
    people.push(await join(parley.base, 'tiles', name, /** @type {'chromium'|'firefox'} */ (kind)));
  }
  await waitForMedia(people, mesh(['cr', 'ff', 'cx']), 90_000);
  const [cr, ff] = people;
  for (const p of [cr, ff]) {
    await p.page.keyboard.press('l');
    await p.page.waitForFunction(() => document.getElementById('grid')?.classList.contains('speaker-view'), { timeout: 10_000 });
  }
  // Each viewer pins one publisher, then the other: the pinned one fills
  // the large tile (top layer), the other sits in the filmstrip (lowest).
  for (const [viewer, order] of /** @type {const} */ ([[cr, ['ff', 'cx']], [ff, ['cr', 'cx']]])) {
    for (const [large, small] of [order, [order[1], order[0]]]) {
      await pinOnly(viewer, large);
      const sizes = await viewer.page.evaluate((l, s) => ({
        large: document.querySelector(`.tile[data-nick="${l}"]`)?.clientHeight,
        small: document.querySelector(`.tile[data-nick="${s}"]`)?.clientHeight,
      }), large, small);
      let got = {};
      await waitUntil(async () => {
        got = await decoded(viewer);
        return got[large] === 360 && got[small] === 180;
      }, 30_000, async () => `${viewer.name} (${viewer.kind}) decodes ${JSON.stringify(got)} with ${large} large and ${small} small `
        + `(tiles ${JSON.stringify(sizes)} px); want ${large} at 360 lines and ${small} at 180; asked ${await asked(viewer)}\n${await diagnose(people)}`);
      console.log(JSON.stringify({ measure: 'tile-layers', viewer: viewer.kind, large, small, tiles: sizes, decoded: got }));
    }
  }
  // Back in tile view, a window made small makes every tile small: both
  // videos step down to 180 lines (from 360 for one at least) (the page reports the new heights on
  // its own, from a ResizeObserver), and back up when it grows again. A
  // page that reported nothing would keep the top layer whatever its size.
  for (const viewer of [cr, ff]) {
    await viewer.page.keyboard.press('l');
    await viewer.page.waitForFunction(() => !document.getElementById('grid')?.classList.contains('speaker-view'), { timeout: 10_000 });
    const others = ['cr', 'ff', 'cx'].filter((n) => n !== viewer.name);
    for (const [width, height, lines] of [[1280, 900, 360], [480, 360, 180], [1280, 900, 360]]) {
      await viewer.page.setViewport({ width, height });
      let got = {};
      await waitUntil(async () => {
        got = await decoded(viewer);
        // Large: the top layer, for one at least (a loaded publisher may
        // pause its own top layer for a while); small: the lowest for all.
        return lines === 180 ? others.every((n) => got[n] === 180) : others.some((n) => got[n] === 360);
      }, 30_000, async () => `${viewer.name} (${viewer.kind}) in a ${width}x${height} window decodes ${JSON.stringify(got)}, want ${lines === 180 ? 'both at 180 lines' : 'one at 360 lines at least'}; `
        + `tiles ${await viewer.page.evaluate(() => JSON.stringify([...document.querySelectorAll('#grid .tile')].map((t) => [/** @type {HTMLElement} */ (t).dataset.nick, t.clientWidth, t.clientHeight])))}, `
        + `dpr ${await viewer.page.evaluate(() => window.devicePixelRatio)}, asked ${await asked(viewer)}`);
      const tile = await viewer.page.evaluate((n) => document.querySelector(`.tile[data-nick="${n}"]`)?.clientHeight, others[0]);
      console.log(JSON.stringify({ measure: 'tile-layers-window', viewer: viewer.kind, window: `${width}x${height}`, tile, decoded: got }));
    }
  }
});
