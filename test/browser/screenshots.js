// Screenshots of the web client for a person to look at (not a test, not
// run by the suite; the images are not committed): home, pre-join, tile
// view, speaker view and a screen share, at 1280×800 and 390×844, in
// Chromium and Firefox.
//
//   cd test/browser && PARLEY_BIN=/path/to/parley ip netns exec NS node screenshots.js [OUTDIR]
//
// OUTDIR defaults to /tmp/parley-screenshots. Two other participants join
// from Chromium: ana (camera on, later sharing her fake screen) and ben
// (camera off, muted, hand raised).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startParley, sleep } from './lib/parley.js';
import { launch, join, waitUntil, closeAll } from './lib/browsers.js';

const out = process.argv[2] ?? '/tmp/parley-screenshots';
mkdirSync(out, { recursive: true });
const parley = await startParley();
const room = 'design-review';
const others = [];
try {
  const ana = await join(parley.base, room, 'Ana Lima', 'chromium');
  const ben = await join(parley.base, room, 'Ben Okafor', 'chromium');
  others.push(ana, ben);
  for (const p of others) await waitUntil(() => p.page.evaluate(() => window.parley?.status.phase === 'in-call'), 30_000, () => `${p.name} did not join`);
  await ben.page.click('#toggle-camera');
  await ben.page.click('#toggle-mic');
  await ben.page.click('#toggle-hand');
  await ana.page.click('#toggle-chat');
  await ana.page.type('#chat-input', 'Slides are at https://example.org/deck — comments welcome!');
  await ana.page.keyboard.press('Enter');

  for (const kind of ['chromium', 'firefox']) {
    const browser = await launch(kind);
    try {
      for (const [width, height] of [[1280, 800], [390, 844]]) {
        const page = await browser.newPage();
        await page.setViewport({ width, height });
        const shot = async (name) => {
          await sleep(800);
          const file = path.join(out, `${kind}-${width}x${height}-${name}.png`);
          await page.screenshot({ path: file });
          console.log(file);
        };
        await page.goto(`${parley.base}/`);
        await waitUntil(() => page.evaluate(() => document.getElementById('home-start').textContent !== ''), 10_000, () => 'home');
        await shot('1-home');
        await page.goto(`${parley.base}/${room}`);
        await waitUntil(() => page.$eval('#preview-video', (v) => v.videoWidth > 0), 20_000, () => 'preview');
        await page.$eval('#prejoin-name', (e) => { e.value = ''; });
        await page.type('#prejoin-name', 'Chloé Martin');
        await shot('2-prejoin');
        await page.click('#prejoin-join');
        await waitUntil(() => page.evaluate(() => [...document.querySelectorAll('.tile:not(.self) video')].some((v) => v.videoWidth > 0)), 30_000, () => 'remote video');
        await shot('3-tiles');
        await page.click('#layout-toggle');
        await shot('4-speaker');
        await ana.page.click('#toggle-share');
        await waitUntil(() => page.evaluate(() => document.querySelector('.tile.main.screen video')?.videoWidth > 0), 30_000, () => 'screen share');
        await shot('5-screen-share');
        await page.click('#toggle-people');
        await shot('6-people');
        await page.click('#toggle-chat');
        await shot('7-chat');
        await ana.page.click('#toggle-share');
        await page.click('#leave');
        await waitUntil(() => page.evaluate(() => !document.getElementById('left').hidden), 10_000, () => 'left');
        await page.close();
      }
    } finally {
      await browser.close();
    }
  }
} finally {
  await closeAll(others);
  await parley.stop();
}
